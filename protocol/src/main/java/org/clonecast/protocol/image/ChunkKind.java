package org.clonecast.protocol.image;

/**
 * How one chunk's logical bytes are stored. The code is its byte in the manifest (the low seven
 * bits of it in version 2, whose high bit marks a partially used chunk).
 *
 * <p>Immutable and thread-safe.
 */
public enum ChunkKind {
  /** All zeros: nothing is stored. */
  ZERO(0),
  /** One zstd frame that decompresses to the logical bytes. */
  ZSTD(1),
  /** The logical bytes as they are (zstd did not shrink them). */
  RAW(2),
  /**
   * No block of the chunk is used (free space of a filesystem): nothing is stored, sent or written;
   * its logical bytes are defined as zeros. Manifest version 2 and later.
   */
  UNUSED(3);

  private final int code;

  ChunkKind(int code) {
    this.code = code;
  }

  /** The manifest code of this kind. */
  public int code() {
    return code;
  }

  /** Whether chunks of this kind have stored bytes (and so are sent to receivers). */
  public boolean isStored() {
    return this == ZSTD || this == RAW;
  }

  /** The kind with this manifest code; an unknown code is malformed input. */
  public static ChunkKind fromCode(int code) {
    return switch (code) {
      case 0 -> ZERO;
      case 1 -> ZSTD;
      case 2 -> RAW;
      case 3 -> UNUSED;
      default ->
          throw new MalformedImageException(
              "chunk kind code " + code + " unknown (want 0, 1, 2 or 3)");
    };
  }
}

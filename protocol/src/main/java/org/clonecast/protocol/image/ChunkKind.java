package org.clonecast.protocol.image;

/**
 * How one chunk's logical bytes are stored. The code is its byte in the manifest.
 *
 * <p>Immutable and thread-safe.
 */
public enum ChunkKind {
  /** All zeros: nothing is stored. */
  ZERO(0),
  /** One zstd frame that decompresses to the logical bytes. */
  ZSTD(1),
  /** The logical bytes as they are (zstd did not shrink them). */
  RAW(2);

  private final int code;

  ChunkKind(int code) {
    this.code = code;
  }

  /** The manifest code of this kind. */
  public int code() {
    return code;
  }

  /** The kind with this manifest code; an unknown code is malformed input. */
  public static ChunkKind fromCode(int code) {
    return switch (code) {
      case 0 -> ZERO;
      case 1 -> ZSTD;
      case 2 -> RAW;
      default -> throw new MalformedImageException("chunk kind code " + code + " unknown (want 0, 1 or 2)");
    };
  }
}

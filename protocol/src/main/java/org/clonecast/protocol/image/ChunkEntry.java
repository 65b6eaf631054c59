package org.clonecast.protocol.image;

import java.util.Objects;

/**
 * One chunk of a {@link Manifest}: where its stored bytes are and the SHA-256 of its logical
 * bytes. A {@link ChunkKind#ZERO} chunk stores nothing: its offset and length are 0.
 *
 * <p>Immutable and thread-safe.
 *
 * @param index position of the chunk in the image, from 0
 * @param kind how the chunk is stored
 * @param storedOffset where the stored bytes start, in the image file (0 for ZERO)
 * @param storedLength how many bytes are stored (0 for ZERO, positive otherwise)
 * @param sha256 digest of the chunk's logical (decompressed) bytes
 */
public record ChunkEntry(int index, ChunkKind kind, long storedOffset, int storedLength, Sha256 sha256) {
  public ChunkEntry {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(sha256, "sha256");
    if (index < 0) {
      throw new IllegalArgumentException("chunk index " + index + " is negative");
    }
    if (storedOffset < 0 || storedLength < 0) {
      throw new IllegalArgumentException(
          "chunk " + index + ": stored offset " + storedOffset + " / length " + storedLength + " negative");
    }
    if (kind == ChunkKind.ZERO && (storedLength != 0 || storedOffset != 0)) {
      throw new IllegalArgumentException(
          "chunk " + index + ": ZERO chunk stores nothing, got offset " + storedOffset + " length " + storedLength);
    }
    if (kind != ChunkKind.ZERO && storedLength == 0) {
      throw new IllegalArgumentException("chunk " + index + ": " + kind + " chunk with stored length 0");
    }
    if (storedOffset > Long.MAX_VALUE - storedLength) {
      throw new IllegalArgumentException("chunk " + index + ": stored offset " + storedOffset + " overflows");
    }
  }

  /** A zero chunk (nothing stored) whose logical bytes hash to {@code sha256}. */
  public static ChunkEntry zero(int index, Sha256 sha256) {
    return new ChunkEntry(index, ChunkKind.ZERO, 0, 0, sha256);
  }

  /** The first file offset after the stored bytes. */
  public long storedEnd() {
    return storedOffset + storedLength;
  }
}

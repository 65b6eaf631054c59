package org.clonecast.protocol.image;

import java.util.Objects;

/**
 * One chunk of a {@link Manifest}: where its stored bytes are, which of its blocks are used and the
 * SHA-256 of its logical bytes. A {@link ChunkKind#ZERO} or {@link ChunkKind#UNUSED} chunk stores
 * nothing: its offset and length are 0.
 *
 * <p>The logical bytes of a chunk are the disk's bytes with its unused blocks set to zero; the
 * digest is over those, and receivers write only the used blocks. An UNUSED chunk (no block used,
 * {@link UsedBlocks#none()}) is never sent nor written; every other kind has at least one used
 * block. Whether the map fits the chunk's logical length is checked by {@link Manifest}, which
 * knows that length.
 *
 * <p>Immutable and thread-safe.
 *
 * @param index position of the chunk in the image, from 0
 * @param kind how the chunk is stored
 * @param storedOffset where the stored bytes start, in the image file (0 for ZERO and UNUSED)
 * @param storedLength how many bytes are stored (0 for ZERO and UNUSED, positive otherwise)
 * @param sha256 digest of the chunk's logical (decompressed, unused blocks zeroed) bytes
 * @param used the chunk's used blocks: {@link UsedBlocks#all()} for a chunk of a whole-disk image,
 *     {@link UsedBlocks#none()} exactly for UNUSED
 */
public record ChunkEntry(
    int index,
    ChunkKind kind,
    long storedOffset,
    int storedLength,
    Sha256 sha256,
    UsedBlocks used) {
  public ChunkEntry {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(sha256, "sha256");
    Objects.requireNonNull(used, "used");
    if (index < 0) {
      throw new IllegalArgumentException("chunk index " + index + " is negative");
    }
    if (storedOffset < 0 || storedLength < 0) {
      throw new IllegalArgumentException(
          "chunk "
              + index
              + ": stored offset "
              + storedOffset
              + " / length "
              + storedLength
              + " negative");
    }
    if (!kind.isStored() && (storedLength != 0 || storedOffset != 0)) {
      throw new IllegalArgumentException(
          "chunk "
              + index
              + ": "
              + kind
              + " chunk stores nothing, got offset "
              + storedOffset
              + " length "
              + storedLength);
    }
    if (kind.isStored() && storedLength == 0) {
      throw new IllegalArgumentException(
          "chunk " + index + ": " + kind + " chunk with stored length 0");
    }
    if (storedOffset > Long.MAX_VALUE - storedLength) {
      throw new IllegalArgumentException(
          "chunk " + index + ": stored offset " + storedOffset + " overflows");
    }
    if ((kind == ChunkKind.UNUSED) != used.isNone()) {
      throw new IllegalArgumentException(
          kind == ChunkKind.UNUSED
              ? "chunk " + index + ": UNUSED chunk with used blocks " + used
              : "chunk " + index + ": " + kind + " chunk with no used block (it is UNUSED)");
    }
  }

  /** An entry of a chunk whose blocks are all used (every chunk of a whole-disk image). */
  public ChunkEntry(int index, ChunkKind kind, long storedOffset, int storedLength, Sha256 sha256) {
    this(index, kind, storedOffset, storedLength, sha256, UsedBlocks.all());
  }

  /** A zero chunk (nothing stored) whose logical bytes hash to {@code sha256}. */
  public static ChunkEntry zero(int index, Sha256 sha256) {
    return new ChunkEntry(index, ChunkKind.ZERO, 0, 0, sha256);
  }

  /**
   * A zero chunk with only {@code used} blocks used: zeros are written there, nothing elsewhere.
   */
  public static ChunkEntry zero(int index, Sha256 sha256, UsedBlocks used) {
    return new ChunkEntry(index, ChunkKind.ZERO, 0, 0, sha256, used);
  }

  /** An UNUSED chunk; {@code zeroHash} is the digest of its logical length in zeros. */
  public static ChunkEntry unused(int index, Sha256 zeroHash) {
    return new ChunkEntry(index, ChunkKind.UNUSED, 0, 0, zeroHash, UsedBlocks.none());
  }

  /** Whether some, but not all, blocks are used: the entry carries a bitmap. */
  public boolean isPartial() {
    return used.isPartial();
  }

  /** The first file offset after the stored bytes. */
  public long storedEnd() {
    return storedOffset + storedLength;
  }
}

package org.clonecast.protocol.image;

import java.util.Arrays;
import java.util.Objects;

/**
 * Which 4 KiB blocks of one chunk hold data an image carries: the rest belong to no filesystem
 * structure or file (free space) and are neither stored, sent nor written. Bit {@code i} of the
 * bitmap (most significant bit of byte {@code i / 8} first) stands for the chunk's bytes {@code [i
 * * BLOCK, (i + 1) * BLOCK)}; the last block of a chunk may be shorter.
 *
 * <p>{@link #all()} is the common case (every block used) and carries no bitmap. A chunk whose
 * blocks are all unused is a {@link ChunkKind#UNUSED} chunk: its entry carries {@link #none()},
 * which {@link #of} never returns.
 *
 * <p>Immutable and thread-safe; the bitmap is copied in and out.
 */
public final class UsedBlocks {
  /** Bytes per block: the page size, and the block size of ext4 and xfs by default. */
  public static final int BLOCK = 4096;

  private static final UsedBlocks ALL = new UsedBlocks(null, -1);
  private static final UsedBlocks NONE = new UsedBlocks(null, 0);

  /** Null for {@link #ALL} and {@link #NONE}. */
  private final byte[] bitmap;

  private final int blocks;

  private UsedBlocks(byte[] bitmap, int blocks) {
    this.bitmap = bitmap;
    this.blocks = blocks;
  }

  /** Every block used. */
  public static UsedBlocks all() {
    return ALL;
  }

  /** No block used: the map of an {@link ChunkKind#UNUSED} chunk, and of no other. */
  public static UsedBlocks none() {
    return NONE;
  }

  /** Blocks of a chunk of {@code logicalLength} bytes. */
  public static int blockCount(int logicalLength) {
    return (int) ((logicalLength + (long) BLOCK - 1) / BLOCK);
  }

  /** Bytes of the bitmap for a chunk of {@code logicalLength} bytes. */
  public static int bitmapLength(int logicalLength) {
    return (blockCount(logicalLength) + 7) / 8;
  }

  /**
   * The map given by {@code bitmap} for {@code blocks} blocks; {@link #all()} when every bit is
   * set. Bits past {@code blocks} must be zero.
   *
   * @throws IllegalArgumentException when the bitmap has the wrong length, spare bits set, or no
   *     bit set (such a chunk is UNUSED)
   */
  public static UsedBlocks of(byte[] bitmap, int blocks) {
    Objects.requireNonNull(bitmap, "bitmap");
    if (blocks <= 0 || bitmap.length != (blocks + 7) / 8) {
      throw new IllegalArgumentException(
          "used-block bitmap of " + bitmap.length + " bytes for " + blocks + " blocks");
    }
    int spare = bitmap.length * 8 - blocks;
    if (spare > 0 && (bitmap[bitmap.length - 1] & ((1 << spare) - 1)) != 0) {
      throw new IllegalArgumentException("used-block bitmap has bits set past block " + blocks);
    }
    int set = 0;
    for (byte b : bitmap) {
      set += Integer.bitCount(b & 0xff);
    }
    if (set == 0) {
      throw new IllegalArgumentException(
          "used-block bitmap marks no block used (that chunk is UNUSED)");
    }
    return set == blocks ? ALL : new UsedBlocks(bitmap.clone(), blocks);
  }

  /** Whether every block is used (no bitmap). */
  public boolean isAll() {
    return this == ALL;
  }

  /** Whether no block is used ({@link #none()}). */
  public boolean isNone() {
    return this == NONE;
  }

  /** Whether some blocks are used and some not: only such a map has a bitmap. */
  public boolean isPartial() {
    return bitmap != null;
  }

  /**
   * Whether this map can describe a chunk of {@code logicalLength} bytes: {@link #all()} and {@link
   * #none()} fit any chunk, a bitmap only one of its own block count.
   */
  public boolean fits(int logicalLength) {
    return bitmap == null || blockCount(logicalLength) == blocks;
  }

  /** Whether block {@code i} is used. */
  public boolean used(int i) {
    if (bitmap == null) {
      return this == ALL;
    }
    Objects.checkIndex(i, blocks);
    return (bitmap[i >>> 3] & (0x80 >>> (i & 7))) != 0;
  }

  /** A copy of the bitmap; empty for {@link #all()} and {@link #none()}. */
  public byte[] bitmap() {
    return bitmap == null ? new byte[0] : bitmap.clone();
  }

  /** Used bytes of a chunk of {@code logicalLength} bytes. */
  public int usedBytes(int logicalLength) {
    int[] sum = {0};
    forEachRun(logicalLength, (off, len) -> sum[0] += len);
    return sum[0];
  }

  /** Something that takes runs of used bytes within a chunk. */
  @FunctionalInterface
  public interface RunConsumer<E extends Exception> {
    void run(int offset, int length) throws E;
  }

  /**
   * Calls {@code c} once per maximal run of used blocks, in order, with byte offsets and lengths
   * within a chunk of {@code logicalLength} bytes (the last run is cut at that length).
   */
  public <E extends Exception> void forEachRun(int logicalLength, RunConsumer<E> c) throws E {
    if (this == NONE) {
      return;
    }
    if (bitmap == null) {
      if (logicalLength > 0) {
        c.run(0, logicalLength);
      }
      return;
    }
    if (blockCount(logicalLength) != blocks) {
      throw new IllegalArgumentException(
          "map of " + blocks + " blocks for a chunk of " + logicalLength + " bytes");
    }
    int i = 0;
    while (i < blocks) {
      if (!used(i)) {
        i++;
        continue;
      }
      int start = i;
      while (i < blocks && used(i)) {
        i++;
      }
      int off = start * BLOCK;
      c.run(off, Math.min(logicalLength, i * BLOCK) - off);
    }
  }

  /** Sets the bytes of unused blocks of {@code data[off .. off + logicalLength)} to zero. */
  public void zeroUnused(byte[] data, int off, int logicalLength) {
    Objects.checkFromIndexSize(off, logicalLength, data.length);
    if (this == ALL) {
      return;
    }
    int[] at = {0};
    forEachRun(
        logicalLength,
        (o, len) -> {
          Arrays.fill(data, off + at[0], off + o, (byte) 0);
          at[0] = o + len;
        });
    Arrays.fill(data, off + at[0], off + logicalLength, (byte) 0);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof UsedBlocks other
        && blocks == other.blocks
        && Arrays.equals(bitmap, other.bitmap);
  }

  @Override
  public int hashCode() {
    return 31 * blocks + Arrays.hashCode(bitmap);
  }

  @Override
  public String toString() {
    if (bitmap == null) {
      return this == ALL ? "UsedBlocks[all]" : "UsedBlocks[none]";
    }
    return "UsedBlocks[" + cardinality() + " of " + blocks + " blocks]";
  }

  private int cardinality() {
    int n = 0;
    for (byte b : bitmap) {
      n += Integer.bitCount(b & 0xff);
    }
    return n;
  }
}

package org.clonecast.protocol.image;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Which byte ranges of a disk an image must carry: partition tables, filesystem metadata and the
 * blocks filesystems have allocated, and everything clonecast cannot read the allocation of. Bytes
 * outside every extent are free space: not stored, not sent, not written.
 *
 * <p>Extents are sorted, non-overlapping, non-adjacent (merged) and inside {@code [0, diskSize)};
 * {@link #of} normalises any list into that form. A map must only ever err on the side of carrying
 * more: a byte wrongly left out is lost on every clone.
 *
 * <p>Immutable and thread-safe.
 *
 * @param diskSize the disk's size in bytes
 * @param extents the ranges to carry, normalised
 */
public record AllocationMap(long diskSize, List<Extent> extents) {
  /**
   * One range of bytes.
   *
   * @param offset first byte
   * @param length bytes, positive
   */
  public record Extent(long offset, long length) {
    public Extent {
      if (offset < 0 || length <= 0 || offset > Long.MAX_VALUE - length) {
        throw new IllegalArgumentException("extent at " + offset + " of " + length + " bytes");
      }
    }

    /** The first byte after the extent. */
    public long end() {
      return offset + length;
    }
  }

  public AllocationMap {
    if (diskSize < 0) {
      throw new IllegalArgumentException("disk size " + diskSize + " is negative");
    }
    extents = List.copyOf(extents);
    long prevEnd = -1;
    for (Extent e : extents) {
      if (e.offset() <= prevEnd) {
        throw new IllegalArgumentException(
            "extents overlap, touch or are out of order at "
                + e.offset()
                + "; use AllocationMap.of");
      }
      if (e.end() > diskSize) {
        throw new IllegalArgumentException(
            "extent "
                + e.offset()
                + "+"
                + e.length()
                + " ends past the disk's "
                + diskSize
                + " bytes");
      }
      prevEnd = e.end();
    }
  }

  /** The whole disk: nothing is known to be free. */
  public static AllocationMap whole(long diskSize) {
    return new AllocationMap(
        diskSize, diskSize == 0 ? List.of() : List.of(new Extent(0, diskSize)));
  }

  /**
   * The map carrying the union of {@code ranges}, each cut to the disk; ranges may overlap and come
   * in any order.
   */
  public static AllocationMap of(long diskSize, List<Extent> ranges) {
    List<Extent> sorted = new ArrayList<>(ranges);
    sorted.sort(Comparator.comparingLong(Extent::offset));
    List<Extent> out = new ArrayList<>();
    long start = -1;
    long end = -1;
    for (Extent e : sorted) {
      long s = Math.min(e.offset(), diskSize);
      long t = Math.min(e.end(), diskSize);
      if (t <= s) {
        continue;
      }
      if (start >= 0 && s <= end) {
        end = Math.max(end, t);
        continue;
      }
      if (start >= 0) {
        out.add(new Extent(start, end - start));
      }
      start = s;
      end = t;
    }
    if (start >= 0) {
      out.add(new Extent(start, end - start));
    }
    return new AllocationMap(diskSize, out);
  }

  /** Bytes carried. */
  public long usedBytes() {
    long n = 0;
    for (Extent e : extents) {
      n += e.length();
    }
    return n;
  }

  /** Whether the whole disk is carried. */
  public boolean isWhole() {
    return usedBytes() == diskSize;
  }

  /**
   * The used blocks of chunk {@code index} of {@code chunkSize} bytes: a 4 KiB block (counted from
   * the chunk's start) is used when any byte of it is. Empty when none is (an UNUSED chunk).
   */
  public Optional<UsedBlocks> forChunk(int index, int chunkSize) {
    Manifest.checkChunkSize(chunkSize);
    long start = (long) index * chunkSize;
    if (index < 0 || start >= diskSize) {
      throw new IndexOutOfBoundsException(
          "chunk " + index + " of " + chunkSize + " bytes outside a disk of " + diskSize);
    }
    int len = (int) Math.min(chunkSize, diskSize - start);
    long end = start + len;
    int blocks = UsedBlocks.blockCount(len);
    byte[] bitmap = new byte[(blocks + 7) / 8];
    boolean any = false;
    for (int i = firstEndingAfter(start); i < extents.size(); i++) {
      Extent e = extents.get(i);
      if (e.offset() >= end) {
        break;
      }
      long s = Math.max(e.offset(), start) - start;
      long t = Math.min(e.end(), end) - start;
      for (long b = s / UsedBlocks.BLOCK; b * UsedBlocks.BLOCK < t; b++) {
        bitmap[(int) (b >>> 3)] |= (byte) (0x80 >>> (b & 7));
        any = true;
      }
    }
    return any ? Optional.of(UsedBlocks.of(bitmap, blocks)) : Optional.empty();
  }

  /** Index of the first extent whose end is after {@code pos} (binary search). */
  private int firstEndingAfter(long pos) {
    int lo = 0;
    int hi = extents.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (extents.get(mid).end() <= pos) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  @Override
  public String toString() {
    return "AllocationMap["
        + usedBytes()
        + " of "
        + diskSize
        + " bytes in "
        + extents.size()
        + " extents]";
  }
}

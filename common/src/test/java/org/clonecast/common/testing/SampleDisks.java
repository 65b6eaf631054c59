package org.clonecast.common.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.UsedBlocks;

/**
 * Writes files that look like disks: runs of zeros, text, random bytes, in blocks that do not line
 * up with chunks. Deterministic for a seed. Stateless and thread-safe.
 */
public final class SampleDisks {
  /** What a block holds. */
  public enum Fill {
    ZERO,
    TEXT,
    RANDOM
  }

  private static final byte[] WORDS =
      ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
              + "et dolore magna aliqua /usr/lib/x86_64-linux-gnu libc.so.6 GLIBC_2.34 ELF\n")
          .getBytes(StandardCharsets.US_ASCII);

  private SampleDisks() {}

  /** {@code size} bytes of one fill. */
  public static Path write(Path p, long size, Fill fill, long seed) throws IOException {
    return write(p, size, seed, new Fill[] {fill}, new int[] {1}, 1 << 20);
  }

  /**
   * The benchmark mix: half zeros, a quarter text, a quarter random, shuffled in blocks of {@code
   * block} bytes.
   */
  public static Path mixed(Path p, long size, long seed, int block) throws IOException {
    return write(
        p, size, seed, new Fill[] {Fill.ZERO, Fill.TEXT, Fill.RANDOM}, new int[] {2, 1, 1}, block);
  }

  /** What every 4 KiB block of free space on a {@link #withFreeSpace} disk starts with. */
  public static final byte[] GARBAGE_MARKER =
      "FREE-SPACE-GARBAGE:".getBytes(StandardCharsets.US_ASCII);

  /**
   * A disk with an allocation map.
   *
   * @param path the disk file
   * @param map what a filesystem would report used: unaligned extents, so that blocks are only
   *     partly covered
   */
  public record UsedDisk(Path path, AllocationMap map) {}

  /**
   * A disk whose free space holds garbage (each 4 KiB block {@link #GARBAGE_MARKER} and random
   * bytes, as deleted files leave) and whose used blocks hold zeros, text and random bytes; the map
   * lists unaligned extents (a block is used when any byte of it is), some chunks are wholly free,
   * some wholly used, and the last block is short when {@code size} is not a multiple of 4 KiB.
   */
  public static UsedDisk withFreeSpace(Path p, long size, long seed) throws IOException {
    Random r = new Random(seed);
    byte[] disk = new byte[Math.toIntExact(size)];
    for (int b = 0; b < disk.length; b += UsedBlocks.BLOCK) {
      int n = Math.min(UsedBlocks.BLOCK, disk.length - b);
      byte[] g = new byte[n];
      r.nextBytes(g);
      System.arraycopy(GARBAGE_MARKER, 0, g, 0, Math.min(n, GARBAGE_MARKER.length));
      System.arraycopy(g, 0, disk, b, n);
    }
    List<AllocationMap.Extent> extents = new ArrayList<>();
    long at = 0;
    while (at < size) {
      long len = 1 + (long) (r.nextDouble() * (r.nextBoolean() ? 20_000 : size / 6));
      extents.add(new AllocationMap.Extent(at, Math.min(len, size - at)));
      at += len + 1 + (long) (r.nextDouble() * (r.nextBoolean() ? 10_000 : size / 4));
    }
    extents.add(new AllocationMap.Extent(size - 1, 1)); // the short last block
    AllocationMap map = AllocationMap.of(size, extents);
    Fill[] fills = Fill.values();
    byte[] piece = new byte[UsedBlocks.BLOCK];
    for (int b = 0; b < disk.length; b += UsedBlocks.BLOCK) {
      int n = Math.min(UsedBlocks.BLOCK, disk.length - b);
      if (usedBlock(map, b)) {
        fill(piece, n, fills[r.nextInt(fills.length)], r);
        System.arraycopy(piece, 0, disk, b, n);
      }
    }
    Files.write(p, disk);
    return new UsedDisk(p, map);
  }

  /**
   * The logical bytes of {@code disk} under {@code map}: every 4 KiB block no extent touches set to
   * zero.
   */
  public static byte[] logical(byte[] disk, AllocationMap map) {
    byte[] out = disk.clone();
    for (int b = 0; b < out.length; b += UsedBlocks.BLOCK) {
      if (!usedBlock(map, b)) {
        Arrays.fill(out, b, Math.min(out.length, b + UsedBlocks.BLOCK), (byte) 0);
      }
    }
    return out;
  }

  /** Whether any extent of {@code map} touches the 4 KiB block at {@code offset}. */
  public static boolean usedBlock(AllocationMap map, long offset) {
    long end = Math.min(offset + UsedBlocks.BLOCK, map.diskSize());
    for (AllocationMap.Extent e : map.extents()) {
      if (e.offset() < end && e.end() > offset) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code haystack} contains {@code needle} anywhere. */
  public static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  private static Path write(Path p, long size, long seed, Fill[] fills, int[] weights, int block)
      throws IOException {
    Random r = new Random(seed);
    int sum = 0;
    for (int w : weights) {
      sum += w;
    }
    byte[] buf = new byte[block];
    try (OutputStream out = Files.newOutputStream(p)) {
      for (long done = 0; done < size; done += block) {
        int n = (int) Math.min(block, size - done);
        int pick = r.nextInt(sum);
        int i = 0;
        while (pick >= weights[i]) {
          pick -= weights[i++];
        }
        fill(buf, n, fills[i], r);
        out.write(buf, 0, n);
      }
    }
    return p;
  }

  private static void fill(byte[] buf, int n, Fill fill, Random r) {
    switch (fill) {
      case ZERO -> Arrays.fill(buf, 0, n, (byte) 0);
      case RANDOM -> {
        for (int i = 0; i < n; ) {
          for (int v = r.nextInt(), k = 0; k < 4 && i < n; k++, v >>= 8) {
            buf[i++] = (byte) v;
          }
        }
      }
      case TEXT -> {
        int i = 0;
        while (i < n) {
          int start = r.nextInt(WORDS.length);
          int len = Math.min(n - i, 1 + r.nextInt(WORDS.length - start));
          System.arraycopy(WORDS, start, buf, i, len);
          i += len;
        }
      }
    }
  }
}

package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.clonecast.protocol.image.AllocationMap.Extent;
import org.junit.jupiter.api.Test;

class AllocationMapTest {
  private static final int B = UsedBlocks.BLOCK;

  /**
   * Random extents (overlapping, touching, unaligned, some past the end) on a disk of a few chunks.
   */
  private static List<Extent> randomExtents(Random r, long disk) {
    List<Extent> out = new ArrayList<>();
    int n = r.nextInt(12);
    for (int i = 0; i < n; i++) {
      long off = (long) (r.nextDouble() * disk * 1.1);
      long len = 1 + (long) (r.nextDouble() * (r.nextBoolean() ? 3 * B : disk / 3 + 1));
      out.add(new Extent(off, len));
    }
    return out;
  }

  /**
   * forChunk marks every block that any byte of any extent touches, and no other; an empty result
   * exactly when no block is touched; the normalised map covers exactly the union.
   */
  @Property(tries = 300)
  void forChunkMarksExactlyTheTouchedBlocks(
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 3) int sizeShift,
      @ForAll @IntRange(min = 0, max = 200_000) int extra) {
    Random r = new Random(seed);
    int chunk = Manifest.MIN_CHUNK_SIZE << sizeShift;
    long disk = 3L * chunk + extra % (4L * chunk);
    List<Extent> raw = randomExtents(r, disk);
    AllocationMap m = AllocationMap.of(disk, raw);
    long covered = 0;
    for (long p = 0; p < disk; p++) {
      covered += inAny(raw, p) ? 1 : 0;
    }
    assertEquals(
        covered, m.usedBytes(), "the map carries exactly the union of its ranges, cut to the disk");
    assertEquals(covered == disk, m.isWhole());
    int chunks = Manifest.chunkCount(disk, chunk);
    for (int c = 0; c < chunks; c++) {
      long start = (long) c * chunk;
      int len = (int) Math.min(chunk, disk - start);
      Optional<UsedBlocks> u = m.forChunk(c, chunk);
      boolean any = false;
      for (int b = 0; b < UsedBlocks.blockCount(len); b++) {
        long bs = start + (long) b * B;
        long be = Math.min(bs + B, start + len);
        boolean touched = false;
        for (Extent e : raw) {
          touched |= e.offset() < be && e.end() > bs;
        }
        any |= touched;
        if (u.isPresent()) {
          assertEquals(touched, u.get().used(b), "chunk " + c + " block " + b);
        }
      }
      assertEquals(any, u.isPresent(), "chunk " + c);
      if (u.isPresent()) {
        assertTrue(u.get().fits(len));
      }
    }
  }

  @Test
  void ofNormalises() {
    AllocationMap m =
        AllocationMap.of(
            100,
            List.of(
                new Extent(50, 10),
                new Extent(0, 10),
                new Extent(10, 5),
                new Extent(55, 20),
                new Extent(95, 50),
                new Extent(200, 1)));
    assertEquals(List.of(new Extent(0, 15), new Extent(50, 25), new Extent(95, 5)), m.extents());
    assertEquals(45, m.usedBytes());
    assertFalse(m.isWhole());
    assertTrue(AllocationMap.whole(100).isWhole());
    assertEquals(List.of(), AllocationMap.whole(0).extents());
    assertThrows(
        IllegalArgumentException.class,
        () -> new AllocationMap(100, List.of(new Extent(0, 10), new Extent(10, 5))));
    assertThrows(
        IllegalArgumentException.class, () -> new AllocationMap(100, List.of(new Extent(90, 11))));
    assertThrows(IllegalArgumentException.class, () -> new Extent(0, 0));
    assertThrows(IllegalArgumentException.class, () -> new Extent(Long.MAX_VALUE, 2));
  }

  @Test
  void forChunkOfWholeAndEmptyMaps() {
    int cs = 1 << 20;
    long disk = 3L * cs + 100;
    AllocationMap whole = AllocationMap.whole(disk);
    for (int c = 0; c < 4; c++) {
      assertTrue(whole.forChunk(c, cs).orElseThrow().isAll());
    }
    AllocationMap empty = AllocationMap.of(disk, List.of());
    assertTrue(empty.forChunk(3, cs).isEmpty());
    assertThrows(IndexOutOfBoundsException.class, () -> whole.forChunk(4, cs));
    assertThrows(IndexOutOfBoundsException.class, () -> whole.forChunk(-1, cs));
    assertThrows(IllegalArgumentException.class, () -> whole.forChunk(0, 1000));
    // One byte in the middle of block 3 of chunk 1.
    AllocationMap one = AllocationMap.of(disk, List.of(new Extent(cs + 3L * B + 7, 1)));
    UsedBlocks u = one.forChunk(1, cs).orElseThrow();
    assertEquals(B, u.usedBytes(cs));
    assertTrue(u.used(3));
    assertTrue(one.forChunk(0, cs).isEmpty());
  }

  private static boolean inAny(List<Extent> extents, long p) {
    for (Extent e : extents) {
      if (p >= e.offset() && p < e.end()) {
        return true;
      }
    }
    return false;
  }
}

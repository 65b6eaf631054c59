package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class UsedBlocksTest {
  private static final int B = UsedBlocks.BLOCK;

  /**
   * Runs cover exactly the used blocks, in order, maximal, cut at the chunk's length; zeroUnused
   * clears exactly the rest.
   */
  @Property(tries = 300)
  void runsAndZeroingFollowTheBitmap(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 64 * 4096) int len) {
    Random r = new Random(seed);
    int blocks = UsedBlocks.blockCount(len);
    byte[] bitmap = new byte[UsedBlocks.bitmapLength(len)];
    boolean[] want = new boolean[blocks];
    int density = 1 + r.nextInt(4);
    for (int b = 0; b < blocks; b++) {
      want[b] = r.nextInt(density + 1) > 0;
      if (want[b]) {
        bitmap[b >>> 3] |= (byte) (0x80 >>> (b & 7));
      }
    }
    if (!anyOf(want)) {
      assertThrows(IllegalArgumentException.class, () -> UsedBlocks.of(bitmap, blocks));
      return;
    }
    UsedBlocks u = UsedBlocks.of(bitmap, blocks);
    assertEquals(allOf(want), u.isAll());
    assertEquals(!allOf(want), u.isPartial());
    assertTrue(u.fits(len));
    boolean[] seen = new boolean[len];
    List<int[]> runs = new ArrayList<>();
    u.forEachRun(
        len,
        (off, n) -> {
          runs.add(new int[] {off, n});
          Arrays.fill(seen, off, off + n, true);
        });
    for (int i = 1; i < runs.size(); i++) {
      int prevEnd = runs.get(i - 1)[0] + runs.get(i - 1)[1];
      assertTrue(runs.get(i)[0] > prevEnd, "runs are ordered and maximal (a gap between them)");
    }
    long used = 0;
    for (int p = 0; p < len; p++) {
      assertEquals(want[p / B], seen[p], "byte " + p);
      used += seen[p] ? 1 : 0;
      if (want[p / B]) {
        assertTrue(u.used(p / B));
      }
    }
    assertEquals(used, u.usedBytes(len));
    byte[] data = new byte[len + 2];
    Arrays.fill(data, (byte) 0x5a);
    u.zeroUnused(data, 1, len);
    assertEquals(0x5a, data[0]);
    assertEquals(0x5a, data[len + 1]);
    for (int p = 0; p < len; p++) {
      assertEquals(want[p / B] ? 0x5a : 0, data[p + 1], "byte " + p);
    }
    assertArrayEquals(u.isAll() ? new byte[0] : bitmap, u.bitmap());
    assertEquals(u, UsedBlocks.of(u.isAll() ? fullBitmap(blocks) : u.bitmap(), blocks));
  }

  @Test
  void allAndNone() {
    UsedBlocks all = UsedBlocks.all();
    UsedBlocks none = UsedBlocks.none();
    assertTrue(all.isAll());
    assertFalse(all.isNone() || all.isPartial());
    assertTrue(none.isNone());
    assertFalse(none.isAll() || none.isPartial());
    assertEquals(10000, all.usedBytes(10000));
    assertEquals(0, none.usedBytes(10000));
    assertTrue(all.used(5) && !none.used(5));
    assertTrue(all.fits(1) && none.fits(1 << 20));
    byte[] d = {1, 2, 3};
    all.zeroUnused(d, 0, 3);
    assertArrayEquals(new byte[] {1, 2, 3}, d);
    none.zeroUnused(d, 1, 2);
    assertArrayEquals(new byte[] {1, 0, 0}, d);
    assertSame(all, UsedBlocks.of(new byte[] {(byte) 0xff, (byte) 0xc0}, 10));
    assertFalse(all.equals(none));
    assertEquals("UsedBlocks[all]", all.toString());
    assertEquals("UsedBlocks[none]", none.toString());
    assertEquals(
        "UsedBlocks[2 of 10 blocks]", UsedBlocks.of(new byte[] {(byte) 0x81, 0}, 10).toString());
  }

  @Test
  void ofRejectsWhatNoChunkHas() {
    assertThrows(IllegalArgumentException.class, () -> UsedBlocks.of(new byte[2], 8));
    assertThrows(IllegalArgumentException.class, () -> UsedBlocks.of(new byte[1], 0));
    assertThrows(IllegalArgumentException.class, () -> UsedBlocks.of(new byte[] {0}, 8));
    assertThrows(IllegalArgumentException.class, () -> UsedBlocks.of(new byte[] {(byte) 0x81}, 7));
    UsedBlocks u = UsedBlocks.of(new byte[] {(byte) 0x80}, 2);
    assertFalse(u.fits(3 * B));
    assertTrue(u.fits(B + 1));
    assertThrows(IllegalArgumentException.class, () -> u.forEachRun(3 * B, (o, n) -> {}));
    assertThrows(IndexOutOfBoundsException.class, () -> u.zeroUnused(new byte[B], 0, 2 * B));
  }

  @Test
  void aShortLastBlockIsCut() {
    UsedBlocks u = UsedBlocks.of(new byte[] {(byte) 0x40}, 2);
    List<String> runs = new ArrayList<>();
    u.forEachRun(B + 100, (o, n) -> runs.add(o + "+" + n));
    assertEquals(List.of(B + "+100"), runs);
    assertEquals(100, u.usedBytes(B + 100));
  }

  private static byte[] fullBitmap(int blocks) {
    byte[] b = new byte[(blocks + 7) / 8];
    for (int i = 0; i < blocks; i++) {
      b[i >>> 3] |= (byte) (0x80 >>> (i & 7));
    }
    return b;
  }

  private static boolean anyOf(boolean[] a) {
    for (boolean x : a) {
      if (x) {
        return true;
      }
    }
    return false;
  }

  private static boolean allOf(boolean[] a) {
    for (boolean x : a) {
      if (!x) {
        return false;
      }
    }
    return true;
  }
}

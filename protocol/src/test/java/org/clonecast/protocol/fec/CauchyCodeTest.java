package org.clonecast.protocol.fec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class CauchyCodeTest {

  @Test
  void coefficientsAreInversesOf0x80XorIndexXorRow() {
    for (int r = 0; r < CauchyCode.MAX_REPAIR; r++) {
      for (int j = 0; j < CauchyCode.MAX_SOURCE; j++) {
        assertEquals(
            1,
            Gf256Test.slowMul(CauchyCode.coefficient(r, j), 0x80 ^ j ^ r),
            "c(" + r + "," + j + ")");
      }
    }
    assertThrows(IllegalArgumentException.class, () -> CauchyCode.coefficient(128, 0));
    assertThrows(IllegalArgumentException.class, () -> CauchyCode.coefficient(0, 128));
  }

  @Test
  void encodingAUnitSourceYieldsTheCoefficient() {
    int k = 5;
    for (int j = 0; j < k; j++) {
      byte[][] sources = new byte[k][1];
      sources[j][0] = 1;
      for (int r = 0; r < 128; r += 9) {
        byte[] out = new byte[3];
        CauchyCode.encode(r, sources, k, 1, out, 1);
        assertArrayEquals(new byte[] {0, (byte) CauchyCode.coefficient(r, j), 0}, out);
      }
    }
  }

  @Test
  void shortSourcesCountAsZeroPaddedAndEmptyStripesEncodeToZero() {
    Random rnd = new Random(7);
    byte[][] sources = randomBlocks(rnd, 4, 50);
    byte[][] shortened = sources.clone();
    shortened[3] = Arrays.copyOf(sources[3], 20);
    Arrays.fill(sources[3], 20, 50, (byte) 0);
    byte[] a = new byte[50];
    byte[] b = new byte[50];
    CauchyCode.encode(11, sources, 4, 50, a, 0);
    CauchyCode.encode(11, shortened, 4, 50, b, 0);
    assertArrayEquals(a, b);

    byte[] zero = new byte[50];
    Arrays.fill(a, (byte) 1);
    CauchyCode.encode(0, new byte[0][], 0, 50, a, 0);
    assertArrayEquals(zero, a);
  }

  @Test
  void multiRowEncodeEqualsSingleRows() {
    Random rnd = new Random(3);
    byte[][] sources = randomBlocks(rnd, 9, 33);
    int[] rows = {0, 127, 42};
    byte[][] outs = new byte[3][33];
    CauchyCode.encode(rows, sources, 9, 33, outs);
    for (int i = 0; i < rows.length; i++) {
      byte[] one = new byte[33];
      CauchyCode.encode(rows[i], sources, 9, 33, one, 0);
      assertArrayEquals(one, outs[i]);
    }
  }

  /**
   * Every erasure pattern for k ≤ 6 with k repair rows: each subset of the 2k symbols holding at
   * least k decodes, each other subset is rejected. Rows contiguous from 0 and spread over 0…127.
   */
  @Test
  void everyErasurePatternOfSmallStripes() {
    Random rnd = new Random(42);
    int[] spread = {127, 64, 3, 100, 17, 55};
    for (int k = 1; k <= 6; k++) {
      for (int[] rows : List.of(range(k), Arrays.copyOf(spread, k))) {
        byte[][] original = randomBlocks(rnd, k, 16);
        byte[][] repairs = encodeAll(original, k, rows, 16);
        for (int mask = 0; mask < 1 << (2 * k); mask++) {
          checkPattern(original, repairs, rows, k, mask);
        }
      }
    }
  }

  private static void checkPattern(
      byte[][] original, byte[][] repairs, int[] rows, int k, int mask) {
    boolean[] present = new boolean[k];
    byte[][] sources = new byte[k][];
    int missing = 0;
    for (int j = 0; j < k; j++) {
      present[j] = (mask & (1 << j)) != 0;
      sources[j] = present[j] ? original[j].clone() : null;
      missing += present[j] ? 0 : 1;
    }
    List<byte[]> gotRepairs = new ArrayList<>();
    List<Integer> gotRows = new ArrayList<>();
    for (int i = 0; i < rows.length; i++) {
      if ((mask & (1 << (k + i))) != 0) {
        gotRepairs.add(repairs[i]);
        gotRows.add(rows[i]);
      }
    }
    byte[][] rep = gotRepairs.toArray(new byte[0][]);
    int[] rws = gotRows.stream().mapToInt(Integer::intValue).toArray();
    if (gotRepairs.size() >= missing) {
      CauchyCode.decode(sources, present, k, rep, rws, 16);
      for (int j = 0; j < k; j++) {
        assertArrayEquals(
            original[j],
            sources[j],
            "k=" + k + " mask=" + Integer.toBinaryString(mask) + " source " + j);
      }
    } else {
      assertThrows(
          IllegalArgumentException.class,
          () -> CauchyCode.decode(sources, present, k, rep, rws, 16));
    }
  }

  @Property(tries = 300)
  void randomErasuresUpToAFullStripeDecode(
      @ForAll @IntRange(min = 1, max = 128) int k,
      @ForAll @IntRange(min = 1, max = 80) int len,
      @ForAll long seed) {
    Random rnd = new Random(seed);
    byte[][] original = randomBlocks(rnd, k, len);
    // m missing sources, m ≤ min(k, 127) so that with the 128 rows there is always a repair set
    int m = rnd.nextInt(Math.min(k, 127) + 1);
    List<Integer> order = shuffled(rnd, k);
    boolean[] present = new boolean[k];
    Arrays.fill(present, true);
    byte[][] sources = new byte[k][];
    for (int j = 0; j < k; j++) {
      sources[j] = original[j].clone();
    }
    for (int t = 0; t < m; t++) {
      int j = order.get(t);
      present[j] = false;
      sources[j] = rnd.nextBoolean() ? null : new byte[len]; // both forms of "missing"
    }
    int extra = Math.min(rnd.nextInt(3), 128 - m);
    int[] rows =
        shuffled(rnd, 128).subList(0, m + extra).stream().mapToInt(Integer::intValue).toArray();
    byte[][] repairs = encodeAll(original, k, rows, len);

    CauchyCode.decode(sources, present, k, repairs, rows, len);

    for (int j = 0; j < k; j++) {
      assertArrayEquals(original[j], sources[j], "source " + j);
    }
  }

  @Test
  void tooFewRepairsAreRejectedWithoutTouchingTheSources() {
    Random rnd = new Random(1);
    byte[][] original = randomBlocks(rnd, 10, 8);
    int[] rows = {0, 1, 2};
    byte[][] repairs = encodeAll(original, 10, rows, 8);
    byte[][] sources = new byte[10][];
    boolean[] present = new boolean[10];
    for (int j = 0; j < 6; j++) {
      sources[j] = original[j].clone();
      present[j] = true;
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CauchyCode.decode(sources, present, 10, repairs, rows, 8));
    assertEquals("not decodable: 4 sources missing, only 3 repair blocks", e.getMessage());
    for (int j = 6; j < 10; j++) {
      assertNull(sources[j]);
    }
  }

  @Test
  void repeatedRowsAndBadArgumentsAreRejected() {
    byte[][] sources = {null, new byte[4]};
    boolean[] present = {false, true};
    IllegalArgumentException dup =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CauchyCode.decode(
                    new byte[][] {null, null},
                    new boolean[2],
                    2,
                    new byte[][] {new byte[4], new byte[4]},
                    new int[] {5, 5},
                    4));
    assertTrue(dup.getMessage().contains("row 5 given twice"), dup.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> CauchyCode.decode(sources, present, 2, new byte[][] {new byte[3]}, new int[] {0}, 4));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            CauchyCode.decode(
                new byte[][] {null}, new boolean[] {true}, 1, new byte[0][], new int[0], 4));
    assertThrows(
        IllegalArgumentException.class,
        () -> CauchyCode.encode(0, new byte[129][1], 129, 1, new byte[1], 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> CauchyCode.encode(0, new byte[][] {null}, 1, 1, new byte[1], 0));
    assertThrows(
        IndexOutOfBoundsException.class,
        () -> CauchyCode.encode(0, new byte[][] {new byte[4]}, 1, 4, new byte[4], 1));
  }

  @Test
  void presentShortSourcesCountAsZeroPaddedWhenDecoding() {
    Random rnd = new Random(5);
    byte[][] original = randomBlocks(rnd, 3, 20);
    Arrays.fill(original[2], 12, 20, (byte) 0);
    int[] rows = {9};
    byte[][] repairs = encodeAll(original, 3, rows, 20);
    byte[][] sources = {null, original[1].clone(), Arrays.copyOf(original[2], 12)};
    CauchyCode.decode(sources, new boolean[] {false, true, true}, 3, repairs, rows, 20);
    assertArrayEquals(original[0], sources[0]);
  }

  static byte[][] randomBlocks(Random rnd, int k, int len) {
    byte[][] blocks = new byte[k][len];
    for (byte[] b : blocks) {
      rnd.nextBytes(b);
    }
    return blocks;
  }

  private static byte[][] encodeAll(byte[][] sources, int k, int[] rows, int len) {
    byte[][] out = new byte[rows.length][len];
    CauchyCode.encode(rows, sources, k, len, out);
    return out;
  }

  private static int[] range(int n) {
    int[] r = new int[n];
    Arrays.setAll(r, i -> i);
    return r;
  }

  private static List<Integer> shuffled(Random rnd, int n) {
    List<Integer> list = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      list.add(i);
    }
    Collections.shuffle(list, rnd);
    return list;
  }
}

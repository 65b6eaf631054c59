package org.clonecast.protocol.fec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class Gf256Test {

  /** Shift-and-add multiplication modulo 0x11D: the definition, independent of the tables. */
  static int slowMul(int a, int b) {
    int p = 0;
    while (b != 0) {
      if ((b & 1) != 0) {
        p ^= a;
      }
      a <<= 1;
      if ((a & 0x100) != 0) {
        a ^= 0x11D;
      }
      b >>= 1;
    }
    return p;
  }

  @Test
  void tableMultiplicationMatchesTheDefinitionForAllPairs() {
    for (int a = 0; a < 256; a++) {
      for (int b = 0; b < 256; b++) {
        assertEquals(slowMul(a, b), Gf256.mul(a, b), a + "*" + b);
      }
    }
  }

  @Test
  void twoGeneratesTheMultiplicativeGroupSoThePolynomialIsPrimitive() {
    Set<Integer> seen = new HashSet<>();
    for (int n = 0; n < 255; n++) {
      seen.add(Gf256.pow(2, n));
    }
    assertEquals(255, seen.size());
    assertEquals(1, Gf256.pow(2, 255));
  }

  @Property
  void multiplicationIsCommutativeAndAssociative(
      @ForAll @IntRange(max = 255) int a,
      @ForAll @IntRange(max = 255) int b,
      @ForAll @IntRange(max = 255) int c) {
    assertEquals(Gf256.mul(a, b), Gf256.mul(b, a));
    assertEquals(Gf256.mul(Gf256.mul(a, b), c), Gf256.mul(a, Gf256.mul(b, c)));
  }

  @Property
  void multiplicationDistributesOverXor(
      @ForAll @IntRange(max = 255) int a,
      @ForAll @IntRange(max = 255) int b,
      @ForAll @IntRange(max = 255) int c) {
    assertEquals(Gf256.mul(a, b ^ c), Gf256.mul(a, b) ^ Gf256.mul(a, c));
  }

  @Property
  void identityZeroInverseAndDivision(
      @ForAll @IntRange(max = 255) int a, @ForAll @IntRange(min = 1, max = 255) int b) {
    assertEquals(a, Gf256.mul(a, 1));
    assertEquals(0, Gf256.mul(a, 0));
    assertEquals(1, Gf256.mul(b, Gf256.inv(b)));
    assertEquals(a, Gf256.mul(Gf256.div(a, b), b));
    assertEquals(Gf256.inv(b), Gf256.div(1, b));
  }

  @Test
  void rejectsZeroDivisorAndOutOfRangeElements() {
    assertThrows(ArithmeticException.class, () -> Gf256.inv(0));
    assertThrows(ArithmeticException.class, () -> Gf256.div(5, 0));
    assertThrows(IllegalArgumentException.class, () -> Gf256.mul(256, 1));
    assertThrows(IllegalArgumentException.class, () -> Gf256.mul(1, -1));
    assertThrows(
        IllegalArgumentException.class, () -> Gf256.mulAdd(new byte[1], 0, new byte[1], 0, 1, 300));
    assertThrows(
        IndexOutOfBoundsException.class, () -> Gf256.mulAdd(new byte[4], 2, new byte[4], 0, 3, 7));
  }

  @Property
  void bulkOperationsMatchScalarArithmetic(
      @ForAll @IntRange(max = 255) int coef,
      @ForAll long seed,
      @ForAll @IntRange(max = 100) int len,
      @ForAll @IntRange(max = 7) int dOff,
      @ForAll @IntRange(max = 7) int sOff) {
    Random rnd = new Random(seed);
    byte[] src = new byte[sOff + len + 3];
    byte[] dst = new byte[dOff + len + 3];
    rnd.nextBytes(src);
    rnd.nextBytes(dst);

    byte[] expectAdd = dst.clone();
    byte[] expectScale = dst.clone();
    for (int i = 0; i < len; i++) {
      int product = slowMul(coef, src[sOff + i] & 0xFF);
      expectAdd[dOff + i] ^= (byte) product;
      expectScale[dOff + i] = (byte) product;
    }

    byte[] add = dst.clone();
    Gf256.mulAdd(add, dOff, src, sOff, len, coef);
    assertArrayEquals(expectAdd, add);
    byte[] scale = dst.clone();
    Gf256.scale(scale, dOff, src, sOff, len, coef);
    assertArrayEquals(expectScale, scale);

    for (boolean direct : new boolean[] {false, true}) {
      ByteBuffer d = copy(dst, direct);
      ByteBuffer s = copy(src, direct);
      Gf256.mulAdd(d, dOff, s, sOff, len, coef);
      assertArrayEquals(expectAdd, bytes(d));
      d = copy(dst, direct);
      Gf256.scale(d, dOff, s, sOff, len, coef);
      assertArrayEquals(expectScale, bytes(d));
      assertEquals(0, d.position());
    }
  }

  private static ByteBuffer copy(byte[] b, boolean direct) {
    ByteBuffer buf = direct ? ByteBuffer.allocateDirect(b.length) : ByteBuffer.allocate(b.length);
    buf.put(b).clear();
    return buf;
  }

  private static byte[] bytes(ByteBuffer buf) {
    byte[] b = new byte[buf.limit()];
    buf.duplicate().get(b);
    return b;
  }
}

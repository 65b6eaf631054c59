package org.clonecast.protocol.fec;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Arithmetic in GF(2^8) with the reduction polynomial x^8+x^4+x^3+x^2+1 (0x11D), the field of
 * udpcast's FEC (docs/ref/udpcast-protocol.md §1.10; Rizzo's fec.c, {@code GF_BITS = 8}). Addition
 * is XOR.
 *
 * <p>Elements are {@code int}s in 0..255. Multiplication uses a 64 KiB table, one 256-byte row per
 * coefficient, so the bulk loops ({@link #mulAdd}, {@link #scale}) do one lookup per byte.
 *
 * <p>Stateless (the tables are built once and never change); thread-safe.
 */
public final class Gf256 {
  /** The reduction polynomial x^8+x^4+x^3+x^2+1 including the x^8 term. */
  public static final int POLYNOMIAL = 0x11D;

  /** EXP[i] = 2^i, doubled in length so that EXP[LOG[a] + LOG[b]] needs no modulo. */
  private static final int[] EXP = new int[510];

  private static final int[] LOG = new int[256];
  private static final int[] INV = new int[256];

  /**
   * MUL[c][x] = c·x; a row per coefficient keeps the bulk loops' index within one 256-byte array.
   */
  private static final byte[][] MUL = new byte[256][256];

  static {
    int x = 1;
    for (int i = 0; i < 255; i++) {
      EXP[i] = x;
      EXP[i + 255] = x;
      LOG[x] = i;
      x <<= 1;
      if ((x & 0x100) != 0) {
        x ^= POLYNOMIAL;
      }
    }
    for (int a = 1; a < 256; a++) {
      INV[a] = EXP[255 - LOG[a]];
      for (int b = 1; b < 256; b++) {
        MUL[a][b] = (byte) EXP[LOG[a] + LOG[b]];
      }
    }
  }

  private Gf256() {}

  /**
   * @return a·b
   */
  public static int mul(int a, int b) {
    return MUL[check(a)][check(b)] & 0xFF;
  }

  /**
   * @return a^−1
   * @throws ArithmeticException if a = 0
   */
  public static int inv(int a) {
    if (check(a) == 0) {
      throw new ArithmeticException("0 has no inverse in GF(256)");
    }
    return INV[a];
  }

  /**
   * @return a/b
   * @throws ArithmeticException if b = 0
   */
  public static int div(int a, int b) {
    return mul(a, inv(b));
  }

  /**
   * @return a^n for n ≥ 0 (0^0 = 1)
   */
  public static int pow(int a, int n) {
    if (n < 0) {
      throw new IllegalArgumentException("exponent " + n + " negative");
    }
    if (n == 0) {
      return 1;
    }
    return check(a) == 0 ? 0 : EXP[(int) ((long) LOG[a] * n % 255)];
  }

  /**
   * {@code dst[dOff+i] ^= coef · src[sOff+i]} for i in [0, len): the multiply-accumulate every
   * encode and decode step is made of.
   */
  public static void mulAdd(byte[] dst, int dOff, byte[] src, int sOff, int len, int coef) {
    Objects.checkFromIndexSize(dOff, len, dst.length);
    Objects.checkFromIndexSize(sOff, len, src.length);
    if (check(coef) == 0) {
      return;
    }
    if (coef == 1) {
      for (int i = 0; i < len; i++) {
        dst[dOff + i] ^= src[sOff + i];
      }
      return;
    }
    byte[] row = MUL[coef];
    for (int i = 0; i < len; i++) {
      dst[dOff + i] ^= row[src[sOff + i] & 0xFF];
    }
  }

  /**
   * {@code dst[dOff+i] = coef · src[sOff+i]} for i in [0, len). {@code dst} and {@code src} may be
   * the same range.
   */
  public static void scale(byte[] dst, int dOff, byte[] src, int sOff, int len, int coef) {
    Objects.checkFromIndexSize(dOff, len, dst.length);
    Objects.checkFromIndexSize(sOff, len, src.length);
    byte[] row = MUL[check(coef)];
    for (int i = 0; i < len; i++) {
      dst[dOff + i] = row[src[sOff + i] & 0xFF];
    }
  }

  /**
   * {@link #mulAdd(byte[], int, byte[], int, int, int)} on buffers at absolute indices; positions
   * and limits are not changed. Heap buffers take the array path.
   */
  public static void mulAdd(ByteBuffer dst, int dOff, ByteBuffer src, int sOff, int len, int coef) {
    Objects.checkFromIndexSize(dOff, len, dst.limit());
    Objects.checkFromIndexSize(sOff, len, src.limit());
    if (dst.hasArray() && src.hasArray()) {
      mulAdd(
          dst.array(), dst.arrayOffset() + dOff, src.array(), src.arrayOffset() + sOff, len, coef);
      return;
    }
    if (check(coef) == 0) {
      return;
    }
    byte[] row = MUL[coef];
    for (int i = 0; i < len; i++) {
      dst.put(dOff + i, (byte) (dst.get(dOff + i) ^ row[src.get(sOff + i) & 0xFF]));
    }
  }

  /**
   * {@link #scale(byte[], int, byte[], int, int, int)} on buffers at absolute indices; positions
   * and limits are not changed.
   */
  public static void scale(ByteBuffer dst, int dOff, ByteBuffer src, int sOff, int len, int coef) {
    Objects.checkFromIndexSize(dOff, len, dst.limit());
    Objects.checkFromIndexSize(sOff, len, src.limit());
    if (dst.hasArray() && src.hasArray()) {
      scale(
          dst.array(), dst.arrayOffset() + dOff, src.array(), src.arrayOffset() + sOff, len, coef);
      return;
    }
    byte[] row = MUL[check(coef)];
    for (int i = 0; i < len; i++) {
      dst.put(dOff + i, row[src.get(sOff + i) & 0xFF]);
    }
  }

  private static int check(int a) {
    if ((a & ~0xFF) != 0) {
      throw new IllegalArgumentException("GF(256) element " + a + " outside 0..255");
    }
    return a;
  }
}

package org.clonecast.protocol.fec;

import java.util.Arrays;
import java.util.Objects;

/**
 * The systematic erasure code of udpcast's FEC (docs/ref/udpcast-protocol.md §1.10): a stripe of
 * {@code k ≤ 128} equal-length source blocks D<sub>0</sub>…D<sub>k−1</sub> is sent as is, followed
 * by repair blocks; repair row {@code r} (0…127) is
 *
 * <pre>R_r = Σ_j c(r,j)·D_j  over GF(2^8),   c(r,j) = (0x80 ⊕ j ⊕ r)^−1</pre>
 *
 * <p>This is a Cauchy matrix c(r,j) = 1/(x_r + y_j) with distinct x_r = r &lt; 128 and distinct y_j
 * = 0x80 ⊕ j ≥ 128, so every square submatrix is invertible: <em>any</em> k of the k + rows blocks
 * recover the stripe (MDS). The reference describes the code as "Reed–Solomon/Vandermonde" after
 * the name of Rizzo's fec.c; the matrix udpcast actually uses is this Cauchy one, which the golden
 * test reproduces byte for byte from a real capture.
 *
 * <p>Blocks shorter than the stripe length are treated as zero-padded, as udpcast does with the
 * short last block of a slice. Nothing here knows about slices or interleaving; see {@code
 * org.clonecast.protocol.udpcast.UdpcastFecLayout}.
 *
 * <p>Stateless; thread-safe for callers that do not share output arrays.
 */
public final class CauchyCode {
  /** Largest number of source blocks in a stripe. */
  public static final int MAX_SOURCE = 128;

  /** Number of distinct repair rows (0…127). */
  public static final int MAX_REPAIR = 128;

  /** udpcast's matrix as it is, for the udpcast-compatible mode. */
  public static final CauchyCode UDPCAST = new CauchyCode(false);

  /**
   * The same matrix with every column j divided by c(0, j), so row 0 is all ones: the first repair
   * row of a stripe is plain XOR parity, about ten times cheaper to make and to use than a general
   * row, and most stripes need only one. Scaling columns by non-zero constants keeps every square
   * submatrix invertible, so the code stays MDS. clonecast's native protocol uses this.
   */
  public static final CauchyCode PARITY_FIRST = new CauchyCode(true);

  /** table[row][j] = the coefficient of source j in repair row {@code row}. */
  private final byte[][] table = new byte[MAX_REPAIR][MAX_SOURCE];

  private CauchyCode(boolean parityFirst) {
    for (int r = 0; r < MAX_REPAIR; r++) {
      for (int j = 0; j < MAX_SOURCE; j++) {
        int c = Gf256.inv(0x80 ^ j ^ r);
        table[r][j] = (byte) (parityFirst ? Gf256.div(c, Gf256.inv(0x80 ^ j)) : c);
      }
    }
  }

  /** This code's coefficient of source {@code j} in repair row {@code row}. */
  private int coef(int row, int j) {
    return table[row][j] & 0xFF;
  }

  /**
   * @return c(row, sourceIndex) = (0x80 ⊕ sourceIndex ⊕ row)^−1
   * @throws IllegalArgumentException unless 0 ≤ row &lt; 128 and 0 ≤ sourceIndex &lt; 128
   */
  public static int coefficient(int row, int sourceIndex) {
    checkRow(row);
    if (sourceIndex < 0 || sourceIndex >= MAX_SOURCE) {
      throw new IllegalArgumentException(
          "source index " + sourceIndex + " outside 0.." + (MAX_SOURCE - 1));
    }
    return Gf256.inv(0x80 ^ sourceIndex ^ row);
  }

  /**
   * Computes one repair block: {@code out[outOff..outOff+len) = Σ_{j<k} c(row,j)·sources[j]}. A
   * source shorter than {@code len} counts as zero-padded to {@code len} (the short last block of a
   * slice); bytes beyond {@code len} are not read. With {@code k = 0} the output is zeros (udpcast
   * sends unspecified bytes for such empty stripes; see the golden test).
   *
   * @param sources at least {@code k} non-null blocks
   * @throws IllegalArgumentException for a row or k out of range, or a null source
   * @throws IndexOutOfBoundsException if {@code out} has no room for {@code len} bytes at {@code
   *     outOff}
   */
  public static void encode(int row, byte[][] sources, int k, int len, byte[] out, int outOff) {
    UDPCAST.encodeRow(row, sources, k, len, out, outOff);
  }

  /** As {@link #encode(int, byte[][], int, int, byte[], int)}, with this code's coefficients. */
  public void encodeRow(int row, byte[][] sources, int k, int len, byte[] out, int outOff) {
    checkRow(row);
    checkSources(sources, k, len);
    Objects.checkFromIndexSize(outOff, len, out.length);
    Arrays.fill(out, outOff, outOff + len, (byte) 0);
    for (int j = 0; j < k; j++) {
      byte[] src = sources[j];
      Gf256.mulAdd(out, outOff, src, 0, Math.min(len, src.length), coef(row, j));
    }
  }

  /**
   * Computes several repair blocks at once: {@code outs[i] = encode(rows[i], ...)} at offset 0.
   *
   * @throws IllegalArgumentException if {@code rows} and {@code outs} differ in length, or as
   *     {@link #encode(int, byte[][], int, int, byte[], int)}
   */
  public static void encode(int[] rows, byte[][] sources, int k, int len, byte[][] outs) {
    if (rows.length != outs.length) {
      throw new IllegalArgumentException(rows.length + " rows but " + outs.length + " outputs");
    }
    for (int i = 0; i < rows.length; i++) {
      encode(rows[i], sources, k, len, outs[i], 0);
    }
  }

  /**
   * Reconstructs the missing source blocks of a stripe in place.
   *
   * <p>Let m be the number of {@code false} entries in {@code present[0..k)}. The first m entries
   * of {@code repairs}/{@code rows} are used (more may be passed; they are ignored). The known
   * sources' contributions are subtracted from those repairs, the m×m Cauchy submatrix is inverted
   * (Gauss–Jordan in GF(2^8)) and applied. Present sources shorter than {@code len} count as
   * zero-padded. Each missing {@code sources[j]} that is {@code null} or shorter than {@code len}
   * is replaced by a new {@code byte[len]}; otherwise its first {@code len} bytes are overwritten.
   * {@code present} and {@code repairs} are not modified. A reconstructed short last block comes
   * back zero-padded to {@code len}; the caller truncates it to the slice's size.
   *
   * @param sources {@code k} entries; missing ones may be {@code null}
   * @param present {@code present[j]} marks a received source
   * @param repairs {@code repairs[i]} holds the block of repair row {@code rows[i]}, at least
   *     {@code len} bytes
   * @param rows distinct repair rows in 0…127
   * @throws IllegalArgumentException if fewer repairs than missing sources are given (nothing is
   *     modified then), a row is out of range or repeated, or a present source is null
   */
  public static void decode(
      byte[][] sources, boolean[] present, int k, byte[][] repairs, int[] rows, int len) {
    UDPCAST.reconstruct(sources, present, k, repairs, rows, len);
  }

  /** As {@link #decode}, with this code's coefficients. */
  public void reconstruct(
      byte[][] sources, boolean[] present, int k, byte[][] repairs, int[] rows, int len) {
    if (k < 0 || k > MAX_SOURCE) {
      throw new IllegalArgumentException("k " + k + " outside 0.." + MAX_SOURCE);
    }
    if (len < 0) {
      throw new IllegalArgumentException("block length " + len + " negative");
    }
    if (sources.length < k || present.length < k) {
      throw new IllegalArgumentException(
          "k "
              + k
              + " but "
              + sources.length
              + " sources and "
              + present.length
              + " present flags");
    }
    for (int j = 0; j < k; j++) {
      if (present[j] && sources[j] == null) {
        throw new IllegalArgumentException("source " + j + " marked present but null");
      }
    }
    int[] missing = missingIndices(present, k);
    int m = missing.length;
    if (m == 0) {
      return;
    }
    if (repairs.length < m || rows.length < m) {
      throw new IllegalArgumentException(
          "not decodable: "
              + m
              + " sources missing, only "
              + Math.min(repairs.length, rows.length)
              + " repair blocks");
    }
    int[] useRows = Arrays.copyOf(rows, m);
    checkDistinctRows(useRows);
    for (int i = 0; i < m; i++) {
      if (repairs[i] == null || repairs[i].length < len) {
        throw new IllegalArgumentException(
            "repair block " + i + " (row " + useRows[i] + ") shorter than " + len);
      }
    }
    byte[][] inverse = invertSubmatrix(useRows, missing);

    // w_i = R_i − Σ_{present j} c(r_i, j)·D_j: what the missing sources alone contribute.
    byte[][] residual = new byte[m][];
    for (int i = 0; i < m; i++) {
      residual[i] = Arrays.copyOf(repairs[i], len);
      for (int j = 0; j < k; j++) {
        if (present[j]) {
          byte[] src = sources[j];
          Gf256.mulAdd(residual[i], 0, src, 0, Math.min(len, src.length), coef(useRows[i], j));
        }
      }
    }
    // D_missing[t] = Σ_i inverse[t][i]·w_i
    for (int t = 0; t < m; t++) {
      int j = missing[t];
      if (sources[j] == null || sources[j].length < len) {
        sources[j] = new byte[len];
      } else {
        Arrays.fill(sources[j], 0, len, (byte) 0);
      }
      for (int i = 0; i < m; i++) {
        Gf256.mulAdd(sources[j], 0, residual[i], 0, len, inverse[t][i] & 0xFF);
      }
    }
  }

  private static int[] missingIndices(boolean[] present, int k) {
    int m = 0;
    for (int j = 0; j < k; j++) {
      if (!present[j]) {
        m++;
      }
    }
    int[] missing = new int[m];
    for (int j = 0, t = 0; j < k; j++) {
      if (!present[j]) {
        missing[t++] = j;
      }
    }
    return missing;
  }

  /**
   * Inverts the m×m system a[i][t] = c(rows[i], missing[t]) that the missing sources satisfy, by
   * Gauss–Jordan elimination on the augmented rows [a | I]; row operations use the bulk {@link
   * Gf256} loops. A Cauchy submatrix with distinct rows is never singular; the check guards that
   * invariant rather than a reachable case.
   *
   * @return inverse[t][i], the weight of residual i in missing source t
   */
  private byte[][] invertSubmatrix(int[] rows, int[] missing) {
    int m = rows.length;
    int w = 2 * m;
    byte[][] aug = new byte[m][w];
    for (int i = 0; i < m; i++) {
      for (int t = 0; t < m; t++) {
        aug[i][t] = (byte) coef(rows[i], missing[t]);
      }
      aug[i][m + i] = 1;
    }
    for (int col = 0; col < m; col++) {
      int pivot = col;
      while (pivot < m && aug[pivot][col] == 0) {
        pivot++;
      }
      if (pivot == m) {
        throw new IllegalArgumentException("not decodable: singular " + m + "x" + m + " submatrix");
      }
      byte[] tmp = aug[col];
      aug[col] = aug[pivot];
      aug[pivot] = tmp;
      Gf256.scale(aug[col], 0, aug[col], 0, w, Gf256.inv(aug[col][col] & 0xFF));
      for (int row = 0; row < m; row++) {
        if (row != col) {
          Gf256.mulAdd(aug[row], 0, aug[col], 0, w, aug[row][col] & 0xFF);
        }
      }
    }
    byte[][] inverse = new byte[m][];
    for (int t = 0; t < m; t++) {
      inverse[t] = Arrays.copyOfRange(aug[t], m, w);
    }
    return inverse;
  }

  private static void checkRow(int row) {
    if (row < 0 || row >= MAX_REPAIR) {
      throw new IllegalArgumentException("repair row " + row + " outside 0.." + (MAX_REPAIR - 1));
    }
  }

  private static void checkDistinctRows(int[] rows) {
    boolean[] seen = new boolean[MAX_REPAIR];
    for (int r : rows) {
      checkRow(r);
      if (seen[r]) {
        throw new IllegalArgumentException("not decodable: repair row " + r + " given twice");
      }
      seen[r] = true;
    }
  }

  private static void checkSources(byte[][] sources, int k, int len) {
    if (k < 0 || k > MAX_SOURCE) {
      throw new IllegalArgumentException("k " + k + " outside 0.." + MAX_SOURCE);
    }
    if (len < 0) {
      throw new IllegalArgumentException("block length " + len + " negative");
    }
    if (sources.length < k) {
      throw new IllegalArgumentException("k " + k + " but only " + sources.length + " sources");
    }
    for (int j = 0; j < k; j++) {
      if (sources[j] == null) {
        throw new IllegalArgumentException("source " + j + " is null");
      }
    }
  }
}

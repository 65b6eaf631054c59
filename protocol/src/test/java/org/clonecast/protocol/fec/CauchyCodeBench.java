package org.clonecast.protocol.fec;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * Single-thread throughput of {@link CauchyCode}; not a test. Run after {@code mvn test-compile}:
 *
 * <pre>
 * java -cp protocol/target/classes:protocol/target/test-classes org.clonecast.protocol.fec.CauchyCodeBench [k=32]
 * </pre>
 *
 * <p>Each case runs for 1 s of this thread's CPU time after 2 s of warm-up, five times; the median
 * is printed. CPU time, not wall time: on a shared machine the wall clock measures the neighbours'
 * load. "out MB/s" counts repair (encode) or reconstructed (decode) bytes per CPU second, "src
 * MB/s" the stripe's source bytes that pass through, "madd MB/s" the multiply-accumulate byte
 * operations. Add {@code -XX:TieredStopAtLevel=1} to see the code as C1 compiles it, which is what
 * a JVM runs until C2 gets to it (long, on a crowded host). The property tests are in {@link
 * Gf256Test}.
 */
public final class CauchyCodeBench {
  private static final int LEN = 1456;

  private CauchyCodeBench() {}

  /** Cases whose name contains this (the first argument), or all. */
  private static String only = "";

  public static void main(String[] args) {
    only = args.length > 0 ? args[0] : "";
    Random rnd = new Random(1);
    byte[][] sources = CauchyCodeTest.randomBlocks(rnd, 128, LEN);
    encodeCase("encode k=128, 1 row", sources, 128, 1);
    encodeCase("encode k=128, 8 rows (udpcast --fec 8x8/128 stripe)", sources, 128, 8);
    encodeCase("encode k=32, 8 rows", sources, 32, 8);
    encodeCase("encode k=32, 1 row (a native repair)", sources, 32, 1);
    decodeCase("decode k=32, 1 missing (parity)", sources, 32, 1);
    decodeCase("decode k=32, 5 missing (14 % loss)", sources, 32, 5);
    decodeCase("decode k=128, 8 missing", sources, 128, 8);
    decodeCase("decode k=128, 64 missing", sources, 128, 64);
    decodeCase("decode k=128, 127 missing", sources, 128, 127);
  }

  private static void encodeCase(String name, byte[][] sources, int k, int rows) {
    if (!name.contains(only)) {
      return;
    }
    byte[][] outs = new byte[rows][LEN];
    int[] rowIdx = new int[rows];
    Arrays.setAll(rowIdx, i -> i);
    double perSecond =
        median(
            () -> {
              for (int i = 0; i < rows; i++) {
                CauchyCode.PARITY_FIRST.encodeRow(rowIdx[i], sources, k, LEN, outs[i], 0);
              }
            });
    report(name, perSecond, (double) rows * LEN, (double) k * LEN, (double) rows * k * LEN);
  }

  private static void decodeCase(String name, byte[][] original, int k, int m) {
    if (!name.contains(only)) {
      return;
    }
    int[] rows = new int[m];
    Arrays.setAll(rows, i -> i);
    byte[][] repairs = new byte[m][LEN];
    for (int i = 0; i < m; i++) {
      CauchyCode.PARITY_FIRST.encodeRow(rows[i], original, k, LEN, repairs[i], 0);
    }
    boolean[] present = new boolean[k];
    Arrays.fill(present, m, k, true);
    byte[][] sources = original.clone();
    double perSecond =
        median(
            () -> {
              for (int j = 0; j < m; j++) {
                sources[j] = null;
              }
              CauchyCode.PARITY_FIRST.reconstruct(sources, present, k, repairs, rows, LEN);
            });
    if (!Arrays.equals(sources[0], original[0])) {
      throw new AssertionError("decode produced wrong data");
    }
    report(name, perSecond, (double) m * LEN, (double) k * LEN, (double) m * k * LEN);
  }

  /**
   * @return operations per second, median of five 1 s runs after a 2 s warm-up
   */
  private static double median(Runnable op) {
    run(op, 2_000_000_000L);
    double[] rates = new double[5];
    for (int i = 0; i < rates.length; i++) {
      rates[i] = run(op, 1_000_000_000L);
    }
    Arrays.sort(rates);
    return rates[2];
  }

  private static double run(Runnable op, long nanos) {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long start = threads.getCurrentThreadCpuTime();
    long n = 0;
    long elapsed;
    do {
      op.run();
      n++;
      elapsed = threads.getCurrentThreadCpuTime() - start;
    } while (elapsed < nanos);
    return n * 1e9 / elapsed;
  }

  private static void report(
      String name, double opsPerSecond, double outBytes, double srcBytes, double maddBytes) {
    System.out.printf(
        "%-55s out %8.1f MB/s   src %8.1f MB/s   madd %8.1f MB/s%n",
        name,
        opsPerSecond * outBytes / 1e6,
        opsPerSecond * srcBytes / 1e6,
        opsPerSecond * maddBytes / 1e6);
  }
}

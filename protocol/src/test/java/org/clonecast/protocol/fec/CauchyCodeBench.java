package org.clonecast.protocol.fec;

import java.util.Arrays;
import java.util.Random;

/**
 * Single-thread throughput of {@link CauchyCode}; not a test. Run after {@code mvn test-compile}:
 *
 * <pre>java -cp protocol/target/classes:protocol/target/test-classes org.clonecast.protocol.fec.CauchyCodeBench</pre>
 *
 * <p>Each case runs for 1 s after a 2 s warm-up, five times; the median is printed. "out MB/s" counts
 * repair (encode) or reconstructed (decode) bytes per second, "src MB/s" the stripe's source bytes
 * that pass through per second, "madd MB/s" the multiply-accumulate byte operations per second.
 */
public final class CauchyCodeBench {
    private static final int LEN = 1456;

    private CauchyCodeBench() {
    }

    public static void main(String[] args) {
        Random rnd = new Random(1);
        byte[][] sources = CauchyCodeTest.randomBlocks(rnd, 128, LEN);
        encodeCase("encode k=128, 1 row", sources, 128, 1);
        encodeCase("encode k=128, 8 rows (udpcast --fec 8x8/128 stripe)", sources, 128, 8);
        encodeCase("encode k=32, 8 rows", sources, 32, 8);
        decodeCase("decode k=128, 8 missing", sources, 128, 8);
        decodeCase("decode k=128, 64 missing", sources, 128, 64);
        decodeCase("decode k=128, 127 missing", sources, 128, 127);
    }

    private static void encodeCase(String name, byte[][] sources, int k, int rows) {
        byte[][] outs = new byte[rows][LEN];
        int[] rowIdx = new int[rows];
        Arrays.setAll(rowIdx, i -> i);
        double perSecond = median(() -> CauchyCode.encode(rowIdx, sources, k, LEN, outs));
        report(name, perSecond, (double) rows * LEN, (double) k * LEN, (double) rows * k * LEN);
    }

    private static void decodeCase(String name, byte[][] original, int k, int m) {
        int[] rows = new int[m];
        Arrays.setAll(rows, i -> 127 - i);
        byte[][] repairs = new byte[m][LEN];
        CauchyCode.encode(rows, original, k, LEN, repairs);
        boolean[] present = new boolean[k];
        Arrays.fill(present, m, k, true);
        byte[][] sources = original.clone();
        double perSecond = median(() -> {
            for (int j = 0; j < m; j++) {
                sources[j] = null;
            }
            CauchyCode.decode(sources, present, k, repairs, rows, LEN);
        });
        if (!Arrays.equals(sources[0], original[0])) {
            throw new AssertionError("decode produced wrong data");
        }
        report(name, perSecond, (double) m * LEN, (double) k * LEN, (double) m * k * LEN);
    }

    /** @return operations per second, median of five 1 s runs after a 2 s warm-up */
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
        long start = System.nanoTime();
        long n = 0;
        long elapsed;
        do {
            op.run();
            n++;
            elapsed = System.nanoTime() - start;
        } while (elapsed < nanos);
        return n * 1e9 / elapsed;
    }

    private static void report(String name, double opsPerSecond, double outBytes, double srcBytes, double maddBytes) {
        System.out.printf("%-55s out %8.1f MB/s   src %8.1f MB/s   madd %8.1f MB/s%n", name,
                opsPerSecond * outBytes / 1e6, opsPerSecond * srcBytes / 1e6, opsPerSecond * maddBytes / 1e6);
    }
}

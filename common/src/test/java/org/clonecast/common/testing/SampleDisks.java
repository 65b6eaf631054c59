package org.clonecast.common.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Writes files that look like disks: runs of zeros, text, random bytes, in blocks that do not
 * line up with chunks. Deterministic for a seed. Stateless and thread-safe.
 */
public final class SampleDisks {
  /** What a block holds. */
  public enum Fill { ZERO, TEXT, RANDOM }

  private static final byte[] WORDS =
      ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
          + "et dolore magna aliqua /usr/lib/x86_64-linux-gnu libc.so.6 GLIBC_2.34 ELF\n").getBytes(StandardCharsets.US_ASCII);

  private SampleDisks() {}

  /** {@code size} bytes of one fill. */
  public static Path write(Path p, long size, Fill fill, long seed) throws IOException {
    return write(p, size, seed, new Fill[] {fill}, new int[] {1}, 1 << 20);
  }

  /**
   * The benchmark mix: half zeros, a quarter text, a quarter random, shuffled in blocks of
   * {@code block} bytes.
   */
  public static Path mixed(Path p, long size, long seed, int block) throws IOException {
    return write(p, size, seed, new Fill[] {Fill.ZERO, Fill.TEXT, Fill.RANDOM}, new int[] {2, 1, 1}, block);
  }

  private static Path write(Path p, long size, long seed, Fill[] fills, int[] weights, int block) throws IOException {
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
      case ZERO -> java.util.Arrays.fill(buf, 0, n, (byte) 0);
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

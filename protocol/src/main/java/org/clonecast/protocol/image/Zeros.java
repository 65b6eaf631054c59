package org.clonecast.protocol.image;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * All-zero chunks: fast detection and the digest such a chunk must have. Thread-safe: the block is
 * never written and the cache is concurrent and bounded (only power-of-two lengths, i.e. full
 * chunks, are kept; a short last chunk is hashed each time it is asked for).
 */
final class Zeros {
  /** A block of zeros to compare against and to feed digests; never written. */
  static final byte[] BLOCK = new byte[64 * 1024];

  private static final ConcurrentMap<Integer, Sha256> HASHES = new ConcurrentHashMap<>();

  private Zeros() {}

  /**
   * Whether {@code len} bytes from {@code off} are all zero. {@link Arrays#mismatch} is a JIT
   * intrinsic that compares eight bytes (or a vector) at a time, which is the fast path we want.
   */
  static boolean isZero(byte[] data, int off, int len) {
    int end = off + len;
    for (int p = off; p < end; p += BLOCK.length) {
      int n = Math.min(BLOCK.length, end - p);
      if (Arrays.mismatch(data, p, p + n, BLOCK, 0, n) >= 0) {
        return false;
      }
    }
    return true;
  }

  /** Writes {@code len} zeros into {@code out} from {@code off}. */
  static void fill(byte[] out, int off, int len) {
    Arrays.fill(out, off, off + len, (byte) 0);
  }

  /** The SHA-256 of {@code len} zero bytes. */
  static Sha256 hash(int len) {
    if (Integer.bitCount(len) == 1) {
      return HASHES.computeIfAbsent(len, Zeros::compute);
    }
    return compute(len);
  }

  /** Feeds {@code len} zero bytes to {@code md}. */
  static void update(MessageDigest md, long len) {
    while (len > 0) {
      int n = (int) Math.min(BLOCK.length, len);
      md.update(BLOCK, 0, n);
      len -= n;
    }
  }

  private static Sha256 compute(int len) {
    MessageDigest md = Sha256.newDigest();
    update(md, len);
    return Sha256.finish(md);
  }
}

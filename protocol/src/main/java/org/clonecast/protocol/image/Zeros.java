package org.clonecast.protocol.image;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * All-zero chunks: fast detection and the digest such a chunk must have. Thread-safe: the block is
 * never written and the cache is concurrent and bounded (only power-of-two lengths, i.e. full
 * chunks, are kept; a short last chunk is hashed each time it is asked for).
 *
 * <p>The digests of the chunk sizes a manifest allows (powers of two from 4 KiB to 64 MiB) are
 * constants ({@code head -c N /dev/zero | sha256sum}; ZerosTest computes them again). Computed, the
 * 1 MiB one cost every receiver a MiB of SHA-256 in a JVM that had just started, before the hash
 * was compiled: in bench/delta.sh it was the largest part of the receivers' event loop before they
 * joined (docs/benchmarks.md, "Delta sessions").
 */
final class Zeros {
  /** A block of zeros to compare against and to feed digests; never written. */
  static final byte[] BLOCK = new byte[64 * 1024];

  private static final ConcurrentMap<Integer, Sha256> HASHES = new ConcurrentHashMap<>();

  /** Smallest length in {@link #KNOWN}. */
  static final int KNOWN_FROM = 4 * 1024;

  /** SHA-256 of {@code KNOWN_FROM << i} zero bytes, hex, for i = 0 … 14 (4 KiB to 64 MiB). */
  static final String[] KNOWN = {
    "ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7",
    "9f1dcbc35c350d6027f98be0f5c8b43b42ca52b7604459c0c42be3aa88913d47",
    "4fe7b59af6de3b665b67788cc2f99892ab827efae3a467342b3bb4e3bc8e5bfe",
    "c35020473aed1b4642cd726cad727b63fff2824ad68cedd7ffb73c7cbd890479",
    "de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31",
    "fa43239bcee7b97ca62f007cc68487560a39e19f74f3dde7486db3f98df8e471",
    "8a39d2abd3999ab73c34db2476849cddf303ce389b35826850f9a700589b4a90",
    "07854d2fef297a06ba81685e660c332de36d5d18d546927d30daad6d7fda1541",
    "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58",
    "5647f05ec18958947d32874eeb788fa396a05d0bab7c1b71f112ceb7e9b31eee",
    "bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8",
    "2daeb1f36095b44b318410b3f4e8b5d989dcc7bb023d1426c492dab0a3053e74",
    "080acf35a507ac9849cfcba47dc2ad83e01b75663a516279c8b9d243b719643e",
    "83ee47245398adee79bd9c0a8bc57b821e92aba10f5f9ade8a5d1fae4d8c4302",
    "3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351"
  };

  static {
    for (int i = 0; i < KNOWN.length; i++) {
      HASHES.put(KNOWN_FROM << i, Sha256.ofHex(KNOWN[i]));
    }
  }

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

  /** The SHA-256 of {@code len} zero bytes, computed. */
  static Sha256 compute(int len) {
    MessageDigest md = Sha256.newDigest();
    update(md, len);
    return Sha256.finish(md);
  }
}

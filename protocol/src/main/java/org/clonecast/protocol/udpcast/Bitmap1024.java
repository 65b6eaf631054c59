package org.clonecast.protocol.udpcast;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import java.util.BitSet;

/**
 * A 1024-bit map as udpcast sends it (docs/ref/udpcast-protocol.md §1.2): 128 bytes, bit {@code i}
 * in byte {@code i >> 3} under mask {@code 1 << (i & 7)} (LSB first). REQACK's {@code readySet} is
 * indexed by receiver number, RETRANSMIT's {@code map} by block number. The order is that of {@link
 * BitSet#valueOf(byte[])}, so conversion is direct.
 *
 * <p>Immutable (the array is cloned in and out; {@link #with} returns a new map); thread-safe.
 *
 * @param bytes exactly 128 bytes
 */
public record Bitmap1024(byte[] bytes) {
  /** Bits in the map. */
  public static final int BITS = 1024;

  /** Bytes on the wire. */
  public static final int SIZE = BITS / 8;

  /** The map with no bit set. */
  public static final Bitmap1024 EMPTY = new Bitmap1024(new byte[SIZE]);

  /** Validates the length and takes a private copy. */
  public Bitmap1024 {
    if (bytes.length != SIZE) {
      throw new IllegalArgumentException("bitmap length " + bytes.length + ", want " + SIZE);
    }
    bytes = bytes.clone();
  }

  /**
   * @return the map with exactly the given bits set
   */
  public static Bitmap1024 of(int... bits) {
    byte[] b = new byte[SIZE];
    for (int bit : bits) {
      b[checkBit(bit) >> 3] |= (byte) (1 << (bit & 7));
    }
    return new Bitmap1024(b);
  }

  /**
   * @return the map with bits 0…n−1 set, e.g. the have-map of a receiver holding all n blocks of a
   *     slice
   */
  public static Bitmap1024 firstN(int n) {
    if (n < 0 || n > BITS) {
      throw new IllegalArgumentException("bit count " + n + " outside 0.." + BITS);
    }
    BitSet set = new BitSet(BITS);
    set.set(0, n);
    return fromBitSet(set);
  }

  /**
   * @throws IllegalArgumentException if {@code set} has a bit at 1024 or above
   */
  public static Bitmap1024 fromBitSet(BitSet set) {
    if (set.length() > BITS) {
      throw new IllegalArgumentException("bit " + (set.length() - 1) + " outside 0.." + (BITS - 1));
    }
    return new Bitmap1024(Arrays.copyOf(set.toByteArray(), SIZE));
  }

  /** Reads 128 bytes; the caller has checked they are readable. */
  static Bitmap1024 read(ByteBuf in) {
    byte[] b = new byte[SIZE];
    in.readBytes(b);
    return new Bitmap1024(b);
  }

  /** Appends the 128 bytes. */
  void write(ByteBuf out) {
    out.writeBytes(bytes);
  }

  /**
   * @return a copy of the 128 bytes
   */
  @Override
  public byte[] bytes() {
    return bytes.clone();
  }

  /**
   * @return a new mutable {@link BitSet} with the same bits
   */
  public BitSet toBitSet() {
    return BitSet.valueOf(bytes);
  }

  /**
   * @return whether bit {@code i} is set
   */
  public boolean get(int i) {
    return (bytes[checkBit(i) >> 3] & (1 << (i & 7))) != 0;
  }

  /**
   * @return a map equal to this one with bit {@code i} set
   */
  public Bitmap1024 with(int i) {
    byte[] b = bytes.clone();
    b[checkBit(i) >> 3] |= (byte) (1 << (i & 7));
    return new Bitmap1024(b);
  }

  /**
   * @return the number of set bits
   */
  public int cardinality() {
    int n = 0;
    for (byte b : bytes) {
      n += Integer.bitCount(b & 0xFF);
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Bitmap1024 other && Arrays.equals(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  /**
   * @return the set bits as ranges, e.g. {@code "[0-67, 70]"}
   */
  @Override
  public String toString() {
    BitSet set = toBitSet();
    StringBuilder sb = new StringBuilder("[");
    for (int from = set.nextSetBit(0); from >= 0; from = set.nextSetBit(from)) {
      int to = set.nextClearBit(from);
      sb.append(sb.length() > 1 ? ", " : "").append(from);
      if (to - 1 > from) {
        sb.append('-').append(to - 1);
      }
      from = to;
    }
    return sb.append(']').toString();
  }

  private static int checkBit(int i) {
    if (i < 0 || i >= BITS) {
      throw new IllegalArgumentException("bit " + i + " outside 0.." + (BITS - 1));
    }
    return i;
  }
}

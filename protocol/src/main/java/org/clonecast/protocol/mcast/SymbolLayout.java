package org.clonecast.protocol.mcast;

/**
 * How a chunk's stored bytes are cut into symbols and grouped into FEC stripes.
 *
 * <p>A chunk of {@code storedLength} bytes becomes {@code k = ceil(storedLength / symbolSize)}
 * source symbols, interleaved into {@code stripes = ceil(k / 32)} stripes: symbol {@code j} belongs
 * to stripe {@code j mod stripes} at position {@code j div stripes} (udpcast's interleave, so a
 * burst of losses is spread over all stripes). Each stripe has its own repair rows 0..127.
 * Immutable.
 */
public record SymbolLayout(int storedLength, int symbolSize) {

  public static final int MIN_SYMBOL_SIZE = 256;
  public static final int MAX_SYMBOL_SIZE = 65000;

  /**
   * What a packet carries around its symbol: IPv4 (20) and UDP (8) headers and the DATA frame's own
   * 20 bytes.
   */
  public static final int PACKET_OVERHEAD = 20 + 8 + 20;

  /**
   * Sources per stripe. The code takes up to 128, but each repair row costs one GF(2^8)
   * multiply-add per source and byte, on the sender and again at every receiver that uses it: 32
   * makes rows four times cheaper than 128, and under independent loss costs only a couple of
   * percent more repair (the worst receiver's loss per stripe is a larger share of a smaller one).
   */
  public static final int MAX_STRIPE_SOURCES = 32;

  /** Repair rows per stripe the code supports. */
  public static final int MAX_REPAIR_ROWS = 128;

  /** Stripes per chunk the wire can name (one byte). */
  public static final int MAX_STRIPES = 255;

  /**
   * The symbol size for packets of {@code mtu} bytes: the MTU less {@link #PACKET_OVERHEAD}, at
   * most {@link #MAX_SYMBOL_SIZE} (loopback's 64 KiB MTU would allow more than the wire format
   * names).
   */
  public static int symbolSizeFor(int mtu) {
    return Math.min(MAX_SYMBOL_SIZE, mtu - PACKET_OVERHEAD);
  }

  public SymbolLayout {
    if (symbolSize < MIN_SYMBOL_SIZE || symbolSize > MAX_SYMBOL_SIZE) {
      throw new IllegalArgumentException(
          "symbol size " + symbolSize + " out of " + MIN_SYMBOL_SIZE + ".." + MAX_SYMBOL_SIZE);
    }
    if (storedLength < 1)
      throw new IllegalArgumentException("stored length " + storedLength + ", want >= 1");
    long k = ((long) storedLength + symbolSize - 1) / symbolSize;
    if (k > (long) MAX_STRIPES * MAX_STRIPE_SOURCES) {
      throw new IllegalArgumentException(
          "chunk of "
              + storedLength
              + " bytes needs "
              + k
              + " symbols of "
              + symbolSize
              + " bytes, more than "
              + MAX_STRIPES * MAX_STRIPE_SOURCES
              + ": use a smaller chunk size or larger symbols");
    }
  }

  /** Largest stored chunk a session with this symbol size can carry. */
  public static long maxStoredLength(int symbolSize) {
    return (long) MAX_STRIPES * MAX_STRIPE_SOURCES * symbolSize;
  }

  /** Number of source symbols. */
  public int sourceCount() {
    return (storedLength + symbolSize - 1) / symbolSize;
  }

  public int stripes() {
    return (sourceCount() + MAX_STRIPE_SOURCES - 1) / MAX_STRIPE_SOURCES;
  }

  /** Sources in stripe {@code s}. */
  public int stripeSources(int s) {
    int k = sourceCount();
    int n = stripes();
    return (k - s + n - 1) / n;
  }

  public int stripeOf(int symbol) {
    return symbol % stripes();
  }

  public int positionOf(int symbol) {
    return symbol / stripes();
  }

  /** The symbol at position {@code p} of stripe {@code s}. */
  public int symbolAt(int stripe, int position) {
    return position * stripes() + stripe;
  }

  /** Offset of symbol {@code j} in the stored bytes. */
  public int offsetOf(int symbol) {
    return symbol * symbolSize;
  }

  /** Bytes of symbol {@code j} actually present in the chunk (the last one may be short). */
  public int lengthOf(int symbol) {
    return Math.min(symbolSize, storedLength - symbol * symbolSize);
  }
}

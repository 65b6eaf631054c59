package org.clonecast.protocol.udpcast;

import org.clonecast.protocol.fec.CauchyCode;

/**
 * How udpcast interleaves a slice into FEC stripes (docs/ref/udpcast-protocol.md §1.10, verified
 * against asyncfec.pcap): with S = {@code stripes}, data block j of a slice is source k = j div S
 * of stripe j mod S; FEC block index i is repair row r = i div S of stripe i mod S. Each stripe is
 * coded on its own with {@link CauchyCode}; the slice's short last block is zero-padded to the
 * block size.
 *
 * <p>Immutable; thread-safe.
 *
 * @param stripes the interleave S (the FEC packet's bytes 2–3), 1…1024
 */
public record UdpcastFecLayout(int stripes) {

  /** Validates the interleave. */
  public UdpcastFecLayout {
    if (stripes < 1 || stripes > Udpcast.MAX_SLICE_BLOCKS) {
      throw new IllegalArgumentException(
          "stripes " + stripes + " outside 1.." + Udpcast.MAX_SLICE_BLOCKS);
    }
  }

  /**
   * @return the stripe of data block {@code blockNo}
   */
  public int stripeOfData(int blockNo) {
    return nonNegative(blockNo, "blockNo") % stripes;
  }

  /**
   * @return the source index of data block {@code blockNo} within its stripe
   */
  public int positionOfData(int blockNo) {
    return nonNegative(blockNo, "blockNo") / stripes;
  }

  /**
   * @return the data block number of source {@code position} of {@code stripe}
   */
  public int dataBlockNo(int stripe, int position) {
    return nonNegative(position, "position") * stripes + checkStripe(stripe);
  }

  /**
   * @return the stripe of FEC block index {@code fecBlockNo}
   */
  public int stripeOfFec(int fecBlockNo) {
    return nonNegative(fecBlockNo, "FEC blockNo") % stripes;
  }

  /**
   * @return the repair row of FEC block index {@code fecBlockNo}
   */
  public int rowOfFec(int fecBlockNo) {
    return nonNegative(fecBlockNo, "FEC blockNo") / stripes;
  }

  /**
   * @return the FEC block index carrying repair {@code row} of {@code stripe}
   */
  public int fecBlockNo(int stripe, int row) {
    return nonNegative(row, "row") * stripes + checkStripe(stripe);
  }

  /**
   * @param dataBlocks the number of data blocks in the slice
   * @return how many of them fall into {@code stripe} (0 if the slice is shorter than the stripe
   *     index)
   * @throws IllegalArgumentException if a stripe would exceed {@link CauchyCode#MAX_SOURCE} sources
   */
  public int sourcesInStripe(int dataBlocks, int stripe) {
    checkStripe(stripe);
    int k = Math.max(0, (nonNegative(dataBlocks, "dataBlocks") - stripe + stripes - 1) / stripes);
    if (k > CauchyCode.MAX_SOURCE) {
      throw new IllegalArgumentException(
          dataBlocks
              + " blocks over "
              + stripes
              + " stripes put "
              + k
              + " sources in stripe "
              + stripe
              + ", max "
              + CauchyCode.MAX_SOURCE);
    }
    return k;
  }

  /**
   * @param sliceBlocks the slice's data blocks by block number (the last may be short)
   * @return the blocks of {@code stripe} in source order (the same arrays, not copies)
   */
  public byte[][] stripeSources(byte[][] sliceBlocks, int dataBlocks, int stripe) {
    byte[][] sources = new byte[sourcesInStripe(dataBlocks, stripe)][];
    for (int k = 0; k < sources.length; k++) {
      sources[k] = sliceBlocks[dataBlockNo(stripe, k)];
    }
    return sources;
  }

  /**
   * Computes the payload of FEC block {@code fecBlockNo} of a slice, as udpcast does: repair row i
   * div S over the stripe i mod S, short blocks zero-padded to {@code blocksize}.
   *
   * @param sliceBlocks the slice's data blocks by block number
   * @param dataBlocks the number of data blocks in the slice
   * @param out receives {@code blocksize} bytes at {@code outOff}
   */
  public void encodeFec(
      byte[][] sliceBlocks, int dataBlocks, int blocksize, int fecBlockNo, byte[] out, int outOff) {
    int stripe = stripeOfFec(fecBlockNo);
    byte[][] sources = stripeSources(sliceBlocks, dataBlocks, stripe);
    CauchyCode.encode(rowOfFec(fecBlockNo), sources, sources.length, blocksize, out, outOff);
  }

  private int checkStripe(int stripe) {
    if (stripe < 0 || stripe >= stripes) {
      throw new IllegalArgumentException("stripe " + stripe + " outside 0.." + (stripes - 1));
    }
    return stripe;
  }

  private static int nonNegative(int value, String what) {
    if (value < 0) {
      throw new IllegalArgumentException(what + " " + value + " negative");
    }
    return value;
  }
}

package org.clonecast.protocol.udpcast;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.protocol.fec.CauchyCode;

/**
 * udp-sender's {@code --fec SxR/Z} (docs/ref/udpcast-protocol.md §1.10): S stripes (the
 * interleave), R repair blocks per stripe, Z data blocks per stripe at most. A slice then holds S×Z
 * data blocks (at most 1024), and each slice's first transmission is followed by S×R FEC blocks.
 * Immutable.
 *
 * @param stripes the interleave S, 1…1024
 * @param redundancy repair blocks per stripe R, 1…128
 * @param stripeSize data blocks per stripe Z, 1…128, with S×Z ≤ 1024
 */
public record UdpcastFecSpec(int stripes, int redundancy, int stripeSize) {
  private static final Pattern SYNTAX = Pattern.compile("(\\d{1,4})x(\\d{1,3})(?:/(\\d{1,3}))?");

  /** udp-sender's default stripe size. */
  public static final int DEFAULT_STRIPE_SIZE = 128;

  public UdpcastFecSpec {
    if (stripes < 1 || stripes > Udpcast.MAX_SLICE_BLOCKS) {
      throw new IllegalArgumentException(
          "FEC stripes " + stripes + ", want 1.." + Udpcast.MAX_SLICE_BLOCKS);
    }
    if (redundancy < 1 || redundancy > CauchyCode.MAX_REPAIR) {
      throw new IllegalArgumentException(
          "FEC redundancy " + redundancy + ", want 1.." + CauchyCode.MAX_REPAIR);
    }
    if (stripeSize < 1 || stripeSize > CauchyCode.MAX_SOURCE) {
      throw new IllegalArgumentException(
          "FEC stripe size " + stripeSize + ", want 1.." + CauchyCode.MAX_SOURCE);
    }
    if (stripes * stripeSize > Udpcast.MAX_SLICE_BLOCKS) {
      throw new IllegalArgumentException(
          "FEC "
              + stripes
              + "x"
              + redundancy
              + "/"
              + stripeSize
              + " makes slices of "
              + stripes * stripeSize
              + " blocks, max "
              + Udpcast.MAX_SLICE_BLOCKS
              + "; lower S or Z");
    }
  }

  /**
   * Parses {@code SxR} or {@code SxR/Z}, as udp-sender does (Z defaults to 128, and to 1024/S when
   * that is smaller).
   *
   * @throws IllegalArgumentException naming the expected form
   */
  public static UdpcastFecSpec parse(String text) {
    Matcher m = SYNTAX.matcher(text == null ? "" : text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "FEC '" + text + "' is not of the form SxR or SxR/Z, e.g. 8x8/128");
    }
    int s = Integer.parseInt(m.group(1));
    int r = Integer.parseInt(m.group(2));
    int z =
        m.group(3) != null
            ? Integer.parseInt(m.group(3))
            : Math.min(DEFAULT_STRIPE_SIZE, Udpcast.MAX_SLICE_BLOCKS / Math.max(1, s));
    return new UdpcastFecSpec(s, r, z);
  }

  /** Data blocks per full slice. */
  public int sliceBlocks() {
    return stripes * stripeSize;
  }

  /** FEC blocks after each slice. */
  public int fecBlocks() {
    return stripes * redundancy;
  }

  @Override
  public String toString() {
    return stripes + "x" + redundancy + "/" + stripeSize;
  }
}

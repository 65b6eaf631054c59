package org.clonecast.protocol.igmp;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * An IGMPv3 Membership Query (RFC 3376 §4.1): the IGMPv2 query's 8 bytes, then S (Suppress
 * Router-Side Processing), QRV, QQIC and the source list. The daemon sends IGMPv2 queries
 * (docs/switches.md) and reads these from other queriers: a Linux bridge's or a router's.
 * Immutable.
 *
 * @param maxResponseCode Max Resp Code (§4.1.1; 128 and above is a floating-point form)
 * @param group Group Address, big-endian; 0 in a General Query
 * @param suppressRouterSide the S flag
 * @param robustness QRV, 0..7 (0: the querier's is above 7)
 * @param queryIntervalCode QQIC, 0..255 (§4.1.7)
 * @param sources the source addresses, big-endian
 */
public record IgmpV3Query(
    int maxResponseCode,
    int group,
    boolean suppressRouterSide,
    int robustness,
    int queryIntervalCode,
    List<Integer> sources) {
  /** The fixed part: the v2 header, the S/QRV byte, QQIC and the number of sources. */
  static final int MIN_LENGTH = 12;

  public IgmpV3Query {
    if (maxResponseCode < 0 || maxResponseCode > 255)
      throw new IllegalArgumentException("Max Resp Code " + maxResponseCode + ", want 0..255");
    if (robustness < 0 || robustness > 7)
      throw new IllegalArgumentException("QRV " + robustness + ", want 0..7");
    if (queryIntervalCode < 0 || queryIntervalCode > 255)
      throw new IllegalArgumentException("QQIC " + queryIntervalCode + ", want 0..255");
    sources = List.copyOf(sources);
    if (sources.size() > 0xffff)
      throw new IllegalArgumentException(sources.size() + " sources, want at most 65535");
  }

  /** Whether this is a General Query (no group, no sources). */
  public boolean generalQuery() {
    return group == 0 && sources.isEmpty();
  }

  /** The message on the wire, checksum included. */
  public byte[] encode() {
    byte[] b = new byte[MIN_LENGTH + 4 * sources.size()];
    b[0] = (byte) IgmpMessage.QUERY; // Type
    b[1] = (byte) maxResponseCode; // Max Resp Code
    putInt(b, 4, group); // Group Address
    b[8] = (byte) ((suppressRouterSide ? 0x08 : 0) | robustness); // Resv, S, QRV
    b[9] = (byte) queryIntervalCode; // QQIC
    b[10] = (byte) (sources.size() >>> 8); // Number of Sources (N)
    b[11] = (byte) sources.size();
    for (int i = 0; i < sources.size(); i++) putInt(b, MIN_LENGTH + 4 * i, sources.get(i));
    int sum = IgmpMessage.checksum(b, 0, b.length); // Checksum
    b[2] = (byte) (sum >>> 8);
    b[3] = (byte) sum;
    return b;
  }

  /**
   * Decodes a query of at least 12 bytes (all readable bytes; the checksum covers them all, and
   * bytes after the source list are ignored, as §4.1.10 asks).
   *
   * @throws MalformedPacketException when it is no query, is short, its checksum is wrong or its
   *     source count runs past its end
   */
  public static IgmpV3Query decode(ByteBuf in) {
    return ByteBufs.decoding(
        "IGMPv3 query",
        in,
        b -> {
          int length = b.readableBytes();
          ByteBufs.requireReadable(b, MIN_LENGTH, "IGMPv3 query");
          IgmpMessage.requireChecksum(b, length);
          int type = b.readUnsignedByte();
          if (type != IgmpMessage.QUERY)
            throw new MalformedPacketException(
                "IGMP type 0x" + Integer.toHexString(type) + ", want a query (0x11)");
          int code = b.readUnsignedByte();
          b.skipBytes(2);
          int group = b.readInt();
          int sqrv = b.readUnsignedByte();
          int qqic = b.readUnsignedByte();
          int n = b.readUnsignedShort();
          if (b.readableBytes() < 4 * n)
            throw new MalformedPacketException(
                "IGMPv3 query with "
                    + n
                    + " sources needs "
                    + (MIN_LENGTH + 4 * n)
                    + " bytes, has "
                    + length);
          List<Integer> sources = new ArrayList<>(n);
          for (int i = 0; i < n; i++) sources.add(b.readInt());
          b.skipBytes(b.readableBytes());
          return new IgmpV3Query(code, group, (sqrv & 0x08) != 0, sqrv & 0x07, qqic, sources);
        });
  }

  static void putInt(byte[] b, int at, int v) {
    b[at] = (byte) (v >>> 24);
    b[at + 1] = (byte) (v >>> 16);
    b[at + 2] = (byte) (v >>> 8);
    b[at + 3] = (byte) v;
  }
}

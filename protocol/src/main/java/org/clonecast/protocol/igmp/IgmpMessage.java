package org.clonecast.protocol.igmp;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * The fixed part of any IGMP message (RFC 2236 §2), as a raw IGMP socket delivers it after the IP
 * header. An IGMPv3 query or report carries more after it ({@link IgmpV3Query}, {@link
 * IgmpV3Report}): {@link #decode} checks that part too, so a message it returns is whole, but keeps
 * only the fixed part, which is all the querier's election needs.
 *
 * @param type {@link #QUERY}, a report or a leave
 * @param maxResponseCode the query's maximum response time in tenths of a second (0 in reports)
 * @param group the group address as a big-endian int; 0 in a General Query (in a v3 report, the
 *     reserved field and the number of records)
 */
public record IgmpMessage(int type, int maxResponseCode, int group) {
  public static final int QUERY = 0x11;
  public static final int V1_REPORT = 0x12;
  public static final int V2_REPORT = 0x16;
  public static final int LEAVE = 0x17;
  public static final int V3_REPORT = 0x22;
  static final int LENGTH = 8;

  /**
   * An IGMPv2 General Query: every host reports its groups within {@code maxResponseTenths}.
   *
   * @param maxResponseTenths 1..255 tenths of a second
   */
  public static IgmpMessage generalQuery(int maxResponseTenths) {
    if (maxResponseTenths < 1 || maxResponseTenths > 255) {
      throw new IllegalArgumentException(
          "max response time " + maxResponseTenths + " tenths of a second; want 1..255");
    }
    return new IgmpMessage(QUERY, maxResponseTenths, 0);
  }

  /** Whether this is a General Query (not one for a single group). */
  public boolean generalQuery() {
    return type == QUERY && group == 0;
  }

  /** The 8 bytes on the wire, checksum included. */
  public byte[] encode() {
    byte[] b = new byte[LENGTH];
    b[0] = (byte) type;
    b[1] = (byte) maxResponseCode;
    b[4] = (byte) (group >>> 24);
    b[5] = (byte) (group >>> 16);
    b[6] = (byte) (group >>> 8);
    b[7] = (byte) group;
    int sum = checksum(b, 0, LENGTH);
    b[2] = (byte) (sum >>> 8);
    b[3] = (byte) sum;
    return b;
  }

  /**
   * Decodes the message in {@code in} (all its readable bytes: the checksum covers them all).
   *
   * @throws MalformedPacketException when shorter than 8 bytes, the checksum is wrong, a query has
   *     9 to 11 bytes (RFC 3376 §7.1: neither v2 nor v3), or a v3 query or report is not whole
   */
  public static IgmpMessage decode(ByteBuf in) {
    return ByteBufs.decoding(
        "IGMP message",
        in,
        b -> {
          int length = b.readableBytes();
          ByteBufs.requireReadable(b, LENGTH, "IGMP header");
          requireChecksum(b, length);
          int first = b.getUnsignedByte(b.readerIndex());
          if (first == QUERY && length > LENGTH) {
            if (length < IgmpV3Query.MIN_LENGTH)
              throw new MalformedPacketException(
                  "IGMP query of " + length + " bytes; want 8 (v2) or 12 and more (v3)");
            IgmpV3Query.decode(b.slice(b.readerIndex(), length));
          } else if (first == V3_REPORT) {
            IgmpV3Report.decode(b.slice(b.readerIndex(), length));
          }
          int type = b.readUnsignedByte();
          int code = b.readUnsignedByte();
          b.skipBytes(2);
          int group = b.readInt();
          b.skipBytes(b.readableBytes());
          return new IgmpMessage(type, code, group);
        });
  }

  /** Throws unless the Internet checksum over the next {@code length} readable bytes adds up. */
  static void requireChecksum(ByteBuf b, int length) {
    byte[] all = new byte[length];
    b.getBytes(b.readerIndex(), all);
    if (checksum(all, 0, length) != 0)
      throw new MalformedPacketException("IGMP checksum does not add up");
  }

  /**
   * The Internet checksum (RFC 1071) of {@code length} bytes; 0 over a message whose checksum is
   * right.
   */
  static int checksum(byte[] b, int offset, int length) {
    long sum = 0;
    for (int i = 0; i + 1 < length; i += 2) {
      sum += ((b[offset + i] & 0xff) << 8) | (b[offset + i + 1] & 0xff);
    }
    if ((length & 1) != 0) sum += (b[offset + length - 1] & 0xff) << 8;
    while ((sum >>> 16) != 0) sum = (sum & 0xffff) + (sum >>> 16);
    return (int) (~sum & 0xffff);
  }
}

package org.clonecast.protocol.igmp;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * An IGMP message with the IPv4 header it came in, as a raw IGMP socket delivers it (RFC 791 §3.1;
 * the header's options, such as the Router Alert, are skipped). Immutable.
 *
 * @param source the IPv4 source address, big-endian: who sent it (0.0.0.0 for a proxy query)
 * @param message the IGMP message after the header
 */
public record IgmpDatagram(int source, IgmpMessage message) {
  private static final int IPPROTO_IGMP = 2;
  private static final int MIN_HEADER = 20;

  /**
   * Decodes the datagram in all of {@code in}'s readable bytes. Bytes after the IP header's Total
   * Length are ignored (padding).
   *
   * @throws MalformedPacketException when it is no IPv4 datagram carrying IGMP, its header or total
   *     length do not fit, or the IGMP message is malformed
   */
  public static IgmpDatagram decode(ByteBuf in) {
    return ByteBufs.decoding(
        "IGMP datagram",
        in,
        b -> {
          int length = b.readableBytes();
          ByteBufs.requireReadable(b, MIN_HEADER, "IPv4 header");
          int start = b.readerIndex();
          int versionIhl = b.getUnsignedByte(start);
          if (versionIhl >>> 4 != 4)
            throw new MalformedPacketException("IP version " + (versionIhl >>> 4) + ", want 4");
          int headerLength = (versionIhl & 0x0f) * 4;
          int totalLength = b.getUnsignedShort(start + 2);
          int protocol = b.getUnsignedByte(start + 9);
          if (headerLength < MIN_HEADER || totalLength < headerLength || totalLength > length)
            throw new MalformedPacketException(
                "IPv4 header length "
                    + headerLength
                    + ", total length "
                    + totalLength
                    + " in "
                    + length
                    + " bytes");
          if (protocol != IPPROTO_IGMP)
            throw new MalformedPacketException("IP protocol " + protocol + ", want IGMP (2)");
          int source = b.getInt(start + 12);
          IgmpMessage m =
              IgmpMessage.decode(b.slice(start + headerLength, totalLength - headerLength));
          b.skipBytes(length);
          return new IgmpDatagram(source, m);
        });
  }
}

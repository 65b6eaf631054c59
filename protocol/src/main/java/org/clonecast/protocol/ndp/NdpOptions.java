package org.clonecast.protocol.ndp;

import io.netty.buffer.ByteBuf;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * Neighbor Discovery options (RFC 4861 §4.6): type, length in units of 8 octets, value; and the
 * ICMPv6 header the messages that carry them start with.
 */
final class NdpOptions {
  static final int OPT_SOURCE_LINK_LAYER = 1;

  private NdpOptions() {}

  /**
   * Reads the ICMPv6 header of a Neighbor Discovery message: type, code and checksum (verified by
   * the kernel).
   *
   * @throws MalformedPacketException for another type than {@code type}, or a code other than 0
   *     (RFC 4861 §6.1: such a message is silently discarded)
   */
  static void readIcmpHeader(ByteBuf in, int type, String what) {
    int got = in.readUnsignedByte();
    int code = in.readUnsignedByte();
    if (got != type) throw new MalformedPacketException("ICMPv6 type " + got + ", want " + type);
    if (code != 0) throw new MalformedPacketException(what + " code " + code + ", want 0");
    in.skipBytes(2); // checksum
  }

  /**
   * Reads the options up to the end of {@code in} and returns the source link-layer address.
   *
   * @throws MalformedPacketException for a zero length (RFC 4861 §4.6: discard) or one past the end
   */
  static Optional<MacAddress> sourceLinkLayer(ByteBuf in) {
    Optional<MacAddress> mac = Optional.empty();
    while (in.isReadable()) {
      int type = in.readUnsignedByte();
      int units = in.readUnsignedByte();
      if (units == 0) throw new MalformedPacketException("option " + type + " length 0");
      int len = units * 8 - 2;
      if (len > in.readableBytes()) {
        throw new MalformedPacketException(
            "option " + type + " length " + len + ", only " + in.readableBytes() + " left");
      }
      if (type == OPT_SOURCE_LINK_LAYER && units == 1) {
        mac = Optional.of(MacAddress.decode(in));
      } else {
        in.skipBytes(len);
      }
    }
    return mac;
  }

  static void writeSourceLinkLayer(ByteBuf out, MacAddress mac) {
    out.writeByte(OPT_SOURCE_LINK_LAYER); // Type
    out.writeByte(1); // Length: 8 octets
    mac.encode(out); // Link-Layer Address
  }
}

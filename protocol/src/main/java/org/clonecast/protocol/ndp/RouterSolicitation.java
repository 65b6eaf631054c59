package org.clonecast.protocol.ndp;

import io.netty.buffer.ByteBuf;
import java.util.Optional;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * An ICMPv6 Router Solicitation (RFC 4861 §4.1), as a raw ICMPv6 socket delivers it: the ICMPv6
 * header onward, without the IPv6 header. Only the source link-layer address option is kept.
 *
 * @param sourceLinkLayer the solicitor's MAC, when it sent option 1
 */
public record RouterSolicitation(Optional<MacAddress> sourceLinkLayer) {
  public static final int TYPE = 133;

  /**
   * @throws MalformedPacketException for another type, a non-zero code or a bad option
   */
  public static RouterSolicitation decode(ByteBuf in) {
    return ByteBufs.decoding(
        "router solicitation",
        in,
        b -> {
          int type = b.readUnsignedByte();
          int code = b.readUnsignedByte();
          if (type != TYPE)
            throw new MalformedPacketException("ICMPv6 type " + type + ", want " + TYPE);
          // RFC 4861 §6.1.1: a router must silently discard a solicitation whose code is not 0.
          if (code != 0)
            throw new MalformedPacketException("router solicitation code " + code + ", want 0");
          b.skipBytes(2 + 4); // checksum (verified by the kernel), reserved
          return new RouterSolicitation(NdpOptions.sourceLinkLayer(b));
        });
  }
}

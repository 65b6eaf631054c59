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
          // RFC 4861 §6.1.1: a router must silently discard a solicitation whose code is not 0.
          NdpOptions.readIcmpHeader(b, TYPE, "router solicitation");
          b.skipBytes(4); // reserved
          return new RouterSolicitation(NdpOptions.sourceLinkLayer(b));
        });
  }
}

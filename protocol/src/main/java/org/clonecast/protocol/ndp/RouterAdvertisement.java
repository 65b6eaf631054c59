package org.clonecast.protocol.ndp;

import io.netty.buffer.ByteBuf;
import java.util.Optional;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MacAddress;

/**
 * An ICMPv6 Router Advertisement (RFC 4861 §4.2) from the ICMPv6 header onward. The checksum is
 * written as zero: on a raw ICMPv6 socket the kernel computes it (RFC 3542 §3.1).
 *
 * <p>clonecast sends the harmless form {@link #harmless}: router lifetime 0 (not a default router),
 * no prefix (no addresses), no M or O flag (no DHCPv6). It changes no host's configuration, but it
 * answers iPXE's solicitations, so iPXE stops waiting ~13 s for IPv6 autoconfiguration before it
 * boots (measured in docs/ref/pxe-firmware.md §3).
 *
 * @param curHopLimit 0 = unspecified
 * @param flags the M (0x80) and O (0x40) bits
 * @param routerLifetimeSeconds 0 = not a default router
 * @param reachableTimeMillis 0 = unspecified
 * @param retransTimerMillis 0 = unspecified
 * @param sourceLinkLayer the router's MAC (option 1), if sent
 */
public record RouterAdvertisement(
    int curHopLimit,
    int flags,
    int routerLifetimeSeconds,
    long reachableTimeMillis,
    long retransTimerMillis,
    Optional<MacAddress> sourceLinkLayer) {
  public static final int TYPE = 134;

  public RouterAdvertisement {
    if (curHopLimit < 0 || curHopLimit > 255)
      throw new IllegalArgumentException("cur hop limit " + curHopLimit + ", want 0-255");
    if (flags < 0 || flags > 255)
      throw new IllegalArgumentException("flags " + flags + ", want 0-255");
    ByteBufs.requireU16(routerLifetimeSeconds, "router lifetime");
    if (reachableTimeMillis < 0 || reachableTimeMillis > 0xffffffffL)
      throw new IllegalArgumentException("reachable time " + reachableTimeMillis);
    if (retransTimerMillis < 0 || retransTimerMillis > 0xffffffffL)
      throw new IllegalArgumentException("retrans timer " + retransTimerMillis);
  }

  /** Lifetime 0, no prefix, no flags: see the class comment. */
  public static RouterAdvertisement harmless(MacAddress self) {
    return new RouterAdvertisement(0, 0, 0, 0, 0, Optional.of(self));
  }

  public static RouterAdvertisement decode(ByteBuf in) {
    return ByteBufs.decoding(
        "router advertisement",
        in,
        b -> {
          NdpOptions.readIcmpHeader(b, TYPE, "router advertisement");
          int hop = b.readUnsignedByte();
          int flags = b.readUnsignedByte();
          int lifetime = b.readUnsignedShort();
          long reachable = b.readUnsignedInt();
          long retrans = b.readUnsignedInt();
          return new RouterAdvertisement(
              hop, flags, lifetime, reachable, retrans, NdpOptions.sourceLinkLayer(b));
        });
  }

  public void encode(ByteBuf out) {
    out.writeByte(TYPE); // Type
    out.writeByte(0); // Code
    out.writeShort(0); // Checksum: filled in by the kernel
    out.writeByte(curHopLimit); // Cur Hop Limit
    out.writeByte(flags); // M, O, Reserved
    out.writeShort(routerLifetimeSeconds); // Router Lifetime
    out.writeInt((int) reachableTimeMillis); // Reachable Time
    out.writeInt((int) retransTimerMillis); // Retrans Timer
    sourceLinkLayer.ifPresent(m -> NdpOptions.writeSourceLinkLayer(out, m));
  }
}

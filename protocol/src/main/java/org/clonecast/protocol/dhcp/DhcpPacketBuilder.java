package org.clonecast.protocol.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.clonecast.protocol.wire.MacAddress;

/**
 * Builds a {@link DhcpPacket} field by field; unset addresses are 0.0.0.0, unset fields zeros.
 *
 * <p>Not thread-safe; build one packet per builder.
 */
public final class DhcpPacketBuilder {
  private int op = BOOTREQUEST;
  private int htype = HTYPE_ETHERNET;
  private int hlen = MacAddress.LENGTH;
  private int hops;
  private int xid;
  private int secs;
  private int flags;
  private Inet4Address ciaddr = DhcpPacket.ZERO;
  private Inet4Address yiaddr = DhcpPacket.ZERO;
  private Inet4Address siaddr = DhcpPacket.ZERO;
  private Inet4Address giaddr = DhcpPacket.ZERO;
  private byte[] chaddr = new byte[CHADDR_LENGTH];
  private byte[] sname = new byte[SNAME_LENGTH];
  private byte[] file = new byte[FILE_LENGTH];
  private final List<DhcpOption> options = new ArrayList<>();

  /**
   * A BOOTREPLY to {@code request}: same htype, hlen, xid, flags, giaddr and chaddr (RFC 2131
   * §4.3.1 table 3).
   */
  public static DhcpPacketBuilder replyTo(DhcpPacket request) {
    DhcpPacketBuilder b = new DhcpPacketBuilder();
    b.op = BOOTREPLY;
    b.htype = request.htype();
    b.hlen = request.hlen();
    b.xid = request.xid();
    b.flags = request.flags();
    b.giaddr = request.giaddr();
    b.chaddr = request.chaddr();
    return b;
  }

  public DhcpPacketBuilder op(int v) {
    op = v;
    return this;
  }

  public DhcpPacketBuilder xid(int v) {
    xid = v;
    return this;
  }

  public DhcpPacketBuilder secs(int v) {
    secs = v;
    return this;
  }

  public DhcpPacketBuilder flags(int v) {
    flags = v;
    return this;
  }

  public DhcpPacketBuilder hops(int v) {
    hops = v;
    return this;
  }

  public DhcpPacketBuilder ciaddr(Inet4Address v) {
    ciaddr = v;
    return this;
  }

  public DhcpPacketBuilder yiaddr(Inet4Address v) {
    yiaddr = v;
    return this;
  }

  public DhcpPacketBuilder siaddr(Inet4Address v) {
    siaddr = v;
    return this;
  }

  public DhcpPacketBuilder giaddr(Inet4Address v) {
    giaddr = v;
    return this;
  }

  /** chaddr = {@code mac}, htype Ethernet, hlen 6. */
  public DhcpPacketBuilder mac(MacAddress mac) {
    htype = HTYPE_ETHERNET;
    hlen = MacAddress.LENGTH;
    chaddr = Arrays.copyOf(mac.toBytes(), CHADDR_LENGTH);
    return this;
  }

  /** The sname field from text (at most 63 octets). */
  public DhcpPacketBuilder sname(String text) {
    sname = DhcpPacket.field(text, SNAME_LENGTH);
    return this;
  }

  /** The file field from text (at most 127 octets). */
  public DhcpPacketBuilder file(String text) {
    file = DhcpPacket.field(text, FILE_LENGTH);
    return this;
  }

  /** Appends an option. */
  public DhcpPacketBuilder option(DhcpOption o) {
    options.add(o);
    return this;
  }

  /** Appends option 53. */
  public DhcpPacketBuilder type(DhcpMessageType t) {
    return option(new DhcpOption.MessageType(t));
  }

  public DhcpPacket build() {
    return new DhcpPacket(
        op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
        file, options);
  }
}

package org.clonecast.it.dhcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.dhcp.Dhcp;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.protocol.dhcp.DhcpOption;
import org.clonecast.protocol.dhcp.DhcpPacket;
import org.clonecast.protocol.dhcp.DhcpPacketBuilder;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * A PXE-like DHCP client for the proxyDHCP interop test, run inside an agent namespace (the IT
 * spawns it there with {@code java -cp}): does what EDK2 does in front of a site DHCP server and a
 * proxyDHCP server. It broadcasts a DISCOVER with option 60 "PXEClient:Arch:00007:UNDI:003000", 93
 * = 7 and a 97 GUID; collects the address offer and the proxy offer; REQUESTs the address from the
 * server that offered it; puts the address on eth0 (of its own namespace); then sends the
 * boot-server REQUEST from that address's port 4011 to the proxy's port 4011 and prints the ACK.
 *
 * <p>Prints one line per step ({@code address-offer ...}, {@code proxy-offer ...}, {@code
 * address-ack ...}, {@code boot-ack ...}) and exits 0 only when every step succeeded.
 *
 * <p>Arguments: MAC, interface (eth0). Single-threaded.
 */
public final class PxeClient {
  private static final byte[] GUID = {
    0,
    0x11,
    0x22,
    0x33,
    0x44,
    0x55,
    0x66,
    0x77,
    (byte) 0x88,
    (byte) 0x99,
    (byte) 0xaa,
    (byte) 0xbb,
    (byte) 0xcc,
    (byte) 0xdd,
    (byte) 0xee,
    (byte) 0xff,
    0x10
  };
  private static final String VENDOR = "PXEClient:Arch:00007:UNDI:003000";
  private static final Inet4Address BROADCAST = Ipv4.fromInt(-1);

  private PxeClient() {}

  public static void main(String[] args) throws Exception {
    MacAddress mac = MacAddress.parse(args[0]);
    String iface = args[1];
    int xid = (int) (System.nanoTime() ^ mac.bits());
    try (DatagramSocket s = new DatagramSocket(null)) {
      s.setReuseAddress(true);
      s.setBroadcast(true);
      s.bind(new InetSocketAddress(Dhcp.CLIENT_PORT));
      s.setSoTimeout(500);
      DhcpPacket discover = base(mac, xid, DhcpMessageType.DISCOVER).build();
      DhcpPacket addressOffer = null;
      DhcpPacket proxyOffer = null;
      // Like the firmware: resend the DISCOVER until both offers arrived (at most 8 s).
      for (int round = 0; round < 4 && (addressOffer == null || proxyOffer == null); round++) {
        send(s, discover, new InetSocketAddress(BROADCAST, Dhcp.SERVER_PORT));
        long end = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < end && (addressOffer == null || proxyOffer == null)) {
          Optional<DhcpPacket> p = receive(s, xid);
          if (p.isEmpty() || p.get().messageType().orElse(null) != DhcpMessageType.OFFER) {
            continue;
          }
          if (Ipv4.toInt(p.get().yiaddr()) != 0) {
            addressOffer = p.get();
            System.out.println(
                "address-offer yiaddr="
                    + addressOffer.yiaddr().getHostAddress()
                    + " server="
                    + addressOffer
                        .address(Dhcp.OPT_SERVER_ID)
                        .map(Inet4Address::getHostAddress)
                        .orElse("?"));
          } else if (p.get().text(Dhcp.OPT_VENDOR_CLASS_ID).orElse("").startsWith("PXEClient")) {
            proxyOffer = p.get();
            System.out.println(
                "proxy-offer file="
                    + proxyOffer.fileText()
                    + " siaddr="
                    + proxyOffer.siaddr().getHostAddress()
                    + " server="
                    + proxyOffer
                        .address(Dhcp.OPT_SERVER_ID)
                        .map(Inet4Address::getHostAddress)
                        .orElse("?")
                    + " guid-echoed="
                    + proxyOffer
                        .octets(Dhcp.OPT_CLIENT_GUID)
                        .map(g -> Arrays.equals(g, GUID))
                        .orElse(false));
          }
        }
      }
      if (addressOffer == null || proxyOffer == null) {
        System.out.println(
            "FAILED: address offer "
                + (addressOffer != null)
                + ", proxy offer "
                + (proxyOffer != null));
        System.exit(1);
      }
      Inet4Address ip = addressOffer.yiaddr();
      Inet4Address dhcpServer = addressOffer.address(Dhcp.OPT_SERVER_ID).orElseThrow();
      DhcpPacket request =
          base(mac, xid, DhcpMessageType.REQUEST)
              .option(new DhcpOption.Address(Dhcp.OPT_SERVER_ID, dhcpServer))
              .option(new DhcpOption.Address(Dhcp.OPT_REQUESTED_IP, ip))
              .build();
      DhcpPacket ack = null;
      for (int round = 0; round < 4 && ack == null; round++) {
        send(s, request, new InetSocketAddress(BROADCAST, Dhcp.SERVER_PORT));
        long end = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < end && ack == null) {
          Optional<DhcpPacket> p = receive(s, xid);
          if (p.isPresent()
              && p.get().messageType().orElse(null) == DhcpMessageType.ACK
              && p.get().address(Dhcp.OPT_SERVER_ID).equals(Optional.of(dhcpServer))) {
            ack = p.get();
          }
        }
      }
      if (ack == null) {
        System.out.println("FAILED: no ACK from " + dhcpServer.getHostAddress());
        System.exit(1);
      }
      System.out.println("address-ack yiaddr=" + ack.yiaddr().getHostAddress());
      run("ip", "addr", "add", ip.getHostAddress() + "/24", "dev", iface);
      Inet4Address proxy = proxyOffer.address(Dhcp.OPT_SERVER_ID).orElseThrow();
      // EDK2: REQUEST from port 4011 to port 4011 with ciaddr set; the ACK comes back to that port.
      try (DatagramSocket b = new DatagramSocket(new InetSocketAddress(ip, Dhcp.PXE_PORT))) {
        b.setSoTimeout(500);
        DhcpPacket bootRequest = base(mac, xid + 1, DhcpMessageType.REQUEST).ciaddr(ip).build();
        for (int round = 0; round < 4; round++) {
          send(b, bootRequest, new InetSocketAddress(proxy, Dhcp.PXE_PORT));
          long end = System.nanoTime() + 2_000_000_000L;
          while (System.nanoTime() < end) {
            Optional<DhcpPacket> p = receive(b, xid + 1);
            if (p.isPresent() && p.get().messageType().orElse(null) == DhcpMessageType.ACK) {
              DhcpPacket a = p.get();
              System.out.println(
                  "boot-ack file="
                      + a.fileText()
                      + " siaddr="
                      + a.siaddr().getHostAddress()
                      + " sname="
                      + a.snameText()
                      + " vendor="
                      + a.text(Dhcp.OPT_VENDOR_CLASS_ID).orElse("-")
                      + " guid-echoed="
                      + a.octets(Dhcp.OPT_CLIENT_GUID)
                          .map(g -> Arrays.equals(g, GUID))
                          .orElse(false));
              System.exit(0);
            }
          }
        }
      }
      System.out.println("FAILED: no ACK on port 4011 from " + proxy.getHostAddress());
      System.exit(1);
    }
  }

  private static DhcpPacketBuilder base(MacAddress mac, int xid, DhcpMessageType type) {
    // The broadcast flag: without an address yet, a plain socket cannot receive a unicast OFFER
    // (dnsmasq unicasts to yiaddr otherwise; firmware with raw sockets can).
    return new DhcpPacketBuilder()
        .xid(xid)
        .mac(mac)
        .type(type)
        .flags(Dhcp.FLAG_BROADCAST)
        .option(new DhcpOption.MaxMessageSize(1472))
        .option(
            new DhcpOption.ParameterRequestList(
                List.of(1, 3, 6, 12, 13, 15, 43, 60, 66, 67, 128, 129, 130)))
        .option(new DhcpOption.Unknown(Dhcp.OPT_CLIENT_GUID, GUID))
        .option(new DhcpOption.Unknown(Dhcp.OPT_CLIENT_NDI, new byte[] {1, 3, 0}))
        .option(new DhcpOption.ClientArch(List.of(7)))
        .option(new DhcpOption.Text(Dhcp.OPT_VENDOR_CLASS_ID, VENDOR));
  }

  private static void send(DatagramSocket s, DhcpPacket p, InetSocketAddress to)
      throws IOException {
    ByteBuf b = Unpooled.buffer();
    p.encode(b);
    byte[] bytes = new byte[b.readableBytes()];
    b.readBytes(bytes);
    s.send(new DatagramPacket(bytes, bytes.length, to));
  }

  private static Optional<DhcpPacket> receive(DatagramSocket s, int xid) throws IOException {
    byte[] buf = new byte[1500];
    DatagramPacket d = new DatagramPacket(buf, buf.length);
    try {
      s.receive(d);
    } catch (SocketTimeoutException e) {
      return Optional.empty();
    }
    try {
      DhcpPacket p = DhcpPacket.decode(Unpooled.wrappedBuffer(buf, 0, d.getLength()));
      return p.op() == Dhcp.BOOTREPLY && p.xid() == xid ? Optional.of(p) : Optional.empty();
    } catch (MalformedPacketException e) {
      System.out.println("malformed reply from " + d.getSocketAddress() + ": " + e.getMessage());
      return Optional.empty();
    }
  }

  private static void run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed");
    }
  }
}

package org.clonecast.server.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.protocol.dhcp.DhcpPacket;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.boot.BootFileSelector;
import org.clonecast.server.config.BootConfig;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real sockets, on loopback only: both are tied to their device with SO_BINDTODEVICE (read back
 * from the kernel), and the port-4011 boot-server exchange works end to end; garbage sent to it
 * does not stop it.
 */
class DhcpServerTest {
  @TempDir Path dir;

  @Test
  void socketsAreBoundToTheDeviceAndAnswerOnLoopback() throws Exception {
    Assumptions.assumeTrue(Transport.epoll(), "epoll transport");
    InetAddress lo = InetAddress.getByName("127.0.0.1");
    DhcpConfig config =
        new DhcpConfig(
            DhcpConfig.Mode.PROXY,
            Optional.empty(),
            600,
            Optional.empty(),
            List.of(),
            Optional.empty(),
            0,
            0,
            List.of());
    try (Database db = Database.open(dir)) {
      NodeStore nodes = new NodeStore(db, Clock.systemUTC());
      EventLog events = new EventLog(db, Clock.systemUTC());
      var self = Ipv4.parse("127.0.0.1");
      DhcpResponder r =
          new DhcpResponder(
              config,
              self,
              8,
              new BootFileSelector(
                  new BootConfig(
                      Path.of("/usr/lib/ipxe"),
                      "ipxe.efi",
                      "",
                      true,
                      "undionly.kpxe",
                      "snp-arm64.efi"),
                  self,
                  () -> 8080),
              List.of());
      DhcpStats stats = new DhcpStats();
      try (DhcpServer server =
              DhcpServer.start(config, "lo", lo, r, stats, db, events, nodes, Clock.systemUTC());
          DatagramSocket client = new DatagramSocket(new InetSocketAddress(lo, 0))) {
        assertArrayEquals(new String[] {"lo", "lo"}, server.boundDevices());
        client.setSoTimeout(10_000);
        InetSocketAddress boot = new InetSocketAddress(lo, server.proxyPort());
        client.send(new DatagramPacket(new byte[] {9, 9, 9}, 3, boot));
        DhcpPacket req = DhcpHandlerTest.pxe(DhcpMessageType.REQUEST, 7).ciaddr(self).build();
        ByteBuf b = Unpooled.buffer();
        req.encode(b);
        byte[] bytes = new byte[b.readableBytes()];
        b.readBytes(bytes);
        client.send(new DatagramPacket(bytes, bytes.length, boot));
        byte[] in = new byte[1500];
        DatagramPacket reply = new DatagramPacket(in, in.length);
        client.receive(reply);
        DhcpPacket ack = DhcpPacket.decode(Unpooled.wrappedBuffer(in, 0, reply.getLength()));
        assertEquals(Optional.of(DhcpMessageType.ACK), ack.messageType());
        assertEquals(req.xid(), ack.xid());
        assertEquals("ipxe.efi", ack.fileText());
        assertEquals(Optional.of("PXEClient"), ack.text(OPT_VENDOR_CLASS_ID));
        assertEquals(1, stats.malformed());
        assertEquals(1, stats.tx(DhcpMessageType.ACK));
      }
    }
  }

  @Test
  void interfaceNamesAreChecked() {
    assertEquals(16, DhcpServer.deviceName("eth0").remaining());
    assertThrows(IllegalArgumentException.class, () -> DhcpServer.deviceName("a-very-long-ifname"));
    assertThrows(IllegalArgumentException.class, () -> DhcpServer.deviceName(""));
  }
}

package org.clonecast.server.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/** The Netty shells on 127.0.0.1, port 0: UDP, TCP framing, truncation then TCP, forwarding. */
class DnsServerTest {
  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private EventLoopGroup group;
  private final List<DnsServer> servers = new ArrayList<>();
  private final Fixtures.Directory dir = new Fixtures.Directory().set("node01", "10.77.0.11");

  @BeforeEach
  void setUp() {
    group = Transport.group(2, "dns-test");
  }

  @AfterEach
  void tearDown() {
    servers.forEach(DnsServer::close);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private DnsServer start(DnsZone.Spec spec, HostDirectory d, Optional<DnsForwarder> fwd)
      throws InterruptedException {
    DnsAuthority resolver = new DnsAuthority(spec, d, 1, fwd.isPresent());
    // Port 0: UDP takes an ephemeral port and TCP the same number, which another process on the
    // machine may hold (seen once in CI: "Address already in use"). A few tries, each a new port.
    for (int attempt = 1; ; attempt++) {
      try {
        DnsServer s =
            DnsServer.start(
                group, List.of(LOOPBACK), 0, new DnsResponder(resolver, new DnsStats()), fwd);
        servers.add(s);
        return s;
      } catch (Exception e) { // Netty rethrows the bind's IOException unchecked
        if (attempt == 5 || !String.valueOf(e.getMessage()).contains("Address already in use")) {
          throw e;
        }
      }
    }
  }

  private static SimpleResolver client(int port, boolean tcp) {
    SimpleResolver r = new SimpleResolver(new InetSocketAddress(LOOPBACK, port));
    r.setTCP(tcp);
    r.setTimeout(Duration.ofSeconds(5));
    return r;
  }

  @Test
  void answersOverUdpAndTcp() throws Exception {
    DnsServer s = start(Fixtures.spec(24), dir, Optional.empty());
    for (boolean tcp : new boolean[] {false, true}) {
      Message r = client(s.port(), tcp).send(Fixtures.query("node01.cluster.internal", Type.A));
      assertEquals(Rcode.NOERROR, r.getRcode());
      assertEquals("10.77.0.11", r.getSection(Section.ANSWER).get(0).rdataToString());
      assertEquals(
          Rcode.REFUSED,
          client(s.port(), tcp).send(Fixtures.query("example.com", Type.A)).getRcode());
    }
    assertEquals(4, s.stats().queries.sum());
  }

  /** What dig does: a 512-byte UDP answer with TC, then the same query over TCP gets everything. */
  @Test
  void truncatedUdpThenTcpRetry() throws Exception {
    dir.setBig();
    DnsServer s = start(Fixtures.spec(24), dir, Optional.empty());
    byte[] q = Fixtures.query("big.cluster.internal", Type.A).toWire();

    byte[] udpAnswer;
    try (DatagramSocket sock = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
      sock.setSoTimeout(5000);
      sock.send(new DatagramPacket(q, q.length, LOOPBACK, s.port()));
      DatagramPacket in = new DatagramPacket(new byte[65536], 65536);
      sock.receive(in);
      udpAnswer = Arrays.copyOf(in.getData(), in.getLength());
    }
    assertTrue(udpAnswer.length <= 512);
    assertTrue(new Message(udpAnswer).getHeader().getFlag(Flags.TC));
    assertEquals(1, s.stats().truncated.sum());

    // Two queries pipelined on one connection, each with its 2-byte length (RFC 7766 §6.2.1.1).
    try (Socket tcp = new Socket(LOOPBACK, s.port())) {
      tcp.setSoTimeout(5000);
      DataOutputStream out = new DataOutputStream(tcp.getOutputStream());
      byte[] q2 = Fixtures.query("node01.cluster.internal", Type.A).toWire();
      byte[] both = new byte[4 + q.length + q2.length];
      ByteBuffer.wrap(both).putShort((short) q.length).put(q).putShort((short) q2.length).put(q2);
      out.write(both);
      out.flush();
      DataInputStream in = new DataInputStream(tcp.getInputStream());
      byte[] first = new byte[in.readUnsignedShort()];
      in.readFully(first);
      Message full = new Message(first);
      assertFalse(full.getHeader().getFlag(Flags.TC));
      assertEquals(60, full.getSection(Section.ANSWER).size());
      byte[] second = new byte[in.readUnsignedShort()];
      in.readFully(second);
      assertEquals(
          Rcode.NXDOMAIN, new Message(second).getRcode(), "node01 is gone from this inventory");
    }

    // dnsjava's own client does the same retry by itself.
    Message viaClient =
        client(s.port(), false).send(Fixtures.query("big.cluster.internal", Type.A));
    assertEquals(60, viaClient.getSection(Section.ANSWER).size());
  }

  @Test
  void garbageDoesNotStopTheServer() throws Exception {
    DnsServer s = start(Fixtures.spec(24), dir, Optional.empty());
    try (DatagramSocket sock = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
      sock.setSoTimeout(5000);
      for (byte[] junk :
          new byte[][] {{}, {1, 2, 3}, new byte[12], Fixtures.golden("dig-a-noedns")}) {
        if (junk.length == Fixtures.golden("dig-a-noedns").length) {
          junk = Arrays.copyOf(junk, junk.length - 3); // cut inside the question
        }
        sock.send(new DatagramPacket(junk, junk.length, LOOPBACK, s.port()));
      }
      // new byte[12]: a readable header (QR=0, no question) gets FORMERR; the cut query too.
      for (int i = 0; i < 2; i++) {
        DatagramPacket in = new DatagramPacket(new byte[512], 512);
        sock.receive(in);
        assertEquals(
            Rcode.FORMERR, new Message(Arrays.copyOf(in.getData(), in.getLength())).getRcode());
      }
    }
    // A TCP frame that is not DNS, then the connection still answers a real query.
    try (Socket tcp = new Socket(LOOPBACK, s.port())) {
      tcp.setSoTimeout(5000);
      DataOutputStream out = new DataOutputStream(tcp.getOutputStream());
      out.writeShort(5);
      out.write(new byte[] {9, 9, 9, 9, 9});
      byte[] q = Fixtures.query("node01.cluster.internal", Type.A).toWire();
      out.writeShort(q.length);
      out.write(q);
      out.flush();
      DataInputStream in = new DataInputStream(tcp.getInputStream());
      byte[] a = new byte[in.readUnsignedShort()];
      in.readFully(a);
      assertEquals(Rcode.NOERROR, new Message(a).getRcode());
    }
    assertEquals(
        Rcode.NOERROR,
        client(s.port(), false).send(Fixtures.query("node01.cluster.internal", Type.A)).getRcode());
    assertEquals(
        4,
        s.stats().malformed.sum(),
        "empty, 3 bytes and the cut query over UDP; 5 bytes over TCP");
    assertEquals(0, s.stats().errors.sum());
  }

  /**
   * A second responder plays the site's resolver: only with forwarders do outside names resolve.
   */
  @Test
  void forwardsOutsideNamesOnlyWhenConfigured() throws Exception {
    DnsServer upstream =
        start(
            new DnsZone.Spec(DnsZone.Spec.origin("site.example"), Fixtures.SERVER, 24, 300),
            new Fixtures.Directory().set("mail", "192.0.2.25"),
            Optional.empty());
    InetSocketAddress up = new InetSocketAddress(LOOPBACK, upstream.port());
    // The first forwarder is dead (nothing listens on that port): the second one answers.
    int dead;
    try (DatagramSocket d = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0))) {
      dead = d.getLocalPort();
    }
    DnsServer s =
        start(
            Fixtures.spec(24),
            dir,
            Optional.of(
                new DnsForwarder(
                    List.of(new InetSocketAddress(LOOPBACK, dead), up), Duration.ofSeconds(1))));
    for (boolean tcp : new boolean[] {false, true}) {
      Message r = client(s.port(), tcp).send(Fixtures.query("mail.site.example", Type.A));
      assertEquals(Rcode.NOERROR, r.getRcode());
      assertTrue(r.getHeader().getFlag(Flags.RA));
      assertFalse(r.getHeader().getFlag(Flags.AA));
      assertEquals("192.0.2.25", r.getSection(Section.ANSWER).get(0).rdataToString());
      Message local = client(s.port(), tcp).send(Fixtures.query("node01.cluster.internal", Type.A));
      assertTrue(local.getHeader().getFlag(Flags.AA));
    }
    // The upstream refuses names it does not serve: the client gets that refusal (after all
    // forwarders).
    assertEquals(
        Rcode.REFUSED,
        client(s.port(), false).send(Fixtures.query("example.com", Type.A)).getRcode());
    assertEquals(3, s.stats().forwarded.sum());
  }
}

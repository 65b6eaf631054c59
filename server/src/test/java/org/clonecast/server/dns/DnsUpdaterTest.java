package org.clonecast.server.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.config.DnsUpdateConfig;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TSIG;
import org.xbill.DNS.Type;

/** The RFC 2136 messages and their TSIG signature; sending them to a real BIND is DnsLabIT's. */
class DnsUpdaterTest {
  private static final String SECRET = "q8Xw4cPl0y4n4Y3KXo1m6e0Vq8Xw4cPl0y4n4Y3KXo0=";
  private static final DnsUpdateConfig CONFIG =
      new DnsUpdateConfig(
          new InetSocketAddress("127.0.0.1", 53),
          "cluster.example.org",
          Optional.of("0.77.10.in-addr.arpa"),
          "clonecast-ddns",
          "hmac-sha256",
          SECRET);

  @Test
  void aLeaseReplacesTheNamesAddressAndPtr() throws Exception {
    try (DnsUpdater u = new DnsUpdater(CONFIG, 60, new DnsStats(), msg -> {})) {
      List<Message> m = u.started("node01", Ipv4.parse("10.77.0.11"));
      assertEquals(2, m.size());
      Message fwd = m.get(0);
      assertEquals(Opcode.UPDATE, fwd.getHeader().getOpcode());
      assertEquals(
          "cluster.example.org.", fwd.getSection(Section.ZONE).get(0).getName().toString());
      List<Record> upd = fwd.getSection(Section.UPDATE);
      // RFC 2136 §2.5.2: delete the RRset (class ANY, TTL 0), then §2.5.1: add the new record.
      assertEquals(DClass.ANY, upd.get(0).getDClass());
      assertEquals(Type.A, upd.get(0).getType());
      assertEquals("node01.cluster.example.org.", upd.get(1).getName().toString());
      assertEquals("10.77.0.11", upd.get(1).rdataToString());
      assertEquals(60, upd.get(1).getTTL());
      Message rev = m.get(1);
      assertEquals(
          "0.77.10.in-addr.arpa.", rev.getSection(Section.ZONE).get(0).getName().toString());
      assertEquals(
          "node01.cluster.example.org.", rev.getSection(Section.UPDATE).get(1).rdataToString());
    }
  }

  @Test
  void aLeaseEndDeletesExactlyThatRecord() {
    try (DnsUpdater u = new DnsUpdater(CONFIG, 60, new DnsStats(), msg -> {})) {
      List<Message> m = u.ended("node01", Ipv4.parse("10.77.0.11"));
      Record del = m.get(0).getSection(Section.UPDATE).get(0);
      // RFC 2136 §2.5.4: delete an RR from an RRset = class NONE with its rdata.
      assertEquals(DClass.NONE, del.getDClass());
      assertEquals("10.77.0.11", del.rdataToString());
      assertEquals(DClass.NONE, m.get(1).getSection(Section.UPDATE).get(0).getDClass());
      assertEquals(
          1, u.ended("far", Ipv4.parse("192.0.2.1")).size(), "no PTR outside the reverse zone");
    }
  }

  @Test
  void messagesAreSignedWithTheKey() throws Exception {
    TSIG key = DnsUpdater.tsig(CONFIG);
    try (DnsUpdater u = new DnsUpdater(CONFIG, 60, new DnsStats(), msg -> {})) {
      Message m = u.started("node01", Ipv4.parse("10.77.0.11")).get(0);
      m.setTSIG(key);
      byte[] wire = m.toWire(65535);
      Message back = new Message(wire);
      assertTrue(back.getTSIG() != null, "a TSIG record is appended");
      assertEquals(Rcode.NOERROR, key.verify(back, wire, null));
      TSIG wrong =
          new TSIG(
              TSIG.HMAC_SHA256, "clonecast-ddns.", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
      assertEquals(Rcode.BADSIG, wrong.verify(new Message(wire), wire, null));
    }
  }

  /**
   * Sent for real to a server that does not take updates (our own responder answers NOTIMP): the
   * update is not retried, the operator hears why, and the counters say so.
   */
  @Test
  void aRefusedUpdateIsReportedOnceAndNotRetried() throws Exception {
    EventLoopGroup group = Transport.group(1, "dns-update-test");
    DnsStats serverStats = new DnsStats();
    try (DnsServer server =
        DnsServer.start(
            group,
            List.of(InetAddress.getLoopbackAddress()),
            0,
            new DnsResponder(
                new DnsAuthority(Fixtures.spec(24), new Fixtures.Directory(), 1, false),
                serverStats),
            Optional.empty())) {
      DnsUpdateConfig c =
          new DnsUpdateConfig(
              new InetSocketAddress("127.0.0.1", server.port()),
              CONFIG.zone(),
              CONFIG.reverseZone(),
              CONFIG.keyName(),
              CONFIG.keyAlgorithm(),
              CONFIG.keySecret());
      LinkedBlockingQueue<String> failures = new LinkedBlockingQueue<>();
      DnsStats stats = new DnsStats();
      try (DnsUpdater u = new DnsUpdater(c, 60, stats, failures::add)) {
        u.leaseStarted("node01", Ipv4.parse("10.77.0.11"));
        String first = failures.poll(10, TimeUnit.SECONDS);
        String second = failures.poll(10, TimeUnit.SECONDS);
        assertTrue(
            first != null
                && first.contains("add node01 10.77.0.11 in cluster.example.org.")
                && first.contains("answered NOTIMP")
                && first.contains("after 1 attempt"),
            String.valueOf(first));
        assertTrue(
            second != null && second.contains("in 0.77.10.in-addr.arpa."), String.valueOf(second));
        assertEquals(2, stats.updatesFailed.sum());
        assertEquals(0, stats.updatesSent.sum());
        assertEquals(
            2, serverStats.answers(Rcode.NOTIMP), "each update reached the server exactly once");
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}

package org.clonecast.server.dns;

import static org.clonecast.server.dns.Fixtures.query;
import static org.clonecast.server.dns.Fixtures.withEdns;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.NSRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

class DnsAuthorityTest {
  private final Fixtures.Directory dir =
      new Fixtures.Directory().set("node01", "10.77.0.11", "node02", "10.77.0.12");
  private final DnsAuthority resolver = new DnsAuthority(Fixtures.spec(24), dir, 1000, false);

  private Message answer(Message q) {
    DnsAuthority.Decision d = resolver.resolve(q);
    return assertInstanceOf(DnsAuthority.Decision.Answer.class, d).response();
  }

  private static List<String> rdata(Message r, int section) {
    return r.getSection(section).stream().map(Record::rdataToString).collect(Collectors.toList());
  }

  @Test
  void aRecordOfAHost() {
    Message q = query("node01.cluster.internal", Type.A);
    Message r = answer(q);
    assertEquals(Rcode.NOERROR, r.getRcode());
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertTrue(r.getHeader().getFlag(Flags.QR));
    assertTrue(r.getHeader().getFlag(Flags.AA));
    assertTrue(r.getHeader().getFlag(Flags.RD), "RD is copied");
    assertFalse(r.getHeader().getFlag(Flags.RA), "no recursion without forwarders");
    assertEquals(q.getQuestion(), r.getQuestion());
    assertEquals(List.of("10.77.0.11"), rdata(r, Section.ANSWER));
    assertEquals(60, r.getSection(Section.ANSWER).get(0).getTTL());
    assertNull(r.getOPT(), "no OPT in the answer to a query without one");
  }

  @Test
  void namesAreCaseInsensitiveAndTheQueryCaseIsKept() {
    Message r = answer(query("NoDe02.Cluster.INTERNAL", Type.A));
    assertEquals(List.of("10.77.0.12"), rdata(r, Section.ANSWER));
    assertEquals(
        "NoDe02.Cluster.INTERNAL.", r.getSection(Section.ANSWER).get(0).getName().toString());
  }

  @Test
  void ptrInTheReverseZone() {
    Message r = answer(query("12.0.77.10.in-addr.arpa", Type.PTR));
    assertEquals(Rcode.NOERROR, r.getRcode());
    assertTrue(r.getHeader().getFlag(Flags.AA));
    PTRRecord ptr = (PTRRecord) r.getSection(Section.ANSWER).get(0);
    assertEquals("node02.cluster.internal.", ptr.getTarget().toString());
  }

  @Test
  void unknownNamesAndAddressesInTheZonesAreNxdomainWithTheSoa() {
    for (Message q :
        List.of(
            query("nope.cluster.internal", Type.A),
            query("99.0.77.10.in-addr.arpa", Type.PTR),
            query("a.b.node01.cluster.internal", Type.A))) {
      Message r = answer(q);
      assertEquals(Rcode.NXDOMAIN, r.getRcode(), q.getQuestion().toString());
      assertTrue(r.getHeader().getFlag(Flags.AA));
      assertTrue(r.getSection(Section.ANSWER).isEmpty());
      SOARecord soa = (SOARecord) r.getSection(Section.AUTHORITY).get(0);
      assertTrue(q.getQuestion().getName().subdomain(soa.getName()), soa.toString());
      assertEquals(60, soa.getMinimum());
    }
  }

  @Test
  void anExistingNameWithoutTheTypeIsNodata() {
    Message r = answer(query("node01.cluster.internal", Type.AAAA));
    assertEquals(Rcode.NOERROR, r.getRcode());
    assertTrue(r.getSection(Section.ANSWER).isEmpty());
    assertEquals(Type.SOA, r.getSection(Section.AUTHORITY).get(0).getType());
  }

  @Test
  void apexHasSoaAndNsAndNsHasTheServerAddress() {
    Message soa = answer(query("cluster.internal", Type.SOA));
    SOARecord s = (SOARecord) soa.getSection(Section.ANSWER).get(0);
    assertEquals("ns.cluster.internal.", s.getHost().toString());
    assertEquals(1000, s.getSerial());
    Message ns = answer(query("cluster.internal", Type.NS));
    assertEquals(
        "ns.cluster.internal.",
        ((NSRecord) ns.getSection(Section.ANSWER).get(0)).getTarget().toString());
    assertEquals(
        List.of("10.77.0.1"), rdata(answer(query("ns.cluster.internal", Type.A)), Section.ANSWER));
    Message rev = answer(query("0.77.10.in-addr.arpa", Type.SOA));
    assertEquals(Type.SOA, rev.getSection(Section.ANSWER).get(0).getType());
    Message any = answer(query("cluster.internal", Type.ANY));
    assertEquals(
        List.of(Type.SOA, Type.NS),
        any.getSection(Section.ANSWER).stream().map(Record::getType).toList());
  }

  @Test
  void everythingOutsideTheZonesIsRefused() {
    for (Message q :
        List.of(
            query("example.com", Type.A),
            query("internal", Type.SOA),
            query(".", Type.NS),
            query("1.0.78.10.in-addr.arpa", Type.PTR),
            query("in-addr.arpa", Type.NS),
            query("node01.cluster.internal", Type.TXT, DClass.CH),
            query("version.bind", Type.TXT, DClass.CH))) {
      Message r = answer(q);
      assertEquals(Rcode.REFUSED, r.getRcode(), q.getQuestion().toString());
      assertFalse(r.getHeader().getFlag(Flags.AA));
      assertTrue(r.getSection(Section.ANSWER).isEmpty());
    }
  }

  @Test
  void zoneTransfersAreRefused() {
    assertEquals(Rcode.REFUSED, answer(query("cluster.internal", Type.AXFR)).getRcode());
    assertEquals(Rcode.REFUSED, answer(query("cluster.internal", Type.IXFR)).getRcode());
  }

  @Test
  void forwardersMakeOutsideNamesAForwardAndSetRa() {
    DnsAuthority r = new DnsAuthority(Fixtures.spec(24), dir, 1, true);
    Message q = query("example.com", Type.A);
    DnsAuthority.Decision.Forward f =
        assertInstanceOf(DnsAuthority.Decision.Forward.class, r.resolve(q));
    assertEquals(q, f.query());
    Message inZone =
        assertInstanceOf(
                DnsAuthority.Decision.Answer.class,
                r.resolve(query("node01.cluster.internal", Type.A)))
            .response();
    assertTrue(inZone.getHeader().getFlag(Flags.RA));
    assertInstanceOf(
        DnsAuthority.Decision.Answer.class,
        r.resolve(query("version.bind", Type.TXT, DClass.CH)),
        "only class IN is forwarded");
  }

  @Test
  void otherOpcodesAreNotImplemented() {
    for (int op : new int[] {Opcode.IQUERY, Opcode.STATUS, Opcode.NOTIFY, Opcode.UPDATE, 3, 15}) {
      Message q = query("node01.cluster.internal", Type.A);
      q.getHeader().setOpcode(op);
      Message r = answer(q);
      assertEquals(Rcode.NOTIMP, r.getRcode(), "opcode " + op);
      assertEquals(op, r.getHeader().getOpcode());
    }
  }

  @Test
  void zeroOrTwoQuestionsAreFormatErrors() {
    Message none = new Message();
    assertEquals(Rcode.FORMERR, answer(none).getRcode());
    Message two = query("node01.cluster.internal", Type.A);
    two.addRecord(
        Record.newRecord(Name.fromConstantString("node02.cluster.internal."), Type.A, DClass.IN),
        Section.QUESTION);
    Message r = answer(two);
    assertEquals(Rcode.FORMERR, r.getRcode());
    assertTrue(r.getSection(Section.QUESTION).isEmpty());
  }

  @Test
  void ednsIsEchoedAndUnknownVersionsGetBadvers() {
    Message r = answer(withEdns(query("node01.cluster.internal", Type.A), 4096, 0));
    assertNotNull(r.getOPT());
    assertEquals(DnsAuthority.EDNS_PAYLOAD, r.getOPT().getPayloadSize());
    assertEquals(0, r.getOPT().getVersion());
    assertEquals(Rcode.NOERROR, r.getRcode());

    Message bad = answer(withEdns(query("node01.cluster.internal", Type.A), 4096, 1));
    assertEquals(Rcode.BADVERS, bad.getRcode());
    assertEquals(1, bad.getOPT().getExtendedRcode());
    assertEquals(0, bad.getOPT().getVersion());
    assertTrue(bad.getSection(Section.ANSWER).isEmpty());

    Message twoOpts =
        withEdns(withEdns(query("node01.cluster.internal", Type.A), 1232, 0), 1232, 0);
    assertEquals(Rcode.FORMERR, answer(twoOpts).getRcode());
  }

  @Test
  void aRenameShowsAtOnceAndBumpsTheSerial() {
    assertEquals(Rcode.NOERROR, answer(query("node01.cluster.internal", Type.A)).getRcode());
    long serial = resolver.zone().serial();
    dir.set("web01", "10.77.0.11", "node02", "10.77.0.12");
    assertEquals(Rcode.NXDOMAIN, answer(query("node01.cluster.internal", Type.A)).getRcode());
    assertEquals(
        List.of("10.77.0.11"),
        rdata(answer(query("web01.cluster.internal", Type.A)), Section.ANSWER));
    assertEquals(
        "web01.cluster.internal.",
        ((PTRRecord)
                answer(query("11.0.77.10.in-addr.arpa", Type.PTR))
                    .getSection(Section.ANSWER)
                    .get(0))
            .getTarget()
            .toString());
    assertEquals(serial + 1, resolver.zone().serial());
    dir.set("web01", "10.77.0.11", "node02", "10.77.0.12");
    assertEquals(serial + 1, resolver.zone().serial(), "an equal list keeps the serial");
  }

  @Test
  void aNameWithSeveralAddressesHasSeveralRecordsAndSharedAddressesSeveralPtrs() {
    dir.set("multi", "10.77.0.21", "multi", "10.77.0.22", "other", "10.77.0.21");
    assertEquals(
        List.of("10.77.0.21", "10.77.0.22"),
        rdata(answer(query("multi.cluster.internal", Type.A)), Section.ANSWER));
    assertEquals(
        2, answer(query("21.0.77.10.in-addr.arpa", Type.PTR)).getSection(Section.ANSWER).size());
  }

  @Test
  void aHostCalledNsDoesNotTakeTheServersName() {
    dir.set("ns", "10.77.0.50");
    assertEquals(
        List.of("10.77.0.1"), rdata(answer(query("ns.cluster.internal", Type.A)), Section.ANSWER));
    assertEquals(Rcode.NXDOMAIN, answer(query("50.0.77.10.in-addr.arpa", Type.PTR)).getRcode());
  }

  @Test
  void hostsOutsideTheSubnetHaveAButNoPtr() {
    dir.set("far", "192.0.2.7");
    assertEquals(
        List.of("192.0.2.7"), rdata(answer(query("far.cluster.internal", Type.A)), Section.ANSWER));
    assertEquals(Rcode.REFUSED, answer(query("7.2.0.192.in-addr.arpa", Type.PTR)).getRcode());
  }

  @Test
  void sixteenBitReverseZoneHasEmptyNonTerminals() {
    Fixtures.Directory d = new Fixtures.Directory().set("n", "10.77.3.4");
    DnsAuthority r =
        new DnsAuthority(
            new DnsZone.Spec(DnsZone.Spec.origin("c.test"), Fixtures.SERVER, 16, 30), d, 1, false);
    Message ent =
        assertInstanceOf(
                DnsAuthority.Decision.Answer.class,
                r.resolve(query("3.77.10.in-addr.arpa", Type.PTR)))
            .response();
    assertEquals(Rcode.NOERROR, ent.getRcode(), "3.77.10.in-addr.arpa exists: it has a child");
    assertTrue(ent.getSection(Section.ANSWER).isEmpty());
    Message nx =
        assertInstanceOf(
                DnsAuthority.Decision.Answer.class,
                r.resolve(query("9.77.10.in-addr.arpa", Type.PTR)))
            .response();
    assertEquals(Rcode.NXDOMAIN, nx.getRcode());
    Message ptr =
        assertInstanceOf(
                DnsAuthority.Decision.Answer.class,
                r.resolve(query("4.3.77.10.in-addr.arpa", Type.PTR)))
            .response();
    assertEquals(
        "n.c.test.", ((PTRRecord) ptr.getSection(Section.ANSWER).get(0)).getTarget().toString());
  }

  @Test
  void forwardedAnswersGetOurIdFlagsAndEdns() {
    DnsAuthority r = new DnsAuthority(Fixtures.spec(24), dir, 1, true);
    Message q = withEdns(query("example.com", Type.A), 1232, 0);
    Message upstream = new Message(4242);
    upstream.getHeader().setFlag(Flags.QR);
    upstream.getHeader().setFlag(Flags.AA);
    upstream.addRecord(q.getQuestion(), Section.QUESTION);
    upstream.addRecord(
        new ARecord(Name.fromConstantString("example.com."), DClass.IN, 300, Fixtures.SERVER),
        Section.ANSWER);
    upstream.addRecord(new OPTRecord(4096, 0, 0, 0), Section.ADDITIONAL);
    Message out = r.fromForwarder(q, upstream);
    assertEquals(q.getHeader().getID(), out.getHeader().getID());
    assertNotEquals(4242, out.getHeader().getID());
    assertTrue(out.getHeader().getFlag(Flags.RA));
    assertFalse(out.getHeader().getFlag(Flags.AA), "a forwarded answer is not ours");
    assertEquals(List.of("10.77.0.1"), rdata(out, Section.ANSWER));
    assertEquals(DnsAuthority.EDNS_PAYLOAD, out.getOPT().getPayloadSize());
    assertEquals(1, out.getSection(Section.ADDITIONAL).size(), "one OPT, ours");
  }
}

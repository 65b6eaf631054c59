package org.clonecast.server.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.clonecast.protocol.wire.Ipv4;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** Properties of the responder over random packets and random inventories. */
class DnsPropertiesTest {
  @Property(tries = 2000)
  void randomBytesGetFormerrAnAnswerOrSilenceNeverAnException(
      @ForAll @Size(max = 600) byte[] packet) throws Exception {
    DnsStats stats = new DnsStats();
    DnsResponder r =
        new DnsResponder(
            new DnsAuthority(
                Fixtures.spec(24), new Fixtures.Directory().set("node01", "10.77.0.11"), 1, false),
            stats);
    DnsResponder.Outcome o = r.respond(packet, false);
    if (packet.length < Header.LENGTH || (packet[2] & 0x80) != 0) {
      assertInstanceOf(DnsResponder.Outcome.Silence.class, o);
      return;
    }
    Message reply = new Message(assertInstanceOf(DnsResponder.Outcome.Reply.class, o).wire());
    assertEquals((packet[0] & 0xff) << 8 | (packet[1] & 0xff), reply.getHeader().getID());
    assertTrue(reply.getHeader().getFlag(Flags.QR));
    assertEquals(0, stats.errors.sum());
  }

  /** A random inventory: every host's name gives its addresses, every address gives its names. */
  @Property(tries = 300)
  void everyHostResolvesBothWays(@ForAll("inventories") Map<String, String> inventory)
      throws Exception {
    List<String> flat = new ArrayList<>();
    inventory.forEach(
        (name, ip) -> {
          flat.add(name);
          flat.add(ip);
        });
    DnsAuthority resolver =
        new DnsAuthority(
            Fixtures.spec(24), new Fixtures.Directory().set(flat.toArray(String[]::new)), 1, false);
    Map<String, Set<String>> names = new TreeMap<>();
    inventory.forEach(
        (name, ip) -> {
          if (!name.equals("ns")) {
            names.computeIfAbsent(ip, k -> new TreeSet<>()).add(name + ".cluster.internal.");
          }
        });
    for (Map.Entry<String, String> e : inventory.entrySet()) {
      if (e.getKey().equals("ns")) {
        continue;
      }
      Message a = answer(resolver, Fixtures.query(e.getKey() + ".CLUSTER.internal", Type.A));
      assertEquals(Set.of(e.getValue()), rdata(a));
      Message ptr =
          answer(
              resolver,
              Fixtures.query(
                  ReverseMap.fromAddress(Ipv4.parse(e.getValue())).toString(), Type.PTR));
      assertEquals(names.get(e.getValue()), rdata(ptr));
    }
  }

  @Property(tries = 300)
  void questionsAreEchoedAndNamesOutsideAreRefused(
      @ForAll("labels") String label, @ForAll("labels") String tld) throws Exception {
    DnsAuthority resolver = new DnsAuthority(Fixtures.spec(24), new Fixtures.Directory(), 1, false);
    Message q = Fixtures.query(label + "." + tld, Type.A);
    Message r = answer(resolver, q);
    assertEquals(q.getQuestion(), r.getQuestion());
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    boolean inZone = (label + "." + tld).toLowerCase(Locale.ROOT).endsWith("cluster.internal");
    assertEquals(inZone ? Rcode.NXDOMAIN : Rcode.REFUSED, r.getRcode());
  }

  private static Message answer(DnsAuthority r, Message q) {
    return assertInstanceOf(DnsAuthority.Decision.Answer.class, r.resolve(q)).response();
  }

  private static Set<String> rdata(Message m) {
    Set<String> out = new TreeSet<>();
    for (Record r : m.getSection(Section.ANSWER)) {
      out.add(r.rdataToString());
    }
    return out;
  }

  @Provide
  Arbitrary<String> labels() {
    return Arbitraries.strings()
        .withChars("abcXYZ019-")
        .ofMinLength(1)
        .ofMaxLength(20)
        .filter(s -> !s.startsWith("-") && !s.endsWith("-"));
  }

  @Provide
  Arbitrary<Map<String, String>> inventories() {
    Arbitrary<String> names =
        Arbitraries.strings()
            .withChars("abcns0-9")
            .ofMinLength(1)
            .ofMaxLength(8)
            .filter(s -> !s.startsWith("-") && !s.endsWith("-"));
    Arbitrary<String> ips = Arbitraries.integers().between(2, 254).map(i -> "10.77.0." + i);
    return Arbitraries.maps(names, ips).ofMaxSize(40);
  }
}

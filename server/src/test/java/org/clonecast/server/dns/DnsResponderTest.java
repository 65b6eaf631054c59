package org.clonecast.server.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The wire side: golden queries from dig 9.18, and a malformed corpus made from them. Whatever
 * comes in, the responder answers FORMERR (header readable, body not) or stays silent (no header,
 * or a response), and nothing escapes.
 */
class DnsResponderTest {
  private final Fixtures.Directory dir = new Fixtures.Directory().set("node01", "10.77.0.11");
  private final DnsStats stats = new DnsStats();
  private final DnsResponder responder =
      new DnsResponder(new DnsAuthority(Fixtures.spec(24), dir, 1, false), stats);

  private Message reply(byte[] packet, boolean tcp) throws Exception {
    DnsResponder.Outcome o = responder.respond(packet, tcp);
    return new Message(assertInstanceOf(DnsResponder.Outcome.Reply.class, o).wire());
  }

  @Test
  void goldenDigQueriesAreAnswered() throws Exception {
    Message a = reply(Fixtures.golden("dig-a-edns-cookie"), false);
    assertEquals(Rcode.NOERROR, a.getRcode());
    assertEquals("10.77.0.11", a.getSection(Section.ANSWER).get(0).rdataToString());
    assertNotNull(
        a.getOPT(),
        "dig sent EDNS with a cookie; the answer has an OPT (without a cookie: we keep none)");
    assertEquals(0, a.getOPT().getOptions().size());
    assertEquals(0x59b7, a.getHeader().getID());

    Message ptr = reply(Fixtures.golden("dig-ptr-edns-cookie"), false);
    assertEquals("node01.cluster.internal.", ptr.getSection(Section.ANSWER).get(0).rdataToString());

    Message noEdns = reply(Fixtures.golden("dig-a-noedns"), false);
    assertEquals(null, noEdns.getOPT());
    assertEquals(Rcode.NOERROR, noEdns.getRcode());

    assertEquals(
        Type.SOA,
        reply(Fixtures.golden("dig-soa-edns4096"), true)
            .getSection(Section.ANSWER)
            .get(0)
            .getType());
    assertEquals(Rcode.REFUSED, reply(Fixtures.golden("dig-mx-outside-noedns"), false).getRcode());
    assertEquals(5, stats.queries.sum());
    assertEquals(0, stats.malformed.sum());
  }

  @Test
  void responsesSentToUsAreIgnored() {
    byte[] p = Fixtures.golden("dig-a-noedns");
    p[2] |= (byte) 0x80;
    assertInstanceOf(DnsResponder.Outcome.Silence.class, responder.respond(p, false));
    assertEquals(1, stats.ignored.sum());
  }

  @Test
  void udpAnswersAreTruncatedToTheClientsLimitAndTcpIsNot() throws Exception {
    dir.setBig();
    byte[] noEdns = Fixtures.query("big.cluster.internal", Type.A).toWire();
    DnsResponder.Outcome.Reply udp =
        assertInstanceOf(DnsResponder.Outcome.Reply.class, responder.respond(noEdns, false));
    assertTrue(udp.wire().length <= 512, "length " + udp.wire().length);
    Message cut = new Message(udp.wire());
    assertTrue(cut.getHeader().getFlag(Flags.TC));
    assertEquals(1, stats.truncated.sum());

    Message full = reply(noEdns, true);
    assertEquals(60, full.getSection(Section.ANSWER).size());
    assertTrue(!full.getHeader().getFlag(Flags.TC));

    byte[] edns =
        Fixtures.withEdns(Fixtures.query("big.cluster.internal", Type.A), 4096, 0).toWire();
    Message big = reply(edns, false);
    assertEquals(
        60, big.getSection(Section.ANSWER).size(), "60 records fit in our 1232-byte EDNS limit");
    assertTrue(!big.getHeader().getFlag(Flags.TC));

    byte[] small =
        Fixtures.withEdns(Fixtures.query("big.cluster.internal", Type.A), 512, 0).toWire();
    Message smallCut = reply(small, false);
    assertTrue(smallCut.getHeader().getFlag(Flags.TC));
    assertNotNull(smallCut.getOPT(), "the OPT survives truncation (RFC 6891 §7)");
  }

  @Test
  void ednsLimitsAreClamped() {
    assertEquals(512, DnsResponder.udpLimit(Fixtures.query("a.b", Type.A)));
    assertEquals(
        512, DnsResponder.udpLimit(Fixtures.withEdns(Fixtures.query("a.b", Type.A), 100, 0)));
    assertEquals(
        1000, DnsResponder.udpLimit(Fixtures.withEdns(Fixtures.query("a.b", Type.A), 1000, 0)));
    assertEquals(
        DnsAuthority.EDNS_PAYLOAD,
        DnsResponder.udpLimit(Fixtures.withEdns(Fixtures.query("a.b", Type.A), 65535, 0)));
  }

  /** dnsjava accepts a message with TC set that ends early; as a query that is still damage. */
  @Test
  void aQueryCutShortWithTcSetIsAFormatError() throws Exception {
    byte[] p = {0, 7, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    Message r = reply(p, false);
    assertEquals(Rcode.FORMERR, r.getRcode());
    assertEquals(7, r.getHeader().getID());
    assertEquals(1, stats.malformed.sum());
    assertEquals(0, stats.errors.sum());
  }

  /**
   * Every prefix of every golden query: silence below 12 bytes, else FORMERR, never anything else.
   */
  @Test
  void everyPrefixOfEveryGoldenIsFormerrOrSilence() {
    for (String g : Fixtures.GOLDEN) {
      byte[] full = Fixtures.golden(g);
      for (int len = 0; len < full.length; len++) {
        check(g + " cut at " + len, Arrays.copyOf(full, len), true);
      }
    }
    assertEquals(0, stats.errors.sum());
  }

  /** Counts, label lengths and compression pointers corrupted in each golden. */
  @Test
  void corruptedCountsLabelsAndPointers() {
    for (String g : Fixtures.GOLDEN) {
      byte[] full = Fixtures.golden(g);
      for (int countAt = 4; countAt < 12; countAt += 2) {
        for (int v : new int[] {0, 1, 2, 0x7f, 0xff, 0xffff}) {
          byte[] p = full.clone();
          p[countAt] = (byte) (v >>> 8);
          p[countAt + 1] = (byte) v;
          check(g + " count at " + countAt + " = " + v, p, false);
        }
      }
      for (int at = 12; at < full.length; at++) {
        for (int v : new int[] {0x3f, 0x40, 0x7f, 0xc0, 0xff}) {
          byte[] p = full.clone();
          p[at] = (byte) v;
          check(g + " byte " + at + " = " + v, p, false);
        }
      }
      // A compression pointer to itself, and two pointing at each other.
      byte[] self = Arrays.copyOf(full, 12 + 6);
      self[5] = 1;
      self[12] = (byte) 0xc0;
      self[13] = 12;
      check(g + " self pointer", self, true);
      byte[] pair = Arrays.copyOf(full, 12 + 6);
      pair[5] = 1;
      pair[12] = (byte) 0xc0;
      pair[13] = 14;
      pair[14] = (byte) 0xc0;
      pair[15] = 12;
      check(g + " pointer loop", pair, true);
      // A pointer forward, past the end.
      byte[] forward = full.clone();
      forward[12] = (byte) 0xc0;
      forward[13] = (byte) 0xff;
      check(g + " pointer past the end", forward, true);
    }
    assertEquals(0, stats.errors.sum());
  }

  /**
   * @param mustFail the packet cannot parse, so the answer must be FORMERR (or silence without a
   *     header); otherwise any well-formed answer is fine
   */
  private void check(String what, byte[] packet, boolean mustFail) {
    DnsResponder.Outcome o;
    try {
      o = responder.respond(packet, false);
    } catch (RuntimeException e) {
      throw new AssertionError(what + ": exception escaped", e);
    }
    if (packet.length < Header.LENGTH) {
      assertInstanceOf(DnsResponder.Outcome.Silence.class, o, what);
      return;
    }
    if (o instanceof DnsResponder.Outcome.Silence) {
      fail(what + ": a readable header must get an answer");
    }
    byte[] wire = assertInstanceOf(DnsResponder.Outcome.Reply.class, o, what).wire();
    Message r;
    try {
      r = new Message(wire);
    } catch (Exception e) {
      throw new AssertionError(what + ": our answer does not parse", e);
    }
    assertTrue(r.getHeader().getFlag(Flags.QR), what);
    assertEquals((packet[0] & 0xff) << 8 | (packet[1] & 0xff), r.getHeader().getID(), what);
    boolean parses;
    try {
      new Message(packet);
      parses = true;
    } catch (Exception e) {
      parses = false;
    }
    if (mustFail || !parses) {
      assertEquals(false, parses, what + ": expected a packet dnsjava rejects");
      assertEquals(Rcode.FORMERR, r.getRcode(), what);
      assertTrue(r.getSection(Section.QUESTION).isEmpty(), what);
    }
  }
}

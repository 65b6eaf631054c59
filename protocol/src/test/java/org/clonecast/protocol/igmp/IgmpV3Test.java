package org.clonecast.protocol.igmp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

class IgmpV3Test {
  private static byte[] hex(String s) {
    return HexFormat.of().parseHex(s.replace(" ", ""));
  }

  // RFC 3376 §4.1: a General Query as a Linux bridge or router sends it (Max Resp 10 s, QRV 2,
  // QQIC 125, no sources).
  private static final byte[] GENERAL_QUERY = hex("11 64 ec 1e 00 00 00 00 02 7d 00 00");

  // RFC 3376 §4.2: a host joining 239.255.0.1 (one CHANGE_TO_EXCLUDE_MODE record, no sources).
  private static final byte[] JOIN = hex("22 00 e9 fd 00 00 00 01 04 00 00 00 ef ff 00 01");

  @Test
  void aGeneralQueryDecodesAndEncodesToTheSameBytes() {
    IgmpV3Query q = IgmpV3Query.decode(Unpooled.wrappedBuffer(GENERAL_QUERY));
    assertEquals(new IgmpV3Query(100, 0, false, 2, 125, List.of()), q);
    assertTrue(q.generalQuery());
    assertArrayEquals(GENERAL_QUERY, q.encode());
    IgmpMessage m = IgmpMessage.decode(Unpooled.wrappedBuffer(GENERAL_QUERY));
    assertTrue(m.generalQuery(), "the election reads it as a General Query");
  }

  @Test
  void aJoinReportDecodesAndEncodesToTheSameBytes() {
    IgmpV3Report r = IgmpV3Report.decode(Unpooled.wrappedBuffer(JOIN));
    assertEquals(
        List.of(
            IgmpV3Report.GroupRecord.wholeGroup(IgmpV3Report.CHANGE_TO_EXCLUDE_MODE, 0xefff0001)),
        r.records());
    assertArrayEquals(JOIN, r.encode());
    assertEquals(IgmpMessage.V3_REPORT, IgmpMessage.decode(Unpooled.wrappedBuffer(JOIN)).type());
  }

  @Test
  void aGroupAndSourceSpecificQueryCarriesItsSources() {
    IgmpV3Query q = new IgmpV3Query(20, 0xefff0001, true, 2, 125, List.of(0x0a4d0001, 0x0a4d0002));
    IgmpV3Query back = IgmpV3Query.decode(Unpooled.wrappedBuffer(q.encode()));
    assertEquals(q, back);
    assertFalse(back.generalQuery());
    assertFalse(IgmpMessage.decode(Unpooled.wrappedBuffer(q.encode())).generalQuery());
  }

  @Test
  void everyTruncationIsMalformedAndNothingElseComesOut() {
    byte[] query = new IgmpV3Query(100, 0, false, 2, 125, List.of(1, 2, 3)).encode();
    byte[] report =
        new IgmpV3Report(
                List.of(
                    new IgmpV3Report.GroupRecord(
                        IgmpV3Report.MODE_IS_INCLUDE, 0xefff0002, List.of(7, 8), new byte[4]),
                    IgmpV3Report.GroupRecord.wholeGroup(IgmpV3Report.MODE_IS_EXCLUDE, 0xefff0003)))
            .encode();
    for (byte[] whole : List.of(query, report)) {
      for (int cut = 0; cut < whole.length; cut++) {
        byte[] part = withChecksum(Arrays.copyOf(whole, cut));
        if (whole == query && cut == 8) {
          // The first 8 bytes of any query are an IGMPv2 query (RFC 3376 §7.1).
          assertTrue(IgmpMessage.decode(Unpooled.wrappedBuffer(part)).generalQuery());
          continue;
        }
        assertThrows(
            MalformedPacketException.class,
            () -> IgmpMessage.decode(Unpooled.wrappedBuffer(part)),
            "cut at " + cut);
      }
    }
  }

  @Test
  void countsThatRunPastTheEndAreMalformedEvenWithAGoodChecksum() {
    byte[] query = GENERAL_QUERY.clone();
    query[11] = 1; // one source, none there
    MalformedPacketException e =
        assertThrows(
            MalformedPacketException.class,
            () -> IgmpMessage.decode(Unpooled.wrappedBuffer(withChecksum(query))));
    assertTrue(e.getMessage().contains("1 sources needs 16 bytes, has 12"), e.getMessage());
    byte[] report = JOIN.clone();
    report[7] = 2; // two records, one there
    e =
        assertThrows(
            MalformedPacketException.class,
            () -> IgmpMessage.decode(Unpooled.wrappedBuffer(withChecksum(report))));
    assertTrue(e.getMessage().contains("group record 2 of 2"), e.getMessage());
    byte[] aux = JOIN.clone();
    aux[9] = 1; // one word of aux data, none there
    assertThrows(
        MalformedPacketException.class,
        () -> IgmpV3Report.decode(Unpooled.wrappedBuffer(withChecksum(aux))));
  }

  @Test
  void queriesOfNineToElevenBytesAreNeitherVersion() {
    for (int length = 9; length <= 11; length++) {
      byte[] q = withChecksum(Arrays.copyOf(GENERAL_QUERY, length));
      MalformedPacketException e =
          assertThrows(
              MalformedPacketException.class, () -> IgmpMessage.decode(Unpooled.wrappedBuffer(q)));
      assertTrue(e.getMessage().contains("want 8 (v2) or 12 and more (v3)"), e.getMessage());
    }
  }

  @Test
  void outOfRangeFieldsAreRefused() {
    assertThrows(
        IllegalArgumentException.class, () -> new IgmpV3Query(100, 0, false, 8, 125, List.of()));
    assertThrows(
        IllegalArgumentException.class, () -> new IgmpV3Query(256, 0, false, 2, 125, List.of()));
    assertThrows(
        IllegalArgumentException.class,
        () -> new IgmpV3Report.GroupRecord(1, 0, List.of(), new byte[3]));
  }

  @Property(tries = 300)
  void queriesRoundTrip(@ForAll("queries") IgmpV3Query q) {
    assertEquals(q, IgmpV3Query.decode(Unpooled.wrappedBuffer(q.encode())));
  }

  @Property(tries = 300)
  void reportsRoundTrip(@ForAll("reports") IgmpV3Report r) {
    assertEquals(r, IgmpV3Report.decode(Unpooled.wrappedBuffer(r.encode())));
  }

  @Property(tries = 1000)
  void hostileBytesWithAGoodChecksumNeverEscape(@ForAll("hostile") byte[] bytes) {
    for (Runnable decode :
        List.<Runnable>of(
            () -> IgmpMessage.decode(Unpooled.wrappedBuffer(bytes)),
            () -> IgmpV3Query.decode(Unpooled.wrappedBuffer(bytes)),
            () -> IgmpV3Report.decode(Unpooled.wrappedBuffer(bytes)))) {
      try {
        decode.run();
      } catch (MalformedPacketException expected) {
        // counted and dropped by the querier
      }
    }
  }

  @Provide
  Arbitrary<IgmpV3Query> queries() {
    return Combinators.combine(
            Arbitraries.integers().between(0, 255),
            Arbitraries.integers(),
            Arbitraries.of(true, false),
            Arbitraries.integers().between(0, 7),
            Arbitraries.integers().between(0, 255),
            Arbitraries.integers().list().ofMaxSize(20))
        .as(IgmpV3Query::new);
  }

  @Provide
  Arbitrary<IgmpV3Report> reports() {
    Arbitrary<IgmpV3Report.GroupRecord> record =
        Combinators.combine(
                Arbitraries.integers().between(0, 255),
                Arbitraries.integers(),
                Arbitraries.integers().list().ofMaxSize(8),
                Arbitraries.integers().between(0, 3))
            .as((t, g, s, words) -> new IgmpV3Report.GroupRecord(t, g, s, new byte[4 * words]));
    return record.list().ofMaxSize(6).map(IgmpV3Report::new);
  }

  /** Random bytes whose type is mostly a query or a v3 report, with the checksum made right. */
  @Provide
  Arbitrary<byte[]> hostile() {
    return Combinators.combine(
            Arbitraries.of(0x11, 0x22, 0x16, 0x17, 0x00),
            Arbitraries.bytes().array(byte[].class).ofMaxSize(80))
        .as(
            (type, rest) -> {
              byte[] b = Arrays.copyOf(rest, Math.max(rest.length, 1));
              b[0] = (byte) (int) type;
              return withChecksum(b);
            });
  }

  /** {@code b} with its checksum field (bytes 2-3, when there) set so the checksum adds up. */
  private static byte[] withChecksum(byte[] b) {
    byte[] out = b.clone();
    if (out.length < 4) return out;
    out[2] = 0;
    out[3] = 0;
    int sum = IgmpMessage.checksum(out, 0, out.length);
    out[2] = (byte) (sum >>> 8);
    out[3] = (byte) sum;
    return out;
  }

  @Test
  void recordsCompareByContent() {
    List<IgmpV3Report.GroupRecord> a = new ArrayList<>();
    a.add(new IgmpV3Report.GroupRecord(1, 2, List.of(3), new byte[] {1, 2, 3, 4}));
    assertEquals(
        new IgmpV3Report(a),
        new IgmpV3Report(
            List.of(new IgmpV3Report.GroupRecord(1, 2, List.of(3), new byte[] {1, 2, 3, 4}))));
  }
}

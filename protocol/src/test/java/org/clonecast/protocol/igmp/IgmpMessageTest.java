package org.clonecast.protocol.igmp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.util.HexFormat;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

class IgmpMessageTest {
  private static byte[] hex(String s) {
    return HexFormat.of().parseHex(s.replace(" ", ""));
  }

  @Test
  void aGeneralQueryIsTheEightBytesEveryIgmpv2QuerierSends() {
    // 10 s maximum response time, group 0: the bytes of any router's or switch's v2 General Query.
    assertArrayEquals(hex("11 64 ee 9b 00 00 00 00"), IgmpMessage.generalQuery(100).encode());
  }

  @Test
  void reportsAndV3QueriesDecode() {
    IgmpMessage report = IgmpMessage.decode(Unpooled.wrappedBuffer(hex("16 00 f9 fe ef ff 00 01")));
    assertEquals(new IgmpMessage(IgmpMessage.V2_REPORT, 0, 0xefff0001), report);
    assertFalse(report.generalQuery());
    // A Linux host's IGMPv3 General Query: 12 bytes (S/QRV 2, QQIC 125, no sources), checksum over
    // all.
    byte[] v3 = hex("11 64 00 00 00 00 00 00 02 7d 00 00");
    int sum = IgmpMessage.checksum(v3, 0, v3.length);
    v3[2] = (byte) (sum >>> 8);
    v3[3] = (byte) sum;
    IgmpMessage query = IgmpMessage.decode(Unpooled.wrappedBuffer(v3));
    assertTrue(query.generalQuery());
    assertEquals(100, query.maxResponseCode());
  }

  @Test
  void aWrongChecksumOrAShortMessageIsMalformed() {
    assertThrows(
        MalformedPacketException.class,
        () -> IgmpMessage.decode(Unpooled.wrappedBuffer(hex("11 64 ee 9c 00 00 00 00"))));
    assertThrows(
        MalformedPacketException.class,
        () -> IgmpMessage.decode(Unpooled.wrappedBuffer(hex("11 64 ee 9b 00 00"))));
  }

  @Test
  void outOfRangeResponseTimesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> IgmpMessage.generalQuery(0));
    assertThrows(IllegalArgumentException.class, () -> IgmpMessage.generalQuery(256));
  }

  @Property(tries = 1000)
  void randomBytesNeverEscape(@ForAll @Size(max = 64) byte[] bytes) {
    try {
      IgmpMessage m = IgmpMessage.decode(Unpooled.wrappedBuffer(bytes));
      assertEquals(bytes[0] & 0xff, m.type());
    } catch (MalformedPacketException expected) {
      // counted and dropped by the querier
    }
  }
}

package org.clonecast.protocol.igmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.util.Arrays;
import java.util.HexFormat;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

class IgmpDatagramTest {
  private static byte[] hex(String s) {
    return HexFormat.of().parseHex(s.replace(" ", ""));
  }

  // A v2 General Query as a raw IGMP socket delivers it: IPv4 header with the Router Alert option
  // (IHL 6, TTL 1, protocol 2, 10.77.0.1 to 224.0.0.1), then the 8 bytes (2 s response time).
  private static final byte[] QUERY =
      hex(
          "46 c0 00 20 00 00 40 00 01 02 00 00 0a 4d 00 01 e0 00 00 01 94 04 00 00"
              + " 11 14 ee eb 00 00 00 00");

  @Test
  void theSourceAndTheQueryComeOutOfTheDatagram() {
    IgmpDatagram d = IgmpDatagram.decode(Unpooled.wrappedBuffer(QUERY));
    assertEquals(0x0a4d0001, d.source());
    assertTrue(d.message().generalQuery());
    assertEquals(20, d.message().maxResponseCode());
  }

  @Test
  void paddingAfterTheTotalLengthIsIgnored() {
    byte[] padded = Arrays.copyOf(QUERY, QUERY.length + 14);
    assertEquals(0x0a4d0001, IgmpDatagram.decode(Unpooled.wrappedBuffer(padded)).source());
  }

  @Test
  void everyTruncationIsMalformed() {
    for (int cut = 0; cut < QUERY.length; cut++) {
      byte[] part = Arrays.copyOf(QUERY, cut);
      assertThrows(
          MalformedPacketException.class,
          () -> IgmpDatagram.decode(Unpooled.wrappedBuffer(part)),
          "cut at " + cut);
    }
  }

  @Test
  void headersThatDoNotFitAreNamed() {
    byte[] v6 = QUERY.clone();
    v6[0] = 0x66;
    assertMalformed(v6, "IP version 6");
    byte[] udp = QUERY.clone();
    udp[9] = 17;
    assertMalformed(udp, "IP protocol 17, want IGMP");
    byte[] longHeader = QUERY.clone();
    longHeader[0] = 0x4f; // 60 bytes of header in 32
    assertMalformed(longHeader, "header length 60");
    byte[] shortHeader = QUERY.clone();
    shortHeader[0] = 0x44;
    assertMalformed(shortHeader, "header length 16");
    byte[] overlong = QUERY.clone();
    overlong[3] = 0x40; // total length 64 in 32 bytes
    assertMalformed(overlong, "total length 64 in 32 bytes");
  }

  private static void assertMalformed(byte[] b, String what) {
    MalformedPacketException e =
        assertThrows(
            MalformedPacketException.class, () -> IgmpDatagram.decode(Unpooled.wrappedBuffer(b)));
    assertTrue(e.getMessage().contains(what), e.getMessage());
  }

  @Property(tries = 1000)
  void randomBytesNeverEscape(@ForAll @Size(max = 80) byte[] bytes) {
    byte[] b = bytes.clone();
    if (b.length > 9) {
      // Mostly a plausible header, so the IGMP decoder behind it is reached too.
      b[0] = (byte) (0x40 | (b[0] & 0x0f));
      b[9] = 2;
    }
    try {
      IgmpDatagram.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      // counted and dropped by the querier
    }
  }
}

package org.clonecast.protocol.ndp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.Optional;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

class NdpTest {
  private static final MacAddress MAC = MacAddress.parse("52:54:00:88:00:10");

  @Test
  void harmlessAdvertHasNoLifetimeNoFlagsAndOurMac() {
    ByteBuf b = Unpooled.buffer();
    RouterAdvertisement.harmless(MAC).encode(b);
    // type 134, code 0, checksum 0, hop 0, flags 0, lifetime 0, reachable 0, retrans 0, SLLA
    // option.
    assertEquals(
        "8600000000000000" + "00000000" + "00000000" + "0101525400880010", ByteBufUtil.hexDump(b));
    RouterAdvertisement back = RouterAdvertisement.decode(b);
    assertEquals(RouterAdvertisement.harmless(MAC), back);
    assertEquals(0, back.routerLifetimeSeconds());
  }

  @Test
  void solicitationFromIpxeDecodes() {
    // An RS as iPXE sends it: type 133, code 0, checksum, reserved, source link-layer option.
    ByteBuf b =
        Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump("85007b3e000000000101525400880010"));
    assertEquals(Optional.of(MAC), RouterSolicitation.decode(b).sourceLinkLayer());
    ByteBuf bare = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump("8500000000000000"));
    assertEquals(Optional.empty(), RouterSolicitation.decode(bare).sourceLinkLayer());
  }

  @Test
  void badSolicitationsAreRejected() {
    for (String hex :
        new String[] {
          "8600000000000000", // an advert, not a solicitation
          "8501000000000000", // code 1: RFC 4861 says discard
          "85000000000000000100", // option with length 0
          "850000000000000001025254008800", // option longer than the packet
          "850000", // truncated header
        }) {
      ByteBuf b = Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex));
      assertThrows(MalformedPacketException.class, () -> RouterSolicitation.decode(b), hex);
    }
  }

  @Property
  void anyBytesEitherDecodeOrAreMalformed(@ForAll byte[] bytes) {
    try {
      RouterSolicitation.decode(Unpooled.wrappedBuffer(bytes));
    } catch (MalformedPacketException expected) {
      // the only failure allowed
    }
  }

  @Property
  void advertRoundTrips(@ForAll int hop, @ForAll int lifetime, @ForAll long mac) {
    RouterAdvertisement ra =
        new RouterAdvertisement(
            Math.floorMod(hop, 256),
            0x40,
            Math.floorMod(lifetime, 65536),
            1000,
            0,
            Optional.of(new MacAddress(mac & 0xffff_ffff_ffffL)));
    ByteBuf b = Unpooled.buffer();
    ra.encode(b);
    assertEquals(ra, RouterAdvertisement.decode(b));
  }

  @Test
  void scheduleAdvertisesQuicklyAtStartThenAtTheInterval() {
    long s = 1_000_000_000L;
    AdvertSchedule sch = new AdvertSchedule(60 * s, 0);
    assertTrue(sch.unsolicitedDue(0));
    assertFalse(sch.unsolicitedDue(3 * s));
    assertTrue(sch.unsolicitedDue(4 * s));
    assertTrue(sch.unsolicitedDue(8 * s));
    assertEquals(68 * s, sch.nextDeadline());
    assertFalse(sch.unsolicitedDue(67 * s));
    assertTrue(sch.unsolicitedDue(68 * s));
  }

  @Test
  void solicitationsAreAnsweredAtOnceButNotPerPacketFromOneHost() {
    long s = 1_000_000_000L;
    AdvertSchedule sch = new AdvertSchedule(60 * s, 0);
    assertTrue(sch.solicited("fe80::1", 10 * s));
    assertFalse(sch.solicited("fe80::1", 10 * s + 1000));
    assertTrue(sch.solicited("fe80::2", 10 * s + 2000));
    assertTrue(sch.solicited("fe80::1", 11 * s + 2000));
  }
}

package org.clonecast.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MacAddressTest {

  @Test
  void parsesColonAndHyphenFormsCaseInsensitively() {
    MacAddress mac = MacAddress.parse("52:54:00:AB:cd:0F");
    assertEquals(0x525400abcd0fL, mac.bits());
    assertEquals("52:54:00:ab:cd:0f", mac.toString());
    assertEquals(mac, MacAddress.parse("52-54-00-ab-cd-0f"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "52:54:00:ab:cd",
        "52:54:00:ab:cd:0f:11",
        "52:54-00:ab:cd:0f",
        "52.54.00.ab.cd.0f",
        "5g:54:00:ab:cd:0f",
        "525400abcd0f",
        " 52:54:00:ab:cd:0"
      })
  void rejectsMalformedText(String text) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse(text));
    assertTrue(e.getMessage().contains(text), e.getMessage());
  }

  @Test
  void bytesAndWireAreFirstOctetFirst() {
    MacAddress mac = MacAddress.parse("01:02:03:04:05:06");
    assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6}, mac.toBytes());
    ByteBuf buf = Unpooled.buffer();
    mac.encode(buf);
    assertEquals("010203040506", ByteBufs.hexDump(buf));
    assertEquals(mac, MacAddress.decode(buf));
    assertEquals(0, buf.readableBytes());
  }

  @Test
  void multicastBitIsTheLowBitOfTheFirstOctet() {
    assertTrue(MacAddress.parse("01:00:5e:4d:00:01").isMulticast());
    assertTrue(MacAddress.parse("ff:ff:ff:ff:ff:ff").isMulticast());
    assertFalse(MacAddress.parse("52:54:00:12:34:56").isMulticast());
  }

  @Test
  void rejectsWrongLengthsAndWideValues() {
    assertThrows(IllegalArgumentException.class, () -> MacAddress.of(new byte[5]));
    assertThrows(IllegalArgumentException.class, () -> new MacAddress(1L << 48));
    assertThrows(IllegalArgumentException.class, () -> new MacAddress(-1));
    MalformedPacketException e =
        assertThrows(
            MalformedPacketException.class,
            () -> MacAddress.decode(Unpooled.wrappedBuffer(new byte[5])));
    assertEquals("MAC address length 5, want 6", e.getMessage());
  }

  @Property
  void textBytesAndWireRoundTrip(@ForAll @LongRange(min = 0, max = (1L << 48) - 1) long bits) {
    MacAddress mac = new MacAddress(bits);
    assertEquals(mac, MacAddress.parse(mac.toString()));
    assertEquals(mac, MacAddress.of(mac.toBytes()));
    ByteBuf buf = Unpooled.buffer();
    mac.encode(buf);
    assertEquals(mac, MacAddress.decode(buf));
  }
}

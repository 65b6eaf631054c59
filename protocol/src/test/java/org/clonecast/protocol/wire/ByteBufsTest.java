package org.clonecast.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class ByteBufsTest {

  @Test
  void requireReadableNamesWhatAndBothLengths() {
    ByteBuf buf = Unpooled.wrappedBuffer(new byte[100]);
    MalformedPacketException e =
        assertThrows(
            MalformedPacketException.class, () -> ByteBufs.requireReadable(buf, 144, "REQACK"));
    assertEquals("REQACK length 100, want 144", e.getMessage());
    ByteBufs.requireReadable(buf, 100, "REQACK");
  }

  @Test
  void decodingTranslatesFailuresAndRestoresTheReaderIndex() {
    ByteBuf buf = Unpooled.wrappedBuffer(new byte[] {1, 2, 3});
    buf.readByte();
    MalformedPacketException oob =
        assertThrows(
            MalformedPacketException.class, () -> ByteBufs.decoding("OK", buf, b -> b.readLong()));
    assertSame(IndexOutOfBoundsException.class, oob.getCause().getClass());
    assertEquals(1, buf.readerIndex());

    MalformedPacketException iae =
        assertThrows(
            MalformedPacketException.class,
            () ->
                ByteBufs.decoding(
                    "OK",
                    buf,
                    b -> {
                      b.readByte();
                      throw new IllegalArgumentException("sliceNo -1 negative");
                    }));
    assertEquals("OK: sliceNo -1 negative", iae.getMessage());
    assertEquals(1, buf.readerIndex());

    assertEquals((byte) 2, (byte) ByteBufs.decoding("OK", buf, ByteBuf::readByte));
  }

  @Test
  void rangeChecksNameTheField() {
    assertEquals(
        "blocksize 70000 outside u16",
        assertThrows(IllegalArgumentException.class, () -> ByteBufs.requireU16(70000, "blocksize"))
            .getMessage());
    assertEquals(
        "sliceNo -1 negative",
        assertThrows(
                IllegalArgumentException.class, () -> ByteBufs.requireNonNegative(-1, "sliceNo"))
            .getMessage());
    assertEquals(65535, ByteBufs.requireU16(65535, "blocksize"));
  }

  @Test
  void hexDumpsDoNotConsume() {
    ByteBuf buf = Unpooled.wrappedBuffer(new byte[] {0x05, 0x00, (byte) 0xea});
    assertEquals("0500ea", ByteBufs.hexDump(buf));
    assertEquals(true, ByteBufs.prettyHexDump(buf).contains("05 00 ea"));
    assertArrayEquals(new byte[] {0x05, 0x00, (byte) 0xea}, ByteBufs.toByteArray(buf));
    assertEquals(3, buf.readableBytes());
  }

  @Property
  void hexRoundTrips(@ForAll byte[] bytes) {
    String hex = Hex.toHex(bytes);
    assertArrayEquals(bytes, Hex.fromHex(hex));
    assertArrayEquals(bytes, Hex.fromHex(hex.replaceAll("(.{6})", "$1\n ")));
  }

  @Test
  void fromHexRejectsOddAndNonHex() {
    assertThrows(IllegalArgumentException.class, () -> Hex.fromHex("abc"));
    assertThrows(IllegalArgumentException.class, () -> Hex.fromHex("zz"));
  }
}

package org.clonecast.protocol.udpcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.BitSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.Ipv4;
import org.junit.jupiter.api.Test;

/** Every record survives encode → decode, through its own decoder and the opcode dispatch. */
class UdpcastRoundTripTest {

  @Property(tries = 2000)
  void everyMessageRoundTrips(@ForAll("messages") UdpcastMessage m) {
    ByteBuf buf = Unpooled.buffer();
    m.encode(buf);
    int size = buf.readableBytes();
    buf.writeBytes(new byte[] {1, 2, 3}); // trailing bytes: ignored by fixed-size messages
    UdpcastMessage decoded = UdpcastMessage.decode(buf);
    if (m instanceof Data || m instanceof Fec || m instanceof Unknown) {
      // these take the rest of the datagram; without trailing bytes they round-trip exactly
      buf = Unpooled.buffer();
      m.encode(buf);
      decoded = UdpcastMessage.decode(buf);
      assertEquals(0, buf.readableBytes());
    } else {
      assertEquals(size, buf.readerIndex());
    }
    assertEquals(m, decoded);
    assertEquals(m.hashCode(), decoded.hashCode());
    assertEquals(m.opcode(), decoded.opcode());
  }

  @Provide
  Arbitrary<UdpcastMessage> messages() {
    Arbitrary<Integer> anyInt = Arbitraries.integers();
    Arbitrary<Integer> count = Arbitraries.integers().greaterOrEqual(0);
    Arbitrary<Integer> u16 = Arbitraries.integers().between(0, 0xFFFF);
    Arbitrary<McastAddr> addr =
        Arbitraries.bytes().array(byte[].class).ofSize(McastAddr.SIZE).map(McastAddr::new);
    Arbitrary<Bitmap1024> map =
        Arbitraries.bytes().array(byte[].class).ofSize(Bitmap1024.SIZE).map(Bitmap1024::new);
    Arbitrary<ByteBuf> payload =
        Arbitraries.bytes().array(byte[].class).ofMaxSize(1500).map(Unpooled::wrappedBuffer);
    Arbitrary<Integer> helloOp =
        Arbitraries.of(Udpcast.OP_HELLO, Udpcast.OP_HELLO_NEW, Udpcast.OP_HELLO_STREAMING);
    Arbitrary<Integer> unknownOp = u16.filter(op -> !UdpcastMessage.isKnownOpcode(op));
    return Arbitraries.oneOf(
        Combinators.combine(helloOp, anyInt, addr, u16).as(Hello::new),
        Combinators.combine(anyInt, Arbitraries.longs().between(0, 0xFFFF_FFFFL))
            .as(ConnectReq::new),
        Combinators.combine(Arbitraries.integers().between(-1, 1023), count, anyInt, addr)
            .as(ConnectReply::new),
        Combinators.combine(count, u16, count, payload).as(Data::new),
        Combinators.combine(u16, count, u16, count, payload).as(Fec::new),
        Combinators.combine(count, count, count, map).as(ReqAck::new),
        count.map(Ok::new),
        Combinators.combine(count, count, map).as(Retransmit::new),
        Arbitraries.just(new Go()),
        Arbitraries.just(new Disconnect()),
        Combinators.combine(
                Arbitraries.longs().greaterOrEqual(0),
                Arbitraries.bytes().array(byte[].class).ofSize(32).map(Sha256::of).optional())
            .as(ImageInfo::new),
        Combinators.combine(unknownOp, Arbitraries.bytes().array(byte[].class).ofMaxSize(64))
            .as(Unknown::new));
  }

  @Test
  void sizesMatchTheCStructs() {
    McastAddr group = McastAddr.ofIpv4(0xEA4D0001);
    assertEquals(28, encoded(new Hello(Udpcast.OP_HELLO, 9, group, 1456)).length);
    assertEquals(12, encoded(new ConnectReq(9, 212992)).length);
    assertEquals(32, encoded(new ConnectReply(0, 1456, 9, group)).length);
    assertEquals(144, encoded(new ReqAck(0, 0, 0, Bitmap1024.EMPTY)).length);
    assertEquals(140, encoded(new Retransmit(0, 0, Bitmap1024.EMPTY)).length);
    assertEquals(8, encoded(new Ok(0)).length);
    assertEquals(4, encoded(new Go()).length);
    assertEquals(4, encoded(new Disconnect()).length);
    assertEquals(16 + 3, encoded(new Data(0, 0, 3, Unpooled.wrappedBuffer(new byte[3]))).length);
  }

  @Test
  void helloWithoutPaddingIsAccepted() {
    byte[] full = encoded(Hello.of(Ipv4.fromInt(0xEA4D0001), 1456));
    Hello h = Hello.decode(Unpooled.wrappedBuffer(Arrays.copyOf(full, Hello.MIN_SIZE)));
    assertEquals(1456, h.blocksize());
    assertEquals(Udpcast.CAPS_DEFAULT, h.capabilities());
  }

  @Test
  void writeHeaderIsTheEncodingWithoutPayload() {
    Data d = new Data(7, 3, 5000, Unpooled.wrappedBuffer(new byte[] {9, 9}));
    ByteBuf header = Unpooled.buffer();
    d.writeHeader(header);
    assertEquals("0008000000000007000300000000" + "1388", ByteBufs.hexDump(header));
    Fec f = new Fec(8, 7, 3, 5000, Unpooled.wrappedBuffer(new byte[] {9, 9}));
    header = Unpooled.buffer();
    f.writeHeader(header);
    assertEquals("0009000800000007000300000000" + "1388", ByteBufs.hexDump(header));
  }

  @Test
  void dataGroupKeepsTheLow27BitsOfTheSender() throws Exception {
    assertEquals(
        "234.77.0.1",
        Udpcast.dataGroup((Inet4Address) InetAddress.getByName("10.77.0.1")).getHostAddress());
    assertEquals(
        "232.168.1.5",
        Udpcast.dataGroup((Inet4Address) InetAddress.getByName("192.168.1.5")).getHostAddress());
    assertEquals(0xE8000000 | 0x07FFFFFF, Udpcast.dataGroup(0xFFFFFFFF));
  }

  @Test
  void bitmapIsLsbFirstLikeBitSet() {
    Bitmap1024 m = Bitmap1024.of(0, 9, 1023);
    byte[] b = m.bytes();
    assertEquals(0x01, b[0]);
    assertEquals(0x02, b[1]);
    assertEquals((byte) 0x80, b[127]);
    assertEquals(m, Bitmap1024.fromBitSet(m.toBitSet()));
    assertEquals("[0, 9, 1023]", m.toString());
    assertEquals("[0-67]", Bitmap1024.firstN(68).toString());
    assertTrue(m.with(5).get(5));
    assertFalse(m.get(5));
    BitSet tooWide = new BitSet();
    tooWide.set(1024);
    assertThrows(IllegalArgumentException.class, () -> Bitmap1024.fromBitSet(tooWide));
    assertThrows(IllegalArgumentException.class, () -> m.get(1024));
    assertThrows(IllegalArgumentException.class, () -> new Bitmap1024(new byte[127]));
  }

  @Property
  void bitmapBitSetConversionRoundTrips(@ForAll("bitSets") BitSet set) {
    Bitmap1024 m = Bitmap1024.fromBitSet(set);
    assertEquals(set, m.toBitSet());
    assertEquals(set.cardinality(), m.cardinality());
    set.stream().forEach(i -> assertTrue(m.get(i)));
  }

  @Provide
  Arbitrary<BitSet> bitSets() {
    return Arbitraries.integers()
        .between(0, 1023)
        .set()
        .ofMaxSize(200)
        .map(
            bits -> {
              BitSet s = new BitSet();
              bits.forEach(s::set);
              return s;
            });
  }

  @Test
  void byteArrayComponentsAreCopiedInAndOut() {
    byte[] raw = new byte[16];
    McastAddr a = new McastAddr(raw);
    raw[0] = 1;
    assertEquals(0, a.bytes()[0]);
    a.bytes()[0] = 1;
    assertEquals(0, a.bytes()[0]);
    assertNotSame(a.bytes(), a.bytes());
    assertEquals(
        "0.0.0.0+000000000000000000000001",
        new McastAddr(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}).toString());
    byte[] body = {1, 2};
    Unknown u = new Unknown(5, body);
    body[0] = 9;
    assertArrayEquals(new byte[] {1, 2}, u.body());
    assertThrows(IllegalArgumentException.class, () -> new Unknown(Udpcast.OP_DATA, new byte[0]));
  }

  @Property
  void fecLayoutMapsBlocksAndIndicesBothWays(
      @ForAll @IntRange(min = 1, max = 128) int stripes,
      @ForAll @IntRange(max = 1023) int blockNo) {
    UdpcastFecLayout layout = new UdpcastFecLayout(stripes);
    assertEquals(
        blockNo, layout.dataBlockNo(layout.stripeOfData(blockNo), layout.positionOfData(blockNo)));
    assertEquals(blockNo, layout.fecBlockNo(layout.stripeOfFec(blockNo), layout.rowOfFec(blockNo)));
  }

  @Test
  void fecLayoutOfTheCapturedSlice() {
    UdpcastFecLayout layout = new UdpcastFecLayout(8);
    int total = 0;
    for (int stripe = 0; stripe < 8; stripe++) {
      total += layout.sourcesInStripe(206, stripe);
    }
    assertEquals(206, total);
    assertEquals(26, layout.sourcesInStripe(206, 5));
    assertEquals(25, layout.sourcesInStripe(206, 6));
    assertEquals(1, layout.sourcesInStripe(1, 0));
    assertEquals(0, layout.sourcesInStripe(1, 1));
    assertEquals(128, layout.sourcesInStripe(1024, 7));
    assertThrows(
        IllegalArgumentException.class, () -> new UdpcastFecLayout(4).sourcesInStripe(1024, 0));
    assertThrows(IllegalArgumentException.class, () -> new UdpcastFecLayout(0));
  }

  private static byte[] encoded(UdpcastMessage m) {
    ByteBuf out = Unpooled.buffer();
    m.encode(out);
    return ByteBufs.toByteArray(out);
  }
}

package org.clonecast.protocol.udpcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Map;
import java.util.stream.Stream;
import org.clonecast.protocol.wire.ByteBufs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Golden packets of stock udpcast 20120424: each decodes to the values shown in the capture's
 * {@code *.decoded.txt}, and re-encodes to the same bytes.
 */
class UdpcastGoldenTest {
  private static final McastAddr GROUP =
      McastAddr.ofIpv4(Udpcast.dataGroup(0x0A4D0001)); // 10.77.0.1 -> 234.77.0.1
  private static final int SLICE_FULL = 112 * 1456;

  /**
   * Expected values, from the decoded.txt line of each packet. DATA/FEC payloads are checked by
   * length below.
   */
  private static final Map<String, UdpcastMessage> EXPECTED =
      Map.ofEntries(
          Map.entry("mc2-connect-req", new ConnectReq(0x09, 212992)),
          Map.entry("mc2-hello", new Hello(Udpcast.OP_HELLO, 0x09, GROUP, 1456)),
          Map.entry("mc2-connect-reply", new ConnectReply(0, 1456, 0x09, GROUP)),
          Map.entry("mc2-reqack-ready", new ReqAck(1, 136864, 1, Bitmap1024.of(0))),
          Map.entry("mc2-reqack-end", new ReqAck(3, 0, 0, Bitmap1024.EMPTY)),
          Map.entry("mc2-ok", new Ok(0)),
          Map.entry("mc2-retransmit", new Retransmit(1, 0, Bitmap1024.firstN(68))),
          Map.entry("mc2-disconnect", new Disconnect()),
          Map.entry("p2p1-retransmit-none", new Retransmit(1, 0, Bitmap1024.EMPTY)),
          Map.entry("loss5-reqack", new ReqAck(0, SLICE_FULL, 1, Bitmap1024.of(1))),
          Map.entry("asyncfec-hello", new Hello(Udpcast.OP_HELLO, 0x29, GROUP, 1456)));

  static Stream<String> singlePacketGoldens() {
    return UdpcastGoldens.ENTRIES.stream()
        .filter(UdpcastGoldens.Entry::single)
        .map(UdpcastGoldens.Entry::name);
  }

  static Stream<String> allGoldens() {
    return UdpcastGoldens.ENTRIES.stream().map(UdpcastGoldens.Entry::name);
  }

  @ParameterizedTest
  @MethodSource("allGoldens")
  void everyGoldenPacketReEncodesToTheSameBytes(String name) {
    for (byte[] packet : UdpcastGoldens.entry(name).packets()) {
      ByteBuf in = Unpooled.wrappedBuffer(packet);
      UdpcastMessage m = UdpcastMessage.decode(in);
      assertEquals(0, in.readableBytes(), name + ": golden packets carry no trailing bytes");
      assertFalse(m instanceof Unknown, name);
      ByteBuf out = Unpooled.buffer();
      m.encode(out);
      assertArrayEquals(packet, ByteBufs.toByteArray(out), name);
    }
  }

  @ParameterizedTest
  @MethodSource("singlePacketGoldens")
  void controlGoldensDecodeToTheCapturedValues(String name) {
    UdpcastMessage m = decode(name);
    if (EXPECTED.containsKey(name)) {
      assertEquals(EXPECTED.get(name), m, name);
    }
  }

  @Test
  void dataGoldens() {
    Data full = (Data) decode("mc2-data");
    assertEquals(new Data(0, 0, SLICE_FULL, full.payload()), full);
    assertEquals(1456, full.payload().readableBytes());

    Data tail =
        (Data) decode("mc2-data-short"); // slice 2 = the last 64 bytes of the 300000-byte file
    assertEquals(2, tail.sliceNo());
    assertEquals(0, tail.blockNo());
    assertEquals(64, tail.bytes());
    assertEquals(64, tail.payload().readableBytes());
  }

  @Test
  void fecGoldens() {
    Fec first = (Fec) decode("asyncfec-fec");
    assertEquals(new Fec(8, 0, 0, 299936, first.payload()), first);
    assertEquals(1456, first.payload().readableBytes());

    Fec end = (Fec) decode("asyncfec-fec-end");
    assertEquals(new Fec(8, 2, 0, 0, end.payload()), end);
    assertEquals(
        1456, end.payload().readableBytes()); // a full block even though the slice is empty
  }

  @Test
  void lossyRetransmitMapIsLsbFirst() {
    Retransmit r = (Retransmit) decode("loss5-retransmit");
    assertEquals(0, r.sliceNo());
    assertEquals(0, r.rxmit());
    assertEquals(105, r.map().cardinality()); // decoded.txt: receivedBlocks=105
    // map starts 7d fd: 0x7d = blocks 0,2-6 present, 1 and 7 missing; 0xfd = 8, 10-15
    assertTrue(r.map().get(0));
    assertFalse(r.map().get(1));
    assertFalse(r.map().get(7));
    assertFalse(r.map().get(9));
    assertTrue(r.map().get(8));
    assertFalse(r.map().get(112)); // beyond the 112-block slice
  }

  @Test
  void payloadIsASliceOfTheInputNotACopy() {
    byte[] packet = UdpcastGoldens.entry("mc2-data-short").packet();
    ByteBuf in = Unpooled.wrappedBuffer(packet);
    Data d = Data.decode(in);
    packet[Data.HEADER_SIZE] ^= 0x55;
    assertEquals(packet[Data.HEADER_SIZE], d.payload().getByte(d.payload().readerIndex()));
  }

  private static UdpcastMessage decode(String name) {
    return UdpcastMessage.decode(Unpooled.wrappedBuffer(UdpcastGoldens.entry(name).packet()));
  }
}

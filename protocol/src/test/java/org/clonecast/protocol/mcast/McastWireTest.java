package org.clonecast.protocol.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

/** Encode/decode of every native packet and control frame, and what malformed input does. */
class McastWireTest {

  static byte[] bytes(McastPacket p) {
    ByteBuf b = Unpooled.buffer();
    p.encode(b);
    return ByteBufUtil.getBytes(b);
  }

  static byte[] bytes(ControlMessage m) {
    ByteBuf b = Unpooled.buffer();
    m.encode(b);
    return ByteBufUtil.getBytes(b);
  }

  static List<McastPacket> samples() {
    byte[] payload = new byte[300];
    for (int i = 0; i < payload.length; i++) payload[i] = (byte) (i * 7);
    return List.of(
        new DataPacket(0x12345678, -5, 17, 3, 9, Unpooled.wrappedBuffer(payload)),
        new RepairPacket(1, 2, 3, 4, 127, 600, Unpooled.wrappedBuffer(payload)),
        new Announce(9, 9400, 9401, 0xEFFF000B, 0, Announce.State.RUNNING, 1452, new UUID(1, 2), 1L << 40),
        new Nak(5, 77, List.of(new Nak.Entry(12, new byte[] {1, 0, 3}, new byte[] {0, 0, 2}), new Nak.Entry(13, new byte[] {(byte) 200}, new byte[] {(byte) 128}))),
        new Status(5, 2, 20, 123456789L, 0xFFFFFFF0L, 10, 1024, 5L << 33, 7));
  }

  @Test
  void goldenDataPacketBytes() {
    DataPacket p = new DataPacket(0x01020304, 5, 6, 1, 2, Unpooled.wrappedBuffer(new byte[] {(byte) 0xAA, (byte) 0xBB}));
    assertEquals("cc1d01010102030400000005000000060001000" + "2aabb", ByteBufUtil.hexDump(bytes(p)));
  }

  @Test
  void everySampleRoundTrips() {
    for (McastPacket p : samples()) {
      byte[] b = bytes(p);
      McastPacket back = McastPacket.decode(Unpooled.wrappedBuffer(b));
      assertArrayEquals(b, bytes(back), p.getClass().getSimpleName());
    }
  }

  @Test
  void longerPacketsDecodeIgnoringTheTail() {
    for (McastPacket p : samples()) {
      if (p instanceof DataPacket || p instanceof RepairPacket) continue; // their payload runs to the end
      byte[] b = bytes(p);
      ByteBuf longer = Unpooled.buffer().writeBytes(b).writeBytes(new byte[] {1, 2, 3, 4});
      assertArrayEquals(b, bytes(McastPacket.decode(longer)));
    }
  }

  @Test
  void aStatusWithoutTheOverflowFieldStillDecodes() {
    byte[] b = bytes(samples().get(4));
    Status s = (Status) McastPacket.decode(Unpooled.wrappedBuffer(b, 0, b.length - 2));
    assertEquals(0, s.overflowPermille());
    assertEquals(20, s.lossPermille());
  }

  @Test
  void everyTruncationIsAMalformedPacket() {
    for (McastPacket p : samples()) {
      byte[] b = bytes(p);
      int minimum = p instanceof DataPacket || p instanceof RepairPacket ? DataPacket.HEADER_BYTES + 1
          : p instanceof Status ? b.length - 2 : b.length; // STATUS's last field is optional
      for (int len = 0; len < minimum; len++) {
        ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
        assertThrows(MalformedPacketException.class, () -> McastPacket.decode(cut), p.getClass().getSimpleName() + " cut at " + len);
      }
    }
  }

  @Property(tries = 2000)
  void corruptedPacketsDecodeOrFailCleanly(@ForAll @IntRange(min = 0, max = 4) int which, @ForAll @IntRange(min = 0, max = 60) int pos,
      @ForAll byte value) {
    byte[] b = bytes(samples().get(which));
    if (pos < b.length) b[pos] = value;
    try {
      McastPacket.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      // the only exception a decoder may throw
    }
  }

  @Test
  void wrongMagicVersionAndTypeAreNamed() {
    byte[] b = bytes(samples().get(2));
    b[0] = 0;
    assertEquals("magic 0x001d, want 0xcc1d", assertThrows(MalformedPacketException.class, () -> McastPacket.decode(Unpooled.wrappedBuffer(b))).getMessage());
    byte[] v = bytes(samples().get(2));
    v[2] = 9;
    assertEquals("protocol version 9, want 1", assertThrows(MalformedPacketException.class, () -> McastPacket.decode(Unpooled.wrappedBuffer(v))).getMessage());
    byte[] t = bytes(samples().get(2));
    t[3] = 99;
    assertEquals("unknown packet type 99", assertThrows(MalformedPacketException.class, () -> McastPacket.decode(Unpooled.wrappedBuffer(t))).getMessage());
  }

  @Provide
  Arbitrary<Nak> naks() {
    Arbitrary<Nak.Entry> entry = Arbitraries.integers().between(1, 20).flatMap(stripes ->
        Arbitraries.bytes().array(byte[].class).ofSize(stripes).flatMap(need ->
            Arbitraries.bytes().array(byte[].class).ofSize(stripes).flatMap(seen ->
                Arbitraries.integers().between(0, Integer.MAX_VALUE).map(c -> new Nak.Entry(c, need, seen)))));
    return entry.list().ofMinSize(1).ofMaxSize(Nak.MAX_ENTRIES).flatMap(es ->
        Arbitraries.integers().between(0, 0xFFFF).map(id -> new Nak(3, id, es)));
  }

  @Property(tries = 300)
  void naksRoundTrip(@ForAll("naks") Nak nak) {
    assertEquals(nak, McastPacket.decode(Unpooled.wrappedBuffer(bytes(nak))));
  }

  static Manifest manifest() {
    List<ChunkEntry> e = new ArrayList<>();
    e.add(new ChunkEntry(0, ChunkKind.ZSTD, 64, 100, Sha256.of(new byte[32])));
    e.add(ChunkEntry.zero(1, ChunkCodec.zeroHash(4096)));
    e.add(new ChunkEntry(2, ChunkKind.RAW, 164, 4096, Sha256.of(new byte[32])));
    return new Manifest(new UUID(5, 6), 3 * 4096, 4096, e, Sha256.of(new byte[32]));
  }

  static List<ControlMessage> controlSamples() {
    BitSet need = new BitSet();
    need.set(0);
    need.set(2);
    need.set(1000);
    return List.of(
        new ControlMessage.Hello(1, 0, "node-17"),
        new ControlMessage.Welcome(7, 3, 0xEFFF0001, 9400, 1452, 0, manifest()),
        new ControlMessage.Need(need),
        new ControlMessage.Done(new int[] {0, 2, 1000}),
        new ControlMessage.Finished(false, "writing /dev/sdb failed: No space left on device", 10, 20, 3, 1),
        new ControlMessage.End("dropped: silent for 10.0 s"));
  }

  @Test
  void controlFramesRoundTrip() {
    for (ControlMessage m : controlSamples()) {
      byte[] b = bytes(m);
      ControlMessage back = ControlMessage.decode(Unpooled.wrappedBuffer(b));
      assertEquals(m instanceof ControlMessage.Need || m instanceof ControlMessage.Welcome ? m.getClass() : m, m instanceof ControlMessage.Need || m instanceof ControlMessage.Welcome ? back.getClass() : back);
      assertArrayEquals(b, bytes(back), m.getClass().getSimpleName());
    }
  }

  @Test
  void truncatedControlFramesAreMalformed() {
    for (ControlMessage m : controlSamples()) {
      byte[] b = bytes(m);
      for (int len = 0; len < b.length; len++) {
        if (m instanceof ControlMessage.Need && len > 5) continue; // a shorter bitmap is still a bitmap
        ByteBuf cut = Unpooled.wrappedBuffer(b, 0, len);
        int l = len;
        assertThrows(MalformedPacketException.class, () -> ControlMessage.decode(cut), m.getClass().getSimpleName() + " cut at " + l);
      }
    }
  }

  @Property(tries = 2000)
  void corruptedControlFramesDecodeOrFailCleanly(@ForAll @IntRange(min = 0, max = 5) int which, @ForAll @IntRange(min = 0, max = 200) int pos,
      @ForAll byte value) {
    byte[] b = bytes(controlSamples().get(which));
    if (pos < b.length) b[pos] = value;
    try {
      ControlMessage.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedPacketException expected) {
      // the only exception a decoder may throw
    }
  }
}

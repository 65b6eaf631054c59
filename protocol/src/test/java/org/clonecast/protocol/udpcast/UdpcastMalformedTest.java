package org.clonecast.protocol.udpcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

/**
 * The malformed corpus: every golden packet truncated at every offset, with every header byte and
 * the u32/u16 count fields corrupted, and with every opcode swapped in; plus arbitrary bytes. The
 * decoder must either decode cleanly or throw {@link MalformedPacketException}, never anything
 * else, and leave the reader index alone when it throws.
 */
class UdpcastMalformedTest {
  private static final int[] OPCODES = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x0500, 0x0501, 0x4343, 0xFFFF
  };
  private static final byte[] NASTY = {0, 1, 0x7F, (byte) 0x80, (byte) 0xFF};

  /**
   * The control goldens plus a sample of the DATA/FEC ones (the full FEC slices add no new shapes).
   */
  private static List<byte[]> corpus() {
    List<byte[]> corpus = new ArrayList<>();
    for (UdpcastGoldens.Entry e : UdpcastGoldens.ENTRIES) {
      List<byte[]> packets = e.packets();
      corpus.addAll(packets.subList(0, Math.min(3, packets.size())));
    }
    // clonecast's own IMAGE_INFO, with and without its hash (no stock capture has one).
    for (ImageInfo info :
        List.of(
            new ImageInfo(1L << 40, Optional.of(Sha256.of(new byte[32]))),
            new ImageInfo(300_000, Optional.empty()))) {
      ByteBuf b = Unpooled.buffer();
      info.encode(b);
      corpus.add(ByteBufs.toByteArray(b));
    }
    return corpus;
  }

  @Test
  void imageInfoHasOneEncoding() {
    ByteBuf b = Unpooled.buffer();
    new ImageInfo(5, Optional.empty()).encode(b);
    byte[] good = ByteBufs.toByteArray(b);
    byte[] strayHash = good.clone();
    strayHash[43] = 1;
    assertEquals(
        "IMAGE_INFO carries a hash without its flag", expectMalformed(strayHash).getMessage());
    byte[] unknownFlag = good.clone();
    unknownFlag[3] = 2;
    assertEquals(
        "IMAGE_INFO flags 0x2, only 0x1 is defined", expectMalformed(unknownFlag).getMessage());
  }

  @Test
  void truncatedAtEveryOffset() {
    for (byte[] packet : corpus()) {
      for (int len = 0; len <= packet.length; len++) {
        byte[] truncated = Arrays.copyOf(packet, len);
        UdpcastMessage m = decodeCleanlyOrMalformed(truncated);
        if (m != null) {
          assertReEncodesWhatItConsumed(truncated, m);
        }
      }
    }
  }

  @Test
  void truncationBelowTheFixedSizesIsRejectedWithAPreciseMessage() {
    MalformedPacketException e = expectMalformed(Arrays.copyOf(golden("mc2-reqack-ready"), 100));
    assertEquals("REQACK length 100, want 144", e.getMessage());
    e = expectMalformed(Arrays.copyOf(golden("mc2-connect-reply"), 31));
    assertEquals("CONNECT_REPLY length 31, want 32", e.getMessage());
    e = expectMalformed(Arrays.copyOf(golden("mc2-data"), 15));
    assertEquals("DATA header length 15, want 16", e.getMessage());
    e = expectMalformed(new byte[] {5});
    assertEquals("udpcast opcode length 1, want 2", e.getMessage());
  }

  @Test
  void corruptedHeaderBytesAndCountFields() {
    for (byte[] packet : corpus()) {
      for (int off = 0; off < Math.min(packet.length, 32); off++) {
        for (byte value : NASTY) {
          byte[] bad = packet.clone();
          bad[off] = value;
          decodeCleanlyOrMalformed(bad);
        }
      }
      // the i32 fields at 4, 8 and 12 (sliceNo, clNr/bytes/blockNo, bytes/rxmit/caps)
      for (int off = 4; off + 4 <= Math.min(packet.length, 16); off += 4) {
        for (int value : new int[] {-1, Integer.MIN_VALUE, Integer.MAX_VALUE, 1024, 65536}) {
          byte[] bad = packet.clone();
          Unpooled.wrappedBuffer(bad).setInt(off, value);
          decodeCleanlyOrMalformed(bad);
        }
      }
    }
  }

  @Test
  void everyOpcodeSwappedIntoEveryGolden() {
    for (byte[] packet : corpus()) {
      for (int opcode : OPCODES) {
        byte[] bad = packet.clone();
        Unpooled.wrappedBuffer(bad).setShort(0, opcode);
        decodeCleanlyOrMalformed(bad);
      }
    }
  }

  @Test
  void negativeCountsAreMalformedNotAccepted() {
    byte[] ok = golden("mc2-ok");
    Unpooled.wrappedBuffer(ok).setInt(4, -1);
    assertEquals("OK: sliceNo -1 negative", expectMalformed(ok).getMessage());
    byte[] reply = golden("mc2-connect-reply");
    Unpooled.wrappedBuffer(reply).setInt(4, 1024);
    assertEquals("CONNECT_REPLY: clNr 1024 outside -1..1023", expectMalformed(reply).getMessage());
  }

  @Test
  void specificDecodersRejectTheWrongOpcode() {
    ByteBuf ok = Unpooled.wrappedBuffer(golden("mc2-ok"));
    MalformedPacketException e =
        assertThrows(MalformedPacketException.class, () -> Retransmit.decode(ok));
    assertEquals("RETRANSMIT length 8, want 140", e.getMessage());
    ByteBuf reqack = Unpooled.wrappedBuffer(golden("mc2-reqack-end"));
    e = assertThrows(MalformedPacketException.class, () -> Retransmit.decode(reqack));
    assertEquals("RETRANSMIT opcode 6, want 1", e.getMessage());
    assertEquals(0, reqack.readerIndex());
  }

  @Property
  void arbitraryBytesDecodeCleanlyOrMalformed(@ForAll("packets") byte[] packet) {
    UdpcastMessage m = decodeCleanlyOrMalformed(packet);
    if (m != null) {
      assertReEncodesWhatItConsumed(packet, m);
    }
  }

  /** Random bytes after a known opcode half of the time, so that every decoder gets exercised. */
  @Provide
  Arbitrary<byte[]> packets() {
    Arbitrary<byte[]> raw = Arbitraries.bytes().array(byte[].class).ofMaxSize(200);
    Arbitrary<byte[]> withOpcode =
        Arbitraries.of(Arrays.stream(OPCODES).boxed().toList())
            .flatMap(
                op ->
                    Arbitraries.bytes()
                        .array(byte[].class)
                        .ofMaxSize(200)
                        .map(
                            tail -> {
                              byte[] p =
                                  Arrays.copyOf(
                                      new byte[] {(byte) (op >> 8), op.byteValue()},
                                      2 + tail.length);
                              System.arraycopy(tail, 0, p, 2, tail.length);
                              return p;
                            }));
    return Arbitraries.oneOf(raw, withOpcode);
  }

  /**
   * @return the decoded message, or null if it was (correctly) rejected
   */
  private static UdpcastMessage decodeCleanlyOrMalformed(byte[] packet) {
    ByteBuf in = Unpooled.wrappedBuffer(packet);
    try {
      return UdpcastMessage.decode(in);
    } catch (MalformedPacketException e) {
      assertEquals(0, in.readerIndex(), "reader index moved by a failed decode");
      assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
      return null;
    } catch (RuntimeException e) {
      fail("decoding " + ByteBufs.hexDump(Unpooled.wrappedBuffer(packet)) + " threw " + e, e);
      return null;
    }
  }

  /**
   * A clean decode re-encodes to the bytes it consumed. Reserved fields are written as zero and the
   * HELLO padding is always written, so the comparison skips those positions.
   */
  private static void assertReEncodesWhatItConsumed(byte[] packet, UdpcastMessage m) {
    ByteBuf in = Unpooled.wrappedBuffer(packet);
    UdpcastMessage.decode(in);
    byte[] consumed = Arrays.copyOf(packet, in.readerIndex());
    ByteBuf out = Unpooled.buffer();
    m.encode(out);
    byte[] encoded = ByteBufs.toByteArray(out);
    assertTrue(encoded.length >= consumed.length);
    byte[] expected = consumed.clone();
    byte[] actual = Arrays.copyOf(encoded, consumed.length);
    for (int reserved : reservedOffsets(m)) {
      if (reserved < expected.length) {
        expected[reserved] = 0;
        actual[reserved] = 0;
      }
    }
    assertArrayEquals(expected, actual, m.toString());
  }

  private static int[] reservedOffsets(UdpcastMessage m) {
    if (m instanceof Unknown) {
      return new int[0];
    }
    if (m instanceof Fec) {
      return new int[] {10, 11};
    }
    if (m instanceof Data) {
      return new int[] {2, 3, 10, 11};
    }
    if (m instanceof Hello) {
      return new int[] {2, 3, 26, 27};
    }
    return new int[] {2, 3};
  }

  private static MalformedPacketException expectMalformed(byte[] packet) {
    return assertThrows(
        MalformedPacketException.class,
        () -> UdpcastMessage.decode(Unpooled.wrappedBuffer(packet)));
  }

  private static byte[] golden(String name) {
    return UdpcastGoldens.entry(name).packet();
  }
}

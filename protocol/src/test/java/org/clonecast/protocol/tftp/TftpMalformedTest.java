package org.clonecast.protocol.tftp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

/**
 * The malformed corpus: every golden packet (plus DATA and ACK, which no capture holds) truncated
 * at every offset and corrupted at every byte; hand-made bad packets with the exact message;
 * arbitrary bytes. Only {@link MalformedPacketException} may come out, and it leaves the reader
 * index alone.
 */
class TftpMalformedTest {
  private static final byte[] NASTY = {
    0, 1, 2, 6, 7, 0x2e, 0x2f, 0x7F, (byte) 0x80, (byte) 0xC3, (byte) 0xFF
  };

  private static List<byte[]> corpus() {
    List<byte[]> c = new ArrayList<>();
    TftpGoldens.ENTRIES.forEach(e -> c.add(e.packet()));
    c.add(TftpCodec.encode(new TftpData(7, Unpooled.wrappedBuffer(new byte[] {1, 2, 3}))));
    c.add(TftpCodec.encode(new TftpAck(65535)));
    return c;
  }

  @Test
  void truncatedAtEveryOffset() {
    int decoded = 0;
    for (byte[] packet : corpus()) {
      for (int len = 0; len < packet.length; len++) {
        if (decodeOrMalformed(Arrays.copyOf(packet, len)) != null) {
          decoded++;
        }
      }
    }
    // Only cuts that land on a string boundary or inside DATA's payload can still decode.
    assertTrue(decoded > 0 && decoded < 60, "decoded " + decoded);
  }

  @Test
  void corruptedAtEveryByte() {
    for (byte[] packet : corpus()) {
      for (int off = 0; off < packet.length; off++) {
        for (byte v : NASTY) {
          byte[] bad = packet.clone();
          bad[off] = v;
          TftpPacket p = decodeOrMalformed(bad);
          if (p != null) {
            // Not byte-exact: tolerated padding and mode case are normalised away.
            assertEquals(
                p,
                TftpCodec.decode(TftpCodec.encode(p)),
                "a corrupted packet that decodes must round-trip");
          }
        }
      }
    }
  }

  @Test
  void preciseMessages() {
    assertEquals("TFTP opcode length 1, want 2", malformed("00").getMessage());
    assertEquals(
        "TFTP opcode 257 (0x101) unknown; want 1-6",
        malformed("0101").getMessage(),
        "the high byte counts (commons-net ignores it)");
    assertEquals("TFTP opcode 0 (0x0) unknown; want 1-6", malformed("0000").getMessage());
    assertEquals("RRQ filename not NUL-terminated", malformed(hex(1, "boot.ipxe")).getMessage());
    assertEquals("RRQ filename empty", malformed(hex(1, "\0octet\0")).getMessage());
    assertEquals("RRQ mode not NUL-terminated", malformed(hex(1, "f\0octet")).getMessage());
    assertEquals(
        "mode binary unknown; want netascii, octet or mail",
        malformed(hex(1, "f\0binary\0")).getMessage());
    assertEquals(
        "RRQ option blksize has no value", malformed(hex(1, "f\0octet\0blksize\0")).getMessage());
    assertEquals(
        "RRQ option blksize value not NUL-terminated",
        malformed(hex(1, "f\0octet\0blksize\0001432")).getMessage());
    assertEquals(
        "RRQ option 2 has an empty name", malformed(hex(1, "f\0octet\0a\0b\0\0x\0")).getMessage());
    assertEquals(
        "RRQ: option BLKSIZE repeated",
        malformed(hex(1, "f\0octet\0blksize\u0000512\0BLKSIZE\u0000512\0")).getMessage());
    assertEquals(
        "WRQ filename is not valid UTF-8",
        malformed("0002ff00" + HexFormat.of().formatHex("octet\0".getBytes())).getMessage());
    assertEquals("ACK block length 1, want 2", malformed("000401").getMessage());
    assertEquals("DATA block length 0, want 2", malformed("0003").getMessage());
    assertEquals(
        "ERROR message not NUL-terminated", malformed(hex(5, "\0\u0001oops")).getMessage());
    assertEquals(
        "ERROR has 2 bytes after its message", malformed(hex(5, "\0\u0001oops\0xy")).getMessage());
    assertEquals("OACK has no options", malformed("0006").getMessage());
  }

  @Test
  void toleratedDeviations() {
    TftpReadRequest padded =
        (TftpReadRequest)
            TftpCodec.decode(hexBytes(hex(1, "pxelinux.0\0octet\0tsize\0000\0\0\0\0")));
    assertEquals(
        TftpOptions.of("tsize", "0"), padded.options(), "NUL padding after the last option");
    assertEquals(
        new TftpAck(3), TftpCodec.decode(hexBytes("0004000300")), "an ACK with a trailing byte");
    assertEquals(
        TftpMode.OCTET,
        ((TftpReadRequest) TftpCodec.decode(hexBytes(hex(1, "f\0OcTeT\0")))).mode());
  }

  @Property(tries = 3000)
  void arbitraryBytesDecodeOrAreMalformed(@ForAll byte[] bytes) {
    decodeOrMalformed(bytes);
    if (bytes.length >= 2) {
      bytes[0] = 0;
      bytes[1] = (byte) (1 + Math.floorMod(bytes.length, 6));
      decodeOrMalformed(bytes);
    }
  }

  /**
   * Decodes cleanly, or throws MalformedPacketException with the reader index unchanged; null then.
   */
  private static TftpPacket decodeOrMalformed(byte[] bytes) {
    ByteBuf in = Unpooled.wrappedBuffer(bytes);
    try {
      return TftpPacket.decode(in);
    } catch (MalformedPacketException e) {
      assertEquals(0, in.readerIndex(), "reader index restored");
      assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
      return null;
    } catch (RuntimeException e) {
      fail("decode threw " + e + " for " + HexFormat.of().formatHex(bytes), e);
      return null;
    }
  }

  private static MalformedPacketException malformed(String hex) {
    return assertThrows(
        MalformedPacketException.class,
        () -> TftpPacket.decode(Unpooled.wrappedBuffer(hexBytes(hex))));
  }

  private static String hex(int opcode, String rest) {
    return String.format("%04x", opcode)
        + HexFormat.of().formatHex(rest.getBytes(StandardCharsets.ISO_8859_1));
  }

  private static byte[] hexBytes(String hex) {
    return HexFormat.of().parseHex(hex);
  }
}

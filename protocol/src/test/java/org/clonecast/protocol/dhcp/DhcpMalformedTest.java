package org.clonecast.protocol.dhcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.junit.jupiter.api.Test;

/**
 * The malformed corpus: every golden DHCP packet truncated at every offset and with every option
 * length octet corrupted, plus random bytes behind a valid header. Decoding either succeeds or
 * throws {@link MalformedPacketException} (never anything else), and leaves the reader index alone
 * when it throws.
 */
class DhcpMalformedTest {
  private static final int[] NASTY_LENGTHS = {0, 1, 2, 3, 5, 0x7F, 0x80, 0xFF};

  /** Decodes, allowing only MalformedPacketException; returns null when malformed. */
  static DhcpPacket decodeOrMalformed(byte[] b, String what) {
    ByteBuf in = Unpooled.wrappedBuffer(b);
    try {
      return DhcpPacket.decode(in);
    } catch (MalformedPacketException e) {
      assertEquals(0, in.readerIndex(), what + ": reader index restored");
      if (e.getMessage() == null || e.getMessage().isBlank()) {
        fail(what + ": exception without a message");
      }
      return null;
    } catch (RuntimeException e) {
      throw new AssertionError(what + ": " + e, e);
    }
  }

  @Test
  void everyGoldenTruncatedAtEveryOffset() {
    int malformed = 0;
    for (DhcpGoldens.Named n : DhcpGoldens.all()) {
      for (int len = 0; len < n.bytes().length; len++) {
        if (decodeOrMalformed(Arrays.copyOf(n.bytes(), len), n.id() + " cut at " + len) == null) {
          malformed++;
        }
      }
    }
    // Every cut inside the fixed header or inside an option is malformed; cuts at an option
    // boundary
    // or in the padding decode (a missing END is tolerated).
    assertEquals(true, malformed > 68 * 240, "malformed cuts: " + malformed);
  }

  @Test
  void everyOptionLengthCorrupted() {
    int checked = 0;
    for (DhcpGoldens.Named n : DhcpGoldens.all()) {
      byte[] b = n.bytes();
      for (int i = 240; i + 1 < b.length && (b[i] & 0xFF) != 255; i += 2 + (b[i + 1] & 0xFF)) {
        for (int len : NASTY_LENGTHS) {
          byte[] c = b.clone();
          c[i + 1] = (byte) len;
          decodeOrMalformed(c, n.id() + " option at " + i + " length " + len);
          checked++;
        }
      }
    }
    assertEquals(true, checked > 68 * 8 * 5, "corruptions: " + checked);
  }

  @Test
  void preciseMessages() {
    byte[] discover = DhcpGoldens.packets("full-bios-discover").get(0);
    assertEquals("DHCP length 100, want 240", malformed(Arrays.copyOf(discover, 100)).getMessage());
    byte[] c = discover.clone();
    c[236] = 0;
    assertEquals(
        "DHCP magic cookie 0x825363, want 0x63825363 (plain BOOTP is not served)",
        malformed(c).getMessage());
    // option 93 with 3 octets after option 53
    c = Arrays.copyOf(discover, 300);
    Arrays.fill(c, 243, 300, (byte) 0);
    byte[] arch = {93, 3, 0, 0, 7, (byte) 255};
    System.arraycopy(arch, 0, c, 243, arch.length);
    assertEquals("option 93 length 3, want a multiple of 2", malformed(c).getMessage());
    c = discover.clone();
    c[0] = 3;
    assertEquals("DHCP op 3, want 1 or 2", malformed(c).getMessage());
    c = discover.clone();
    c[2] = 17;
    assertEquals("DHCP hlen 17, want at most 16", malformed(c).getMessage());
  }

  @Test
  void badOverloadIsMalformed() {
    DhcpPacket p = new DhcpPacketBuilder().xid(1).type(DhcpMessageType.DISCOVER).build();
    byte[] b = DhcpGoldenTest.encode(p);
    // replace END at 243 with 52/1/9 + END
    byte[] c = Arrays.copyOf(b, 300);
    c[243] = 52;
    c[244] = 1;
    c[245] = 9;
    c[246] = (byte) 255;
    assertEquals("option 52 length 1 value 9, want length 1 value 1-3", malformed(c).getMessage());
  }

  private static MalformedPacketException malformed(byte[] b) {
    return assertThrows(
        MalformedPacketException.class, () -> DhcpPacket.decode(Unpooled.wrappedBuffer(b)));
  }

  @Property(tries = 2000)
  void randomOptionsBehindAValidHeaderNeverEscape(@ForAll @Size(max = 400) byte[] options) {
    byte[] head = Arrays.copyOf(DhcpGoldens.packets("full-bios-discover").get(0), 240);
    byte[] b = Arrays.copyOf(head, 240 + options.length);
    System.arraycopy(options, 0, b, 240, options.length);
    decodeOrMalformed(b, "random options");
  }

  @Property(tries = 500)
  void randomBytesNeverEscape(@ForAll @Size(max = 600) byte[] bytes) {
    decodeOrMalformed(bytes, "random bytes");
  }
}

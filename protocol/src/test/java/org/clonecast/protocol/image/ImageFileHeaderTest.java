package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ImageFileHeaderTest {
  private static final ImageFileHeader H =
      ImageFileHeader.incomplete(
              new UUID(0x0102030405060708L, 0x090a0b0c0d0e0f10L), 3L << 20, 1 << 20, 3)
          .complete(1000, 200);

  private static byte[] encode(ImageFileHeader h) {
    ByteBuf b = Unpooled.buffer();
    h.encode(b);
    return ByteBufUtil.getBytes(b);
  }

  @Test
  void goldenBytesAndRoundTrip() {
    String want =
        "434c4f4e45434931"
            + "0001"
            + "0000"
            + "00000040"
            + "0102030405060708090a0b0c0d0e0f10"
            + "0000000000300000"
            + "00100000"
            + "00000003"
            + "00000000000003e8"
            + "000000c8"
            + "00000000";
    assertEquals(want, ByteBufUtil.hexDump(encode(H)));
    ByteBuf in = Unpooled.wrappedBuffer(encode(H));
    assertEquals(H, ImageFileHeader.decode(in));
    assertEquals(0, in.readableBytes());
    assertTrue(H.isComplete());
    assertFalse(ImageFileHeader.incomplete(UUID.randomUUID(), 0, 4096, 0).isComplete());
    ByteBuf fields = Unpooled.buffer();
    H.encodeManifestFields(fields);
    assertEquals(want.substring(96, 120), ByteBufUtil.hexDump(fields));
  }

  @Test
  void badInputIsMalformed() {
    assertEquals(
        "not a clonecast image (bad magic)",
        assertThrows(
                MalformedImageException.class,
                () -> ImageFileHeader.decode(Unpooled.wrappedBuffer("hello world".getBytes())))
            .getMessage());
    byte[] good = encode(H);
    for (int len = 0; len < good.length; len++) {
      ByteBuf b = Unpooled.wrappedBuffer(good, 0, len);
      assertThrows(MalformedImageException.class, () -> ImageFileHeader.decode(b));
    }
    for (int i = 8; i < good.length; i++) {
      byte[] b = good.clone();
      b[i] ^= (byte) 0x80;
      try {
        ImageFileHeader.decode(Unpooled.wrappedBuffer(b));
      } catch (MalformedImageException expected) {
        // fine
      } catch (RuntimeException e) {
        fail(e);
      }
    }
    byte[] v4 = good.clone();
    v4[9] = 4;
    assertTrue(
        assertThrows(
                MalformedImageException.class,
                () -> ImageFileHeader.decode(Unpooled.wrappedBuffer(v4)))
            .getMessage()
            .contains("version 4 unsupported (this build reads versions 1 to 3)"));
    byte[] v0 = good.clone();
    v0[9] = 0;
    assertThrows(
        MalformedImageException.class, () -> ImageFileHeader.decode(Unpooled.wrappedBuffer(v0)));
  }

  @Test
  void version2IsTheSameLayoutWithItsNumber() {
    ImageFileHeader h2 =
        ImageFileHeader.incomplete(2, H.imageId(), H.logicalSize(), H.chunkSize(), H.chunkCount())
            .complete(1000, 200);
    byte[] b = encode(h2);
    byte[] b1 = encode(H);
    assertEquals(2, b[9]);
    b[9] = 1;
    assertEquals(ByteBufUtil.hexDump(b1), ByteBufUtil.hexDump(b));
    assertEquals(h2, ImageFileHeader.decode(Unpooled.wrappedBuffer(encode(h2))));
    ImageFileHeader h3 =
        ImageFileHeader.incomplete(3, H.imageId(), H.logicalSize(), H.chunkSize(), H.chunkCount())
            .complete(1000, 200);
    byte[] b3 = encode(h3);
    assertEquals(3, b3[9]);
    b3[9] = 1;
    assertEquals(ByteBufUtil.hexDump(b1), ByteBufUtil.hexDump(b3));
    assertEquals(h3, ImageFileHeader.decode(Unpooled.wrappedBuffer(encode(h3))));
    assertThrows(
        IllegalArgumentException.class,
        () -> ImageFileHeader.incomplete(4, H.imageId(), 0, 4096, 0));
  }
}

package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_IMAGE_INFO;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import java.util.Optional;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * IMAGE_INFO (opcode 0x4343, 44 bytes): clonecast's extension to the udpcast protocol, behind
 * {@link Udpcast#CAP_CLONECAST}. What udpcast never carries: the image's length, so a receiver can
 * check its target and show a percentage, and, once the sender has read it all, its SHA-256, so a
 * receiver can verify what it wrote before it acknowledges the end. Sender → receiver, unicast.
 * {@code op u16, flags u16 (bit 0: sha256 present; no other bit defined), totalBytes i64, sha256 32
 * bytes (zero if absent)}; anything else is malformed, so that every message has one encoding.
 *
 * <p>Immutable; thread-safe.
 *
 * @param totalBytes the image length, ≥ 0
 * @param sha256 the SHA-256 of the whole image, if the sender knows it yet
 */
public record ImageInfo(long totalBytes, Optional<Sha256> sha256) implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 44;

  /** Flag bit: the SHA-256 field is valid. */
  public static final int FLAG_SHA256 = 0x0001;

  private static final byte[] NO_HASH = new byte[Sha256.LENGTH];

  /** Validates the length. */
  public ImageInfo {
    if (totalBytes < 0) {
      throw new IllegalArgumentException("image length " + totalBytes);
    }
  }

  /** Reads an IMAGE_INFO at the reader index; trailing bytes are left unread. */
  public static ImageInfo decode(ByteBuf in) {
    return ByteBufs.decoding(
        "IMAGE_INFO",
        in,
        b -> {
          ByteBufs.requireReadable(b, SIZE, "IMAGE_INFO");
          int opcode = b.readUnsignedShort();
          if (opcode != OP_IMAGE_INFO) {
            throw new MalformedPacketException(
                "IMAGE_INFO opcode " + opcode + ", want " + OP_IMAGE_INFO);
          }
          int flags = b.readUnsignedShort();
          if ((flags & ~FLAG_SHA256) != 0) {
            throw new MalformedPacketException(
                "IMAGE_INFO flags 0x" + Integer.toHexString(flags) + ", only 0x1 is defined");
          }
          long total = b.readLong();
          if (total < 0) {
            throw new MalformedPacketException("IMAGE_INFO image length " + total);
          }
          byte[] hash = ByteBufs.readBytes(b, Sha256.LENGTH, "IMAGE_INFO sha256");
          boolean present = (flags & FLAG_SHA256) != 0;
          if (!present && !Arrays.equals(hash, NO_HASH)) {
            // Exactly one encoding per message: what we decode re-encodes to the same bytes.
            throw new MalformedPacketException("IMAGE_INFO carries a hash without its flag");
          }
          return new ImageInfo(total, present ? Optional.of(Sha256.of(hash)) : Optional.empty());
        });
  }

  @Override
  public int opcode() {
    return OP_IMAGE_INFO;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_IMAGE_INFO); // opCode
    out.writeShort(sha256.isPresent() ? FLAG_SHA256 : 0); // flags
    out.writeLong(totalBytes); // totalBytes
    out.writeBytes(sha256.map(Sha256::bytes).orElse(NO_HASH)); // sha256
  }
}

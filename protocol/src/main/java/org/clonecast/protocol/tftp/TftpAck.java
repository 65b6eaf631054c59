package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * ACK (opcode 4): {@code | 04 | block # |}. Block 0 acknowledges an OACK (RFC 2347); with
 * windowsize (RFC 7440) one ACK covers every block up to {@code block}. Immutable.
 *
 * @param block the u16 block number
 */
public record TftpAck(int block) implements TftpPacket {
  /** Bytes on the wire. */
  public static final int SIZE = 4;

  /** Validates the field. */
  public TftpAck {
    ByteBufs.requireU16(block, "block");
  }

  /**
   * Decodes an ACK. Deviation: bytes after the block number are skipped, not rejected; nothing in
   * them can change the meaning and RFC 1350 does not forbid padding.
   */
  public static TftpAck decode(ByteBuf in) {
    return ByteBufs.decoding(
        "ACK",
        in,
        b -> {
          TftpPacket.readOpcode(b, Tftp.OP_ACK, "ACK");
          ByteBufs.requireReadable(b, 2, "ACK block");
          TftpAck ack = new TftpAck(b.readUnsignedShort());
          b.skipBytes(b.readableBytes());
          return ack;
        });
  }

  @Override
  public int opcode() {
    return Tftp.OP_ACK;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(Tftp.OP_ACK); // opcode
    out.writeShort(block); // block #
  }
}

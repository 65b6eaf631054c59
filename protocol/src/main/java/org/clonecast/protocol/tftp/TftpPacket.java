package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * A TFTP message (RFC 1350 §5, RFC 2347): one UDP payload that starts with a big-endian u16 opcode.
 * One record per opcode with {@code static X decode(ByteBuf)} and {@link #encode}.
 *
 * <p>Decoding is strict: the whole u16 opcode is checked (commons-net ignores its high byte), every
 * string must be NUL-terminated, requests need a file name and a known mode. Implementations are
 * immutable values; thread-safe (DATA as long as its input buffer is not modified).
 */
public sealed interface TftpPacket
    permits TftpRequest, TftpData, TftpAck, TftpError, TftpOptionAck {

  /**
   * @return the opcode this message is sent with
   */
  int opcode();

  /** Appends the message in wire order. */
  void encode(ByteBuf out);

  /**
   * Decodes the whole readable part of {@code in}, dispatching on the opcode.
   *
   * @throws MalformedPacketException naming what is wrong; the reader index is then unchanged
   */
  static TftpPacket decode(ByteBuf in) {
    return ByteBufs.decoding(
        "TFTP packet",
        in,
        b -> {
          ByteBufs.requireReadable(b, 2, "TFTP opcode");
          int opcode = b.getUnsignedShort(b.readerIndex());
          return switch (opcode) {
            case Tftp.OP_RRQ -> TftpReadRequest.decode(b);
            case Tftp.OP_WRQ -> TftpWriteRequest.decode(b);
            case Tftp.OP_DATA -> TftpData.decode(b);
            case Tftp.OP_ACK -> TftpAck.decode(b);
            case Tftp.OP_ERROR -> TftpError.decode(b);
            case Tftp.OP_OACK -> TftpOptionAck.decode(b);
            default ->
                throw new MalformedPacketException(
                    "TFTP opcode "
                        + opcode
                        + " (0x"
                        + Integer.toHexString(opcode)
                        + ") unknown; want 1-6");
          };
        });
  }

  /** Reads the opcode and requires it to be {@code want}; for the records' own decoders. */
  static void readOpcode(ByteBuf in, int want, String what) {
    ByteBufs.requireReadable(in, 2, what + " opcode");
    int opcode = in.readUnsignedShort();
    if (opcode != want) {
      throw new MalformedPacketException(what + " opcode " + opcode + ", want " + want);
    }
  }
}

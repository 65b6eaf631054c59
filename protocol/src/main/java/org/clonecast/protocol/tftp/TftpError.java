package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import java.util.Objects;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * ERROR (opcode 5): {@code | 05 | ErrorCode | ErrMsg | 0 |}. Ends the transfer it is sent in.
 * Immutable.
 *
 * @param code the u16 error code, {@code Tftp.ERR_*} (unknown codes are kept as they are)
 * @param message the human-readable text, no NUL
 */
public record TftpError(int code, String message) implements TftpPacket {
  /** Validates the fields. */
  public TftpError {
    ByteBufs.requireU16(code, "error code");
    Objects.requireNonNull(message, "message");
    TftpStrings.requireNoNul(message, "error message");
  }

  /** Decodes an ERROR. Strict: the message must be NUL-terminated and nothing may follow it. */
  public static TftpError decode(ByteBuf in) {
    return ByteBufs.decoding(
        "ERROR",
        in,
        b -> {
          TftpPacket.readOpcode(b, Tftp.OP_ERROR, "ERROR");
          ByteBufs.requireReadable(b, 2, "ERROR code");
          int code = b.readUnsignedShort();
          String message = TftpStrings.read(b, "ERROR message");
          if (b.isReadable()) {
            throw new MalformedPacketException(
                "ERROR has " + b.readableBytes() + " bytes after its message");
          }
          return new TftpError(code, message);
        });
  }

  @Override
  public int opcode() {
    return Tftp.OP_ERROR;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(Tftp.OP_ERROR); // opcode
    out.writeShort(code); // ErrorCode
    TftpStrings.write(out, message); // ErrMsg, 0
  }
}

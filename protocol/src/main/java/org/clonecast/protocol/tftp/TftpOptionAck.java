package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import java.util.Objects;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * OACK (opcode 6, RFC 2347): {@code | opc | opt1 | 0 | value1 | 0 | ...}, the options the server
 * accepted, with the values it chose. Sent only when at least one option was accepted. Immutable.
 *
 * @param options the accepted options, at least one
 */
public record TftpOptionAck(TftpOptions options) implements TftpPacket {
  /** Validates the field. */
  public TftpOptionAck {
    Objects.requireNonNull(options, "options");
    if (options.isEmpty()) {
      throw new IllegalArgumentException("OACK without options");
    }
  }

  /** Decodes an OACK. */
  public static TftpOptionAck decode(ByteBuf in) {
    return ByteBufs.decoding(
        "OACK",
        in,
        b -> {
          TftpPacket.readOpcode(b, Tftp.OP_OACK, "OACK");
          TftpOptions options = TftpOptions.decode(b, "OACK");
          if (options.isEmpty()) {
            throw new MalformedPacketException("OACK has no options");
          }
          return new TftpOptionAck(options);
        });
  }

  @Override
  public int opcode() {
    return Tftp.OP_OACK;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(Tftp.OP_OACK); // opc
    options.encode(out); // opt1, value1, ...
  }
}

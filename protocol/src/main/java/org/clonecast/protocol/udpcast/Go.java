package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_GO;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * GO (opcode 2, 4 bytes; docs/ref/udpcast-protocol.md §1.2, §1.4): a receiver asks the sender to
 * start the transfer. Receiver → sender, unicast. Not present in the reference captures.
 *
 * <p>Immutable; thread-safe.
 */
public record Go() implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 4;

  /** Reads a GO at the reader index; trailing bytes are left unread. */
  public static Go decode(ByteBuf in) {
    return ByteBufs.decoding(
        "GO",
        in,
        b -> {
          ControlHeader.readOpcodeAndReserved(b, SIZE, OP_GO, "GO");
          return new Go();
        });
  }

  @Override
  public int opcode() {
    return OP_GO;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_GO); // opCode
    out.writeShort(0); // reserved
  }
}

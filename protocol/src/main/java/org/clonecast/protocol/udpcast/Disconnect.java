package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_DISCONNECT;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * DISCONNECT (opcode 4, 4 bytes; docs/ref/udpcast-protocol.md §1.2, §1.5, §1.9): a receiver leaves
 * the session, at any time; the sender removes it from the slice's ready and answered sets.
 * Receiver → sender, unicast.
 *
 * <p>Immutable; thread-safe.
 */
public record Disconnect() implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 4;

  /** Reads a DISCONNECT at the reader index; trailing bytes are left unread. */
  public static Disconnect decode(ByteBuf in) {
    return ByteBufs.decoding(
        "DISCONNECT",
        in,
        b -> {
          ControlHeader.readOpcodeAndReserved(b, SIZE, OP_DISCONNECT, "DISCONNECT");
          return new Disconnect();
        });
  }

  @Override
  public int opcode() {
    return OP_DISCONNECT;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_DISCONNECT); // opCode
    out.writeShort(0); // reserved
  }
}

package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_OK;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * OK (opcode 0, 8 bytes; docs/ref/udpcast-protocol.md §1.2, §1.7): a receiver has every block of
 * slice {@code sliceNo}. Receiver → sender, unicast.
 *
 * <p>Immutable; thread-safe.
 *
 * @param sliceNo the acknowledged slice, ≥ 0
 */
public record Ok(int sliceNo) implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 8;

  /** Validates the field. */
  public Ok {
    ByteBufs.requireNonNegative(sliceNo, "sliceNo");
  }

  /** Reads an OK at the reader index; trailing bytes are left unread. */
  public static Ok decode(ByteBuf in) {
    return ByteBufs.decoding(
        "OK",
        in,
        b -> {
          ControlHeader.readOpcodeAndReserved(b, SIZE, OP_OK, "OK");
          return new Ok(b.readInt());
        });
  }

  @Override
  public int opcode() {
    return OP_OK;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_OK); // opCode
    out.writeShort(0); // reserved
    out.writeInt(sliceNo); // sliceNo
  }
}

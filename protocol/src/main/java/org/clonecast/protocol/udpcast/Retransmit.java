package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_RETRANSMIT;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * RETRANSMIT (opcode 1, 140 bytes; docs/ref/udpcast-protocol.md §1.2, §1.7): a receiver answers a
 * REQACK with the blocks it <em>has</em>; the sender resends every block whose bit is clear.
 * Receiver → sender, unicast. {@code op u16, res i16, sliceNo i32, rxmit i32, map[128]}.
 *
 * <p>Immutable; thread-safe.
 *
 * @param sliceNo the slice, ≥ 0
 * @param rxmit echo of the REQACK's round
 * @param map bit i set = block i received (FEC blocks count)
 */
public record Retransmit(int sliceNo, int rxmit, Bitmap1024 map) implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 140;

  /** Validates the field ranges. */
  public Retransmit {
    ByteBufs.requireNonNegative(sliceNo, "sliceNo");
    ByteBufs.requireNonNegative(rxmit, "rxmit");
    if (map == null) {
      throw new IllegalArgumentException("RETRANSMIT map missing");
    }
  }

  /** Reads a RETRANSMIT at the reader index; trailing bytes are left unread. */
  public static Retransmit decode(ByteBuf in) {
    return ByteBufs.decoding(
        "RETRANSMIT",
        in,
        b -> {
          ControlHeader.readOpcodeAndReserved(b, SIZE, OP_RETRANSMIT, "RETRANSMIT");
          int sliceNo = b.readInt();
          int rxmit = b.readInt();
          Bitmap1024 map = Bitmap1024.read(b);
          return new Retransmit(sliceNo, rxmit, map);
        });
  }

  @Override
  public int opcode() {
    return OP_RETRANSMIT;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_RETRANSMIT); // opCode
    out.writeShort(0); // reserved
    out.writeInt(sliceNo); // sliceNo
    out.writeInt(rxmit); // rxmit
    map.write(out); // map[128]
  }
}

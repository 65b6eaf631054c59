package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_REQACK;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * REQACK (opcode 6, 144 bytes; docs/ref/udpcast-protocol.md §1.2, §1.7, §1.9): the sender asks
 * every receiver not yet in {@code readySet} whether it has slice {@code sliceNo}. Sender → data
 * address. {@code op u16, res i16, sliceNo i32, bytes i32, rxmit i32, readySet[128]}. A REQACK with
 * {@code bytes = 0} ends the session.
 *
 * <p>Immutable; thread-safe.
 *
 * @param sliceNo the slice asked about, ≥ 0
 * @param bytes the slice's total byte count, ≥ 0 (0 = end of transfer)
 * @param rxmit the retransmission round 0, 1, 2…, echoed by RETRANSMIT
 * @param readySet receiver numbers that have already answered OK for this slice
 */
public record ReqAck(int sliceNo, int bytes, int rxmit, Bitmap1024 readySet)
    implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 144;

  /** Validates the field ranges. */
  public ReqAck {
    ByteBufs.requireNonNegative(sliceNo, "sliceNo");
    ByteBufs.requireNonNegative(bytes, "bytes");
    ByteBufs.requireNonNegative(rxmit, "rxmit");
    if (readySet == null) {
      throw new IllegalArgumentException("REQACK readySet missing");
    }
  }

  /** Reads a REQACK at the reader index; trailing bytes are left unread. */
  public static ReqAck decode(ByteBuf in) {
    return ByteBufs.decoding(
        "REQACK",
        in,
        b -> {
          ControlHeader.readOpcodeAndReserved(b, SIZE, OP_REQACK, "REQACK");
          int sliceNo = b.readInt();
          int bytes = b.readInt();
          int rxmit = b.readInt();
          Bitmap1024 readySet = Bitmap1024.read(b);
          return new ReqAck(sliceNo, bytes, rxmit, readySet);
        });
  }

  @Override
  public int opcode() {
    return OP_REQACK;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_REQACK); // opCode
    out.writeShort(0); // reserved
    out.writeInt(sliceNo); // sliceNo
    out.writeInt(bytes); // bytes
    out.writeInt(rxmit); // rxmit
    readySet.write(out); // readySet[128]
  }
}

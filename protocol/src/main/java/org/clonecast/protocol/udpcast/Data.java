package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_DATA;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * DATA (opcode 8; docs/ref/udpcast-protocol.md §1.2, §1.6): block {@code blockNo} of slice {@code
 * sliceNo}. Sender → data address. A 16-byte header {@code op u16, res i16, sliceNo i32, blockNo
 * u16, res u16, bytes i32} and the payload: min(blocksize, bytes − blockNo·blocksize) bytes, so
 * only a slice's last block is short.
 *
 * <p>{@code payload} is a slice of the decoded buffer, not a copy and not retained: it is valid as
 * long as that buffer is, and {@code equals}/{@code hashCode} compare its readable bytes. The
 * record is immutable apart from that shared payload; thread-safe while nobody writes to the
 * buffer.
 *
 * @param sliceNo the slice, ≥ 0
 * @param blockNo the block within the slice, u16 (≤ 1023 in practice)
 * @param bytes the slice's <em>total</em> byte count, identical in every DATA and REQACK of the
 *     slice
 * @param payload the block's bytes (its readable bytes)
 */
public record Data(int sliceNo, int blockNo, int bytes, ByteBuf payload) implements UdpcastMessage {
  /** Header bytes before the payload. */
  public static final int HEADER_SIZE = BlockHeader.SIZE;

  /** Validates the field ranges. */
  public Data {
    BlockHeader.validate(sliceNo, blockNo, bytes, payload, "DATA");
  }

  /** Reads a DATA message; the payload is the rest of the buffer, sliced. */
  public static Data decode(ByteBuf in) {
    return ByteBufs.decoding(
        "DATA",
        in,
        b -> {
          BlockHeader h = BlockHeader.read(b, OP_DATA, "DATA");
          return new Data(h.sliceNo(), h.blockNo(), h.bytes(), b.readSlice(b.readableBytes()));
        });
  }

  @Override
  public int opcode() {
    return OP_DATA;
  }

  @Override
  public void encode(ByteBuf out) {
    writeHeader(out); // 16-byte header
    out.writeBytes(payload, payload.readerIndex(), payload.readableBytes()); // payload
  }

  /** Appends only the 16-byte header, for senders that chain the payload without copying it. */
  public void writeHeader(ByteBuf out) {
    new BlockHeader(OP_DATA, 0, sliceNo, blockNo, bytes).write(out);
  }
}

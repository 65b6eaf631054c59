package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_FEC;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * FEC (opcode 9; docs/ref/udpcast-protocol.md §1.2, §1.10): repair block {@code blockNo} of slice
 * {@code sliceNo}. Sender → data address, right after the slice's DATA blocks on the first
 * transmission only. Same 16-byte header as {@link Data} except that bytes 2–3 carry {@code
 * stripes} (the interleave S); the payload is always a full block. {@link UdpcastFecLayout} maps
 * {@code blockNo} to stripe and row.
 *
 * <p>Observed in asyncfec.pcap: the end-of-transfer slice ({@code bytes = 0}) is 64 FEC packets
 * whose payloads are stale copies of an earlier slice's repair blocks, and repair blocks of stripes
 * that hold no data carry unspecified bytes. Receivers must ignore both.
 *
 * <p>{@code payload} is a slice of the decoded buffer, not a copy and not retained (see {@link
 * Data}).
 *
 * @param stripes the interleave S, u16
 * @param sliceNo the slice, ≥ 0
 * @param blockNo the FEC block index i in 0…S·R−1, u16
 * @param bytes the slice's total byte count of data (0 = end of transfer)
 * @param payload the repair block (its readable bytes)
 */
public record Fec(int stripes, int sliceNo, int blockNo, int bytes, ByteBuf payload)
    implements UdpcastMessage {
  /** Header bytes before the payload. */
  public static final int HEADER_SIZE = BlockHeader.SIZE;

  /** Validates the field ranges. */
  public Fec {
    ByteBufs.requireU16(stripes, "stripes");
    BlockHeader.validate(sliceNo, blockNo, bytes, payload, "FEC");
  }

  /** Reads a FEC message; the payload is the rest of the buffer, sliced. */
  public static Fec decode(ByteBuf in) {
    return ByteBufs.decoding(
        "FEC",
        in,
        b -> {
          BlockHeader h = BlockHeader.read(b, OP_FEC, "FEC");
          return new Fec(
              h.word2(), h.sliceNo(), h.blockNo(), h.bytes(), b.readSlice(b.readableBytes()));
        });
  }

  @Override
  public int opcode() {
    return OP_FEC;
  }

  @Override
  public void encode(ByteBuf out) {
    writeHeader(out); // 16-byte header
    out.writeBytes(payload, payload.readerIndex(), payload.readableBytes()); // payload
  }

  /** Appends only the 16-byte header, for senders that chain the payload without copying it. */
  public void writeHeader(ByteBuf out) {
    new BlockHeader(OP_FEC, stripes, sliceNo, blockNo, bytes).write(out);
  }
}

package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * One FEC repair symbol: row {@code row} of the Cauchy code over stripe {@code stripe} of a chunk
 * (see {@link SymbolLayout}). Always a full symbol long. Any repair row of a stripe can replace any
 * one lost source symbol of that stripe at any receiver, which is what lets one repair packet fix
 * different losses at different receivers.
 */
public record RepairPacket(
    int sessionId, int seq, int chunk, int stripe, int row, int sourceCount, ByteBuf payload)
    implements McastPacket {

  public static final int HEADER_BYTES = DataPacket.HEADER_BYTES;

  public RepairPacket {
    if (chunk < 0) throw new IllegalArgumentException("chunk " + chunk + " negative");
    if (stripe < 0 || stripe > 0xFF)
      throw new IllegalArgumentException("stripe " + stripe + " out of 0..255");
    if (row < 0 || row >= SymbolLayout.MAX_REPAIR_ROWS) {
      throw new IllegalArgumentException(
          "row " + row + " out of 0.." + (SymbolLayout.MAX_REPAIR_ROWS - 1));
    }
    if (sourceCount < 1 || sourceCount > 0xFFFF) {
      throw new IllegalArgumentException("source count " + sourceCount + " out of 1..65535");
    }
  }

  static RepairPacket decodeBody(int session, ByteBuf in) {
    int seq = in.readInt();
    int chunk = in.readInt();
    int stripe = in.readUnsignedByte();
    int row = in.readUnsignedByte();
    int k = in.readUnsignedShort();
    if (chunk < 0)
      throw new MalformedPacketException(
          "REPAIR chunk " + Integer.toUnsignedString(chunk) + " too large");
    if (row >= SymbolLayout.MAX_REPAIR_ROWS)
      throw new MalformedPacketException("REPAIR row " + row + " >= 128");
    if (k == 0) throw new MalformedPacketException("REPAIR source count 0");
    if (!in.isReadable()) throw new MalformedPacketException("REPAIR without payload");
    return new RepairPacket(session, seq, chunk, stripe, row, k, in.readSlice(in.readableBytes()));
  }

  @Override
  public void encode(ByteBuf out) {
    encodeHeader(out, sessionId, seq, chunk, stripe, row, sourceCount);
    out.writeBytes(payload, payload.readerIndex(), payload.readableBytes()); // repair symbol
  }

  /** Writes a REPAIR header without building a record (sender hot path). */
  public static void encodeHeader(
      ByteBuf out, int sessionId, int seq, int chunk, int stripe, int row, int sourceCount) {
    McastPacket.encodeHeader(out, TYPE_REPAIR, sessionId);
    out.writeInt(seq); // sequence number
    out.writeInt(chunk); // chunk index
    out.writeByte(stripe); // stripe within the chunk
    out.writeByte(row); // Cauchy row
    out.writeShort(sourceCount); // source symbols in the chunk
  }
}

package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * One source symbol of a chunk: a slice of the chunk's stored (compressed) bytes, multicast to the
 * group. Symbol {@code symbol} covers stored bytes {@code [symbol*S, min((symbol+1)*S, len))} where
 * S is the session's symbol size. The payload is a slice of the received buffer, not a copy: the
 * caller owns and releases it.
 *
 * @param seq sender-wide packet sequence number, lets receivers measure loss
 * @param chunk chunk index in the manifest
 * @param symbol source symbol index, {@code < sourceCount}
 * @param sourceCount number of source symbols of the chunk (a cross-check against the manifest)
 * @param payload the symbol's bytes (the last symbol of a chunk may be short)
 */
public record DataPacket(
    int sessionId, int seq, int chunk, int symbol, int sourceCount, ByteBuf payload)
    implements McastPacket {

  /** Header bytes before the payload. */
  public static final int HEADER_BYTES = McastPacket.HEADER_BYTES + 12;

  public DataPacket {
    if (chunk < 0) throw new IllegalArgumentException("chunk " + chunk + " negative");
    if (sourceCount < 1 || sourceCount > 0xFFFF) {
      throw new IllegalArgumentException("source count " + sourceCount + " out of 1..65535");
    }
    if (symbol < 0 || symbol >= sourceCount) {
      throw new IllegalArgumentException("symbol " + symbol + " out of 0.." + (sourceCount - 1));
    }
  }

  static DataPacket decodeBody(int session, ByteBuf in) {
    int seq = in.readInt();
    int chunk = in.readInt();
    int symbol = in.readUnsignedShort();
    int k = in.readUnsignedShort();
    if (chunk < 0)
      throw new MalformedPacketException(
          "DATA chunk " + Integer.toUnsignedString(chunk) + " too large");
    if (k == 0 || symbol >= k) {
      throw new MalformedPacketException("DATA symbol " + symbol + " of " + k);
    }
    if (!in.isReadable()) throw new MalformedPacketException("DATA without payload");
    return new DataPacket(session, seq, chunk, symbol, k, in.readSlice(in.readableBytes()));
  }

  @Override
  public void encode(ByteBuf out) {
    encodeHeader(out);
    out.writeBytes(payload, payload.readerIndex(), payload.readableBytes()); // symbol bytes
  }

  /** Writes only the header; the caller appends {@code payload} (zero-copy sends). */
  public void encodeHeader(ByteBuf out) {
    McastPacket.encodeHeader(out, TYPE_DATA, sessionId);
    out.writeInt(seq); // sequence number
    out.writeInt(chunk); // chunk index
    out.writeShort(symbol); // source symbol index
    out.writeShort(sourceCount); // source symbols in the chunk
  }

  /** Writes a DATA header without building a record (sender hot path). */
  public static void encodeHeader(
      ByteBuf out, int sessionId, int seq, int chunk, int symbol, int sourceCount) {
    McastPacket.encodeHeader(out, TYPE_DATA, sessionId);
    out.writeInt(seq); // sequence number
    out.writeInt(chunk); // chunk index
    out.writeShort(symbol); // source symbol index
    out.writeShort(sourceCount); // source symbols in the chunk
  }
}

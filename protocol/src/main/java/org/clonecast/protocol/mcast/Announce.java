package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * Sent by the sender about twice a second to the subnet broadcast address and to the data group, so
 * a receiver that knows only its interface can find the session: where to connect for control,
 * which group carries the data, which image it is. Also tells receivers when the session has ended,
 * so a receiver waiting for a sender that has gone can stop.
 *
 * @param group IPv4 address of the data group, as a big-endian int
 */
public record Announce(
    int sessionId,
    int controlPort,
    int dataPort,
    int group,
    int capabilities,
    State state,
    int symbolSize,
    UUID imageId,
    long logicalSize,
    Optional<Seal> seal)
    implements McastPacket {

  /** Encoded size of an unsealed ANNOUNCE. */
  public static final int BYTES = McastPacket.HEADER_BYTES + 40;

  /** Encoded size of a sealed one. */
  public static final int SEALED_BYTES = BYTES + Seal.BYTES;

  /** Where the session is in its life. */
  public enum State {
    WAITING(0),
    RUNNING(1),
    ENDED(2);

    private final int code;

    State(int code) {
      this.code = code;
    }

    public int code() {
      return code;
    }

    static State fromCode(int code) {
      for (State s : values()) {
        if (s.code == code) return s;
      }
      throw new MalformedPacketException("ANNOUNCE state " + code + " unknown");
    }
  }

  /** An unsealed ANNOUNCE, as the first version sent. */
  public Announce(
      int sessionId,
      int controlPort,
      int dataPort,
      int group,
      int capabilities,
      State state,
      int symbolSize,
      UUID imageId,
      long logicalSize) {
    this(
        sessionId,
        controlPort,
        dataPort,
        group,
        capabilities,
        state,
        symbolSize,
        imageId,
        logicalSize,
        Optional.empty());
  }

  public Announce {
    checkPort(controlPort, "control");
    checkPort(dataPort, "data");
    if (symbolSize < SymbolLayout.MIN_SYMBOL_SIZE || symbolSize > SymbolLayout.MAX_SYMBOL_SIZE) {
      throw new IllegalArgumentException("symbol size " + symbolSize + " out of range");
    }
    if (logicalSize < 0)
      throw new IllegalArgumentException("logical size " + logicalSize + " negative");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(imageId, "imageId");
    Objects.requireNonNull(seal, "seal");
  }

  /** This announcement with another seal (or none). */
  public Announce withSeal(Optional<Seal> s) {
    return new Announce(
        sessionId,
        controlPort,
        dataPort,
        group,
        capabilities,
        state,
        symbolSize,
        imageId,
        logicalSize,
        s);
  }

  private static void checkPort(int port, String what) {
    if (port < 1 || port > 0xFFFF)
      throw new IllegalArgumentException(what + " port " + port + " out of 1..65535");
  }

  static Announce decodeBody(int session, ByteBuf in) {
    int controlPort = in.readUnsignedShort();
    int dataPort = in.readUnsignedShort();
    int group = in.readInt();
    int caps = in.readInt();
    State state = State.fromCode(in.readUnsignedByte());
    in.skipBytes(1);
    int symbolSize = in.readUnsignedShort();
    UUID id = new UUID(in.readLong(), in.readLong());
    long size = in.readLong();
    if (controlPort == 0 || dataPort == 0) throw new MalformedPacketException("ANNOUNCE port 0");
    if (symbolSize < SymbolLayout.MIN_SYMBOL_SIZE || symbolSize > SymbolLayout.MAX_SYMBOL_SIZE) {
      throw new MalformedPacketException("ANNOUNCE symbol size " + symbolSize + " out of range");
    }
    if (size < 0) throw new MalformedPacketException("ANNOUNCE logical size negative");
    return new Announce(
        session,
        controlPort,
        dataPort,
        group,
        caps,
        state,
        symbolSize,
        id,
        size,
        Seal.decodeIfPresent(in));
  }

  @Override
  public void encode(ByteBuf out) {
    McastPacket.encodeHeader(out, TYPE_ANNOUNCE, sessionId);
    out.writeShort(controlPort); // TCP control port
    out.writeShort(dataPort); // UDP data port
    out.writeInt(group); // data group IPv4
    out.writeInt(capabilities); // capability bits
    out.writeByte(state.code()); // session state
    out.writeByte(0); // reserved
    out.writeShort(symbolSize); // symbol size
    out.writeLong(imageId.getMostSignificantBits()); // image id, high
    out.writeLong(imageId.getLeastSignificantBits()); // image id, low
    out.writeLong(logicalSize); // logical image size
    seal.ifPresent(x -> x.encode(out)); // seal: counter, tag
  }
}

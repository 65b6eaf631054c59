package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.MAX_CLIENTS;
import static org.clonecast.protocol.udpcast.Udpcast.OP_CONNECT_REPLY;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * CONNECT_REPLY (opcode 7, 32 bytes; docs/ref/udpcast-protocol.md §1.2, §1.4): the sender admits a
 * receiver, unicast to receiver:portbase. {@code op u16, res i16, clNr i32, blockSize i32,
 * capabilities u32, mcastAddr[16]}.
 *
 * <p>Immutable; thread-safe.
 *
 * @param clNr the receiver's number 0…1023, or −1 for "too many clients"
 * @param blocksize payload bytes per DATA block, ≥ 0
 * @param capabilities the sender's CAP_* bits
 * @param mcastAddr the data group (even in point-to-point mode, where data come unicast)
 */
public record ConnectReply(int clNr, int blocksize, int capabilities, McastAddr mcastAddr)
    implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 32;

  /** {@link #clNr()} of a refusal: "Too many clients already connected". */
  public static final int CLNR_REFUSED = -1;

  /** Validates the field ranges. */
  public ConnectReply {
    if (clNr < CLNR_REFUSED || clNr >= MAX_CLIENTS) {
      throw new IllegalArgumentException("clNr " + clNr + " outside -1.." + (MAX_CLIENTS - 1));
    }
    ByteBufs.requireNonNegative(blocksize, "blocksize");
    if (mcastAddr == null) {
      throw new IllegalArgumentException("CONNECT_REPLY mcastAddr missing");
    }
  }

  /** Reads a CONNECT_REPLY at the reader index; trailing bytes are left unread. */
  public static ConnectReply decode(ByteBuf in) {
    return ByteBufs.decoding(
        "CONNECT_REPLY",
        in,
        b -> {
          ControlHeader.readOpcodeAndReserved(b, SIZE, OP_CONNECT_REPLY, "CONNECT_REPLY");
          int clNr = b.readInt();
          int blocksize = b.readInt();
          int capabilities = b.readInt();
          McastAddr mcastAddr = McastAddr.read(b);
          return new ConnectReply(clNr, blocksize, capabilities, mcastAddr);
        });
  }

  @Override
  public int opcode() {
    return OP_CONNECT_REPLY;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_CONNECT_REPLY); // opCode
    out.writeShort(0); // reserved
    out.writeInt(clNr); // clNr
    out.writeInt(blocksize); // blockSize
    out.writeInt(capabilities); // capabilities
    mcastAddr.write(out); // mcastAddr[16]
  }
}

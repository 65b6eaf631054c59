package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.OP_CONNECT_REQ;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * CONNECT_REQ (opcode 3, 12 bytes; docs/ref/udpcast-protocol.md §1.2, §1.4): a receiver asks to
 * join, broadcast at start and unicast after every HELLO. {@code op u16, res i16, capabilities u32,
 * rcvbuf u32}.
 *
 * <p>Immutable; thread-safe.
 *
 * @param capabilities the receiver's CAP_* bits (stock: 0x09)
 * @param rcvbuf the receiver's SO_RCVBUF in bytes, u32 (stock sender stores it, never uses it)
 */
public record ConnectReq(int capabilities, long rcvbuf) implements UdpcastMessage {
  /** Bytes on the wire. */
  public static final int SIZE = 12;

  /** Validates the field ranges. */
  public ConnectReq {
    if ((rcvbuf & ~0xFFFF_FFFFL) != 0) {
      throw new IllegalArgumentException("rcvbuf " + rcvbuf + " outside u32");
    }
  }

  /** Reads a CONNECT_REQ at the reader index; trailing bytes are left unread. */
  public static ConnectReq decode(ByteBuf in) {
    return ByteBufs.decoding(
        "CONNECT_REQ",
        in,
        b -> {
          ControlHeader.readOpcodeAndReserved(b, SIZE, OP_CONNECT_REQ, "CONNECT_REQ");
          int capabilities = b.readInt();
          long rcvbuf = b.readUnsignedInt();
          return new ConnectReq(capabilities, rcvbuf);
        });
  }

  @Override
  public int opcode() {
    return OP_CONNECT_REQ;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(OP_CONNECT_REQ); // opCode
    out.writeShort(0); // reserved
    out.writeInt(capabilities); // capabilities
    out.writeInt((int) rcvbuf); // rcvbuf
  }
}

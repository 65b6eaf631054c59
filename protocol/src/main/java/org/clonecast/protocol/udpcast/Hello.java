package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.CAPS_DEFAULT;
import static org.clonecast.protocol.udpcast.Udpcast.OP_HELLO;
import static org.clonecast.protocol.udpcast.Udpcast.OP_HELLO_NEW;
import static org.clonecast.protocol.udpcast.Udpcast.OP_HELLO_STREAMING;

import io.netty.buffer.ByteBuf;
import java.net.Inet4Address;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * HELLO (docs/ref/udpcast-protocol.md §1.2, §1.4): the sender announces itself, its capabilities,
 * the data group and the block size, to the subnet broadcast address:portbase. 28 bytes: {@code op
 * u16, res i16, capabilities u32, mcastAddr[16], blockSize u16, 2 bytes struct padding}.
 *
 * <p>The 20120424 sender sends opcode 0x0500 ({@link Udpcast#OP_HELLO}); receivers also accept
 * HELLO_NEW (10), and {@code --streaming} sends HELLO_STREAMING (11) inside slices. The opcode is a
 * component so all three round-trip.
 *
 * <p>Immutable; thread-safe.
 *
 * @param opcode {@link Udpcast#OP_HELLO}, {@link Udpcast#OP_HELLO_NEW} or {@link
 *     Udpcast#OP_HELLO_STREAMING}
 * @param capabilities the sender's CAP_* bits (0x09; 0x29 with {@code --async})
 * @param mcastAddr the data group, IPv4 in its first 4 bytes
 * @param blocksize payload bytes per DATA block, u16 (1456)
 */
public record Hello(int opcode, int capabilities, McastAddr mcastAddr, int blocksize)
    implements UdpcastMessage {
  /** Bytes udpcast sends: the C struct including 2 bytes of trailing alignment padding. */
  public static final int SIZE = 28;

  /**
   * Bytes we require: up to the end of {@code blockSize}. The padding carries nothing, so a peer
   * that omits it is accepted (deliberately more lenient than the struct size).
   */
  public static final int MIN_SIZE = 26;

  /** Validates the opcode and field ranges. */
  public Hello {
    if (opcode != OP_HELLO && opcode != OP_HELLO_NEW && opcode != OP_HELLO_STREAMING) {
      throw new IllegalArgumentException(
          "HELLO opcode "
              + opcode
              + ", want "
              + OP_HELLO
              + ", "
              + OP_HELLO_NEW
              + " or "
              + OP_HELLO_STREAMING);
    }
    if (mcastAddr == null) {
      throw new IllegalArgumentException("HELLO mcastAddr missing");
    }
    ByteBufs.requireU16(blocksize, "blocksize");
  }

  /**
   * @return a HELLO as the stock sender sends it: opcode 0x0500, caps 0x09
   */
  public static Hello of(Inet4Address dataGroup, int blocksize) {
    return new Hello(OP_HELLO, CAPS_DEFAULT, McastAddr.ofIpv4(dataGroup), blocksize);
  }

  /**
   * Reads a HELLO (any of the three opcodes) at the reader index; padding and trailing bytes are
   * skipped/left unread.
   */
  public static Hello decode(ByteBuf in) {
    return ByteBufs.decoding(
        "HELLO",
        in,
        b -> {
          ByteBufs.requireReadable(b, MIN_SIZE, "HELLO");
          int opcode = b.readUnsignedShort();
          if (opcode != OP_HELLO && opcode != OP_HELLO_NEW && opcode != OP_HELLO_STREAMING) {
            throw new MalformedPacketException("HELLO opcode " + opcode + ", want " + OP_HELLO);
          }
          b.skipBytes(2); // reserved
          int capabilities = b.readInt();
          McastAddr mcastAddr = McastAddr.read(b);
          int blocksize = b.readUnsignedShort();
          b.skipBytes(Math.min(SIZE - MIN_SIZE, b.readableBytes())); // padding, if sent
          return new Hello(opcode, capabilities, mcastAddr, blocksize);
        });
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(opcode); // opCode
    out.writeShort(0); // reserved
    out.writeInt(capabilities); // capabilities
    mcastAddr.write(out); // mcastAddr[16]
    out.writeShort(blocksize); // blockSize
    out.writeShort(0); // struct padding, always sent by udpcast
  }
}

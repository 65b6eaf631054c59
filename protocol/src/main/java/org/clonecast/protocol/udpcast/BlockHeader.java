package org.clonecast.protocol.udpcast;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * The 16-byte header DATA and FEC share (docs/ref/udpcast-protocol.md §1.2): {@code op u16, word2
 * u16, sliceNo i32, blockNo u16, reserved u16, bytes i32}. {@code word2} is reserved (0) in DATA
 * and {@code stripes} in FEC. Immutable; thread-safe.
 */
record BlockHeader(int opcode, int word2, int sliceNo, int blockNo, int bytes) {
  static final int SIZE = 16;

  /** Reads and checks the header; the payload follows at the reader index. */
  static BlockHeader read(ByteBuf in, int expectedOpcode, String name) {
    ByteBufs.requireReadable(in, SIZE, name + " header");
    int opcode = in.readUnsignedShort();
    if (opcode != expectedOpcode) {
      throw new MalformedPacketException(name + " opcode " + opcode + ", want " + expectedOpcode);
    }
    int word2 = in.readUnsignedShort();
    int sliceNo = in.readInt();
    int blockNo = in.readUnsignedShort();
    in.skipBytes(2); // reserved
    int bytes = in.readInt();
    return new BlockHeader(opcode, word2, sliceNo, blockNo, bytes);
  }

  void write(ByteBuf out) {
    out.writeShort(opcode); // opCode
    out.writeShort(word2); // reserved (DATA) / stripes (FEC)
    out.writeInt(sliceNo); // sliceNo
    out.writeShort(blockNo); // blockNo
    out.writeShort(0); // reserved
    out.writeInt(bytes); // bytes: the slice's total byte count
  }

  /** Range checks shared by the DATA and FEC compact constructors. */
  static void validate(int sliceNo, int blockNo, int bytes, ByteBuf payload, String name) {
    ByteBufs.requireNonNegative(sliceNo, "sliceNo");
    ByteBufs.requireU16(blockNo, "blockNo");
    ByteBufs.requireNonNegative(bytes, "bytes");
    if (payload == null) {
      throw new IllegalArgumentException(name + " payload missing");
    }
  }
}

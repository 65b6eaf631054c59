package org.clonecast.protocol.udpcast;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * The 4 bytes every udpcast control message starts with: opcode u16, reserved i16. Stateless;
 * thread-safe.
 */
final class ControlHeader {
  private ControlHeader() {}

  /**
   * Checks that {@code size} bytes are readable and that the opcode is {@code expected}, then
   * consumes the opcode and the reserved i16 after it (sent as 0, ignored on receipt).
   */
  static void readOpcodeAndReserved(ByteBuf in, int size, int expected, String name) {
    ByteBufs.requireReadable(in, size, name);
    int opcode = in.readUnsignedShort();
    if (opcode != expected) {
      throw new MalformedPacketException(name + " opcode " + opcode + ", want " + expected);
    }
    in.skipBytes(2); // reserved
  }
}

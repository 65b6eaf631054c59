package org.clonecast.protocol.udpcast;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.Hex;

/**
 * A message with an opcode this package does not know (e.g. 5, udpcast's obsolete little-endian
 * HELLO, or a future extension), kept as a value so it round-trips (house style, rule 9).
 * docs/ref/udpcast-protocol.md §1.2 lists the known opcodes.
 *
 * <p>Immutable (the array is cloned in and out); thread-safe.
 *
 * @param opcode the u16 opcode; never a known one, so that decoding the encoding yields this again
 * @param body every byte after the opcode
 */
public record Unknown(int opcode, byte[] body) implements UdpcastMessage {

  /** Validates the opcode and takes a private copy of the body. */
  public Unknown {
    ByteBufs.requireU16(opcode, "opcode");
    if (UdpcastMessage.isKnownOpcode(opcode)) {
      throw new IllegalArgumentException("opcode " + opcode + " is a known message, not Unknown");
    }
    body = body.clone();
  }

  /** Reads the opcode and takes the rest of the buffer as the body. */
  public static Unknown decode(ByteBuf in) {
    return ByteBufs.decoding(
        "udpcast message",
        in,
        b -> {
          ByteBufs.requireReadable(b, 2, "udpcast opcode");
          int opcode = b.readUnsignedShort();
          return new Unknown(opcode, ByteBufs.readBytes(b, b.readableBytes(), "body"));
        });
  }

  /**
   * @return a copy of the body
   */
  @Override
  public byte[] body() {
    return body.clone();
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(opcode); // opCode
    out.writeBytes(body); // body, as received
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Unknown other && opcode == other.opcode && Arrays.equals(body, other.body);
  }

  @Override
  public int hashCode() {
    return 31 * opcode + Arrays.hashCode(body);
  }

  @Override
  public String toString() {
    return "Unknown[opcode=" + opcode + ", body=" + Hex.toHex(body) + "]";
  }
}

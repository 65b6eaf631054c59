package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * RRQ or WRQ (RFC 1350 §5, options per RFC 2347): {@code | opcode | filename | 0 | mode | 0 | opt1
 * | 0 | value1 | 0 | ...}. Immutable.
 */
public sealed interface TftpRequest extends TftpPacket permits TftpReadRequest, TftpWriteRequest {
  /**
   * @return the file name as sent, never empty
   */
  String filename();

  TftpMode mode();

  TftpOptions options();

  @Override
  default void encode(ByteBuf out) {
    out.writeShort(opcode()); // opcode
    TftpStrings.write(out, filename()); // filename
    TftpStrings.write(out, mode().wireName()); // mode
    options().encode(out); // opt1, value1, ...
  }

  /** The parts of a request, decoded once for both kinds. */
  record Parts(String filename, TftpMode mode, TftpOptions options) {}

  /** Reads a request of opcode {@code want} named {@code what} ("RRQ"). */
  static Parts decodeParts(ByteBuf in, int want, String what) {
    TftpPacket.readOpcode(in, want, what);
    String filename = TftpStrings.read(in, what + " filename");
    if (filename.isEmpty()) {
      throw new MalformedPacketException(what + " filename empty");
    }
    TftpMode mode = TftpMode.parse(TftpStrings.read(in, what + " mode"));
    return new Parts(filename, mode, TftpOptions.decode(in, what));
  }

  /** For the compact constructors. */
  static void validate(String filename, TftpMode mode, TftpOptions options) {
    if (filename == null || filename.isEmpty()) {
      throw new IllegalArgumentException("filename empty");
    }
    TftpStrings.requireNoNul(filename, "filename");
    if (mode == null || options == null) {
      throw new IllegalArgumentException("mode and options required");
    }
  }
}

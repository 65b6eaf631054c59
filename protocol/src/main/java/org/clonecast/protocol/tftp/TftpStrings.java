package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * NUL-terminated strings of TFTP requests, OACK and ERROR. RFC 1350 says netascii; real clients
 * send UTF-8 file names, so strings are UTF-8 and invalid sequences are malformed (never replaced,
 * so two different byte strings never map to one file name). Stateless.
 */
final class TftpStrings {
  private TftpStrings() {}

  /**
   * Reads a string up to and including its NUL.
   *
   * @param what the field name for the exception, e.g. {@code "RRQ filename"}
   * @throws MalformedPacketException {@code "RRQ filename not NUL-terminated"}
   */
  static String read(ByteBuf in, String what) {
    int nul = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) 0);
    if (nul < 0) {
      throw new MalformedPacketException(what + " not NUL-terminated");
    }
    ByteBuffer bytes = in.nioBuffer(in.readerIndex(), nul - in.readerIndex());
    in.readerIndex(nul + 1);
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes)
          .toString();
    } catch (CharacterCodingException e) {
      throw new MalformedPacketException(what + " is not valid UTF-8");
    }
  }

  /** Appends {@code s} and its NUL. */
  static void write(ByteBuf out, String s) {
    out.writeCharSequence(s, StandardCharsets.UTF_8);
    out.writeByte(0);
  }

  /** For compact constructors: a string that can be sent (no NUL inside). */
  static String requireNoNul(String s, String field) {
    if (s.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(field + " contains NUL");
    }
    return s;
  }
}

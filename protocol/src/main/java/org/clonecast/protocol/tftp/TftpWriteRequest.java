package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * WRQ (opcode 2): the client wants to write {@code filename}; clonecast refuses it (read-only
 * root). Immutable.
 *
 * @param filename the file name as sent (not yet sanitised)
 * @param mode octet, netascii or mail
 * @param options the RFC 2347 options in request order
 */
public record TftpWriteRequest(String filename, TftpMode mode, TftpOptions options)
    implements TftpRequest {
  /** Validates the fields. */
  public TftpWriteRequest {
    TftpRequest.validate(filename, mode, options);
  }

  /** Decodes the whole readable part of {@code in}. */
  public static TftpWriteRequest decode(ByteBuf in) {
    return ByteBufs.decoding(
        "WRQ",
        in,
        b -> {
          Parts p = TftpRequest.decodeParts(b, Tftp.OP_WRQ, "WRQ");
          return new TftpWriteRequest(p.filename(), p.mode(), p.options());
        });
  }

  @Override
  public int opcode() {
    return Tftp.OP_WRQ;
  }
}

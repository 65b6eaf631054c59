package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * RRQ (opcode 1): the client wants {@code filename}. Immutable.
 *
 * @param filename the file name as sent (not yet sanitised)
 * @param mode octet, netascii or mail
 * @param options the RFC 2347 options in request order
 */
public record TftpReadRequest(String filename, TftpMode mode, TftpOptions options)
    implements TftpRequest {
  /** Validates the fields. */
  public TftpReadRequest {
    TftpRequest.validate(filename, mode, options);
  }

  /** Decodes the whole readable part of {@code in}. */
  public static TftpReadRequest decode(ByteBuf in) {
    return ByteBufs.decoding(
        "RRQ",
        in,
        b -> {
          Parts p = TftpRequest.decodeParts(b, Tftp.OP_RRQ, "RRQ");
          return new TftpReadRequest(p.filename(), p.mode(), p.options());
        });
  }

  @Override
  public int opcode() {
    return Tftp.OP_RRQ;
  }
}

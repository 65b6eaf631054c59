package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.clonecast.protocol.wire.ByteBufs;

/** Test helpers: bytes to packet and back. */
final class TftpCodec {
  private TftpCodec() {}

  static TftpPacket decode(byte[] bytes) {
    return TftpPacket.decode(Unpooled.wrappedBuffer(bytes));
  }

  static byte[] encode(TftpPacket p) {
    ByteBuf out = Unpooled.buffer();
    p.encode(out);
    return ByteBufs.toByteArray(out);
  }
}

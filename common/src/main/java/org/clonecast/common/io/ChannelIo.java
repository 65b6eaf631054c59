package org.clonecast.common.io;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.function.Consumer;

/**
 * Positional reads and writes that loop until done (a {@link FileChannel} may move fewer bytes than
 * asked). Thread-safe like {@link FileChannel}'s own.
 */
public final class ChannelIo {
  private ChannelIo() {}

  /** Fills {@code dst} from file offset {@code pos}; EOF first is an {@link EOFException}. */
  public static void readFully(FileChannel ch, ByteBuffer dst, long pos, String what)
      throws IOException {
    long p = pos;
    while (dst.hasRemaining()) {
      int n = ch.read(dst, p);
      if (n < 0) {
        throw new EOFException(
            what
                + ": unexpected end of file at byte "
                + p
                + ", wanted "
                + dst.remaining()
                + " more");
      }
      p += n;
    }
  }

  /** Up to {@code n} bytes from file offset {@code offset}: fewer where the file ends first. */
  public static byte[] readUpTo(FileChannel ch, long offset, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n);
    while (b.hasRemaining()) {
      if (ch.read(b, offset + b.position()) < 0) {
        break;
      }
    }
    byte[] out = new byte[b.position()];
    b.flip().get(out);
    return out;
  }

  /** Writes all of {@code src} at file offset {@code pos}. */
  public static void writeFully(FileChannel ch, ByteBuffer src, long pos) throws IOException {
    long p = pos;
    while (src.hasRemaining()) {
      p += ch.write(src, p);
    }
  }

  /**
   * Writes what {@code encoder} appends to a buffer (a header's or a manifest's {@code encode}) at
   * file offset {@code pos}; returns how many bytes that was.
   */
  public static int writeEncoded(FileChannel ch, Consumer<ByteBuf> encoder, long pos)
      throws IOException {
    ByteBuf buf = Unpooled.buffer();
    try {
      encoder.accept(buf);
      int n = buf.readableBytes();
      writeFully(ch, buf.nioBuffer(), pos);
      return n;
    } finally {
      buf.release();
    }
  }
}

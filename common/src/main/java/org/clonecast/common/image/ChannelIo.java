package org.clonecast.common.image;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.Manifest;

/** Positional reads and writes that loop until done. Thread-safe like {@link FileChannel}'s own. */
final class ChannelIo {
  private ChannelIo() {}

  /** Fills {@code dst} from file offset {@code pos}; EOF first is an {@link EOFException}. */
  static void readFully(FileChannel ch, ByteBuffer dst, long pos, String what) throws IOException {
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

  /** The entry of chunk {@code index}, after checking that its stored bytes fit {@code dst}. */
  static ChunkEntry entryFitting(Manifest m, int index, ByteBuffer dst) {
    ChunkEntry e = m.chunk(index);
    if (dst.remaining() < e.storedLength()) {
      throw new IllegalArgumentException(
          "chunk "
              + index
              + " stores "
              + e.storedLength()
              + " bytes, buffer has room for "
              + dst.remaining());
    }
    return e;
  }

  /** Writes all of {@code src} at file offset {@code pos}. */
  static void writeFully(FileChannel ch, ByteBuffer src, long pos) throws IOException {
    long p = pos;
    while (src.hasRemaining()) {
      p += ch.write(src, p);
    }
  }
}

package org.clonecast.server.udpcast;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import org.clonecast.protocol.udpcast.UdpcastFecLayout;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine;

/**
 * Computes the FEC blocks udpcast receivers expect after a slice (docs/ref/udpcast-protocol.md
 * §1.10): the slice is read from the file once, when its first FEC block is asked for, and every
 * repair block of it is then coded from memory. A slice is at most 1024 blocks (1.4 MiB).
 *
 * <p>Not thread-safe: the sender's event loop owns it.
 */
final class SliceFecCoder {
  private final FileChannel file;
  private final int blocksize;
  private int sliceNo = -1;
  private long sliceOffset;
  private byte[][] blocks = new byte[0][];
  private int dataBlocks;
  private final byte[] out;

  SliceFecCoder(FileChannel file, int blocksize) {
    this.file = file;
    this.blocksize = blocksize;
    this.out = new byte[blocksize];
  }

  /**
   * The payload of FEC block {@code b} (a full block). Repair blocks of the empty end slice, and of
   * stripes that hold no data, are zeros: receivers ignore their content.
   *
   * @return a buffer valid until the next call
   */
  ByteBuffer repairBlock(UdpcastSenderMachine.Block b) throws IOException {
    if (b.sliceBytes() == 0) {
      Arrays.fill(out, (byte) 0);
      return ByteBuffer.wrap(out);
    }
    if (b.sliceNo() != sliceNo || b.offset() != sliceOffset) {
      load(b.sliceNo(), b.offset(), b.sliceBytes());
    }
    new UdpcastFecLayout(b.stripes()).encodeFec(blocks, dataBlocks, blocksize, b.blockNo(), out, 0);
    return ByteBuffer.wrap(out);
  }

  private void load(int no, long offset, int bytes) throws IOException {
    dataBlocks = (bytes + blocksize - 1) / blocksize;
    if (blocks.length < dataBlocks) blocks = new byte[dataBlocks][];
    for (int i = 0; i < dataBlocks; i++) {
      int len = Math.min(blocksize, bytes - i * blocksize);
      if (blocks[i] == null || blocks[i].length != len) blocks[i] = new byte[len];
      ByteBuffer dst = ByteBuffer.wrap(blocks[i]);
      long pos = offset + (long) i * blocksize;
      while (dst.hasRemaining()) {
        int n = file.read(dst, pos + dst.position());
        if (n < 0)
          throw new IOException(
              "image shrank: no data at offset "
                  + (pos + dst.position())
                  + " for FEC of slice "
                  + no);
      }
    }
    sliceNo = no;
    sliceOffset = offset;
  }
}

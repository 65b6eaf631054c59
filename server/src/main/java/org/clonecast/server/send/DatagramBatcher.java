package org.clonecast.server.send;

import io.netty.buffer.ByteBuf;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.SegmentedDatagramPacket;
import java.net.InetSocketAddress;

/**
 * The datagram pump's batching, shared by both senders: packets of one segment size are appended
 * back to back into one direct buffer and written as one UDP GSO send (a {@link
 * SegmentedDatagramPacket}: the kernel cuts it into segment-sized datagrams, one syscall and one
 * pass down the stack for the batch) where the channel supports it, else one datagram each. Only a
 * batch's last packet may be shorter than the segment size, so a short packet ends its batch; a
 * packet for another destination ends the batch before it. Written batches are not flushed: the
 * caller flushes the channel once per burst.
 *
 * <p>Not thread-safe: one per channel, used on the channel's event loop.
 */
public final class DatagramBatcher {
  private final DatagramChannel udp;
  private final int segmentBytes;
  private final int maxBatch;
  private final boolean gso;
  private ByteBuf batch;
  private InetSocketAddress to;
  private int inBatch;
  private int start;

  /**
   * @param segmentBytes the size of a full packet; every packet but a batch's last has it
   * @param maxBatch packets per GSO send (at most 64, the kernel's limit)
   * @param allowGso false sends one datagram per packet even where GSO works (a setting, tests)
   */
  public DatagramBatcher(DatagramChannel udp, int segmentBytes, int maxBatch, boolean allowGso) {
    if (segmentBytes <= 0 || maxBatch < 1 || maxBatch > 64) {
      throw new IllegalArgumentException("segment " + segmentBytes + " B, batch " + maxBatch);
    }
    this.udp = udp;
    this.segmentBytes = segmentBytes;
    this.maxBatch = maxBatch;
    this.gso = allowGso && gsoSupported(udp);
    this.start = -1;
  }

  /**
   * Whether this channel can take a {@link SegmentedDatagramPacket}: epoll on a kernel with
   * UDP_SEGMENT.
   */
  public static boolean gsoSupported(DatagramChannel udp) {
    return udp instanceof EpollDatagramChannel
        && EpollDatagramChannel.isSegmentedDatagramPacketSupported();
  }

  /** The size of a full packet. */
  public int segmentBytes() {
    return segmentBytes;
  }

  /** Whether batches go out as GSO sends. */
  public boolean gso() {
    return gso;
  }

  /** Bytes one batch holds when full: what a pacer should let through at once. */
  public int batchBytes() {
    return segmentBytes * (gso ? maxBatch : 1);
  }

  /**
   * The buffer to append the next packet for {@code to} to, at its writer index; then call {@link
   * #appended} or {@link #abandon}. A pending batch for another destination is written first.
   */
  public ByteBuf open(InetSocketAddress to) {
    if (batch != null && !to.equals(this.to)) write();
    if (batch == null) {
      batch = udp.alloc().directBuffer(batchBytes());
      this.to = to;
    }
    start = batch.writerIndex();
    return batch;
  }

  /**
   * The packet appended since {@link #open} is complete; writes the batch when it is full, when
   * this packet was short, or without GSO.
   *
   * @return the packet's length in bytes
   * @throws IllegalStateException without an open packet, or for a packet longer than a segment
   *     (which is dropped)
   */
  public int appended() {
    if (start < 0) throw new IllegalStateException("no packet open");
    int len = batch.writerIndex() - start;
    if (len > segmentBytes) {
      abandon(); // the kernel would cut it into two datagrams, the second a stray
      throw new IllegalStateException(
          "packet of " + len + " B exceeds the segment size " + segmentBytes);
    }
    start = -1;
    inBatch++;
    if (!gso || len < segmentBytes || inBatch == maxBatch) write();
    return len;
  }

  /**
   * Drops the packet appended since {@link #open} (say, a block that could not be read): it is
   * never sent.
   */
  public void abandon() {
    if (start < 0) return;
    batch.writerIndex(start);
    start = -1;
  }

  /** Writes a pending batch to the channel (not flushed); an empty one is released. */
  public void write() {
    if (batch == null) return;
    abandon();
    if (inBatch > 1) {
      udp.write(new SegmentedDatagramPacket(batch, segmentBytes, to));
    } else if (inBatch == 1) {
      udp.write(new DatagramPacket(batch, to));
    } else {
      batch.release();
    }
    batch = null;
    inBatch = 0;
  }
}

package org.clonecast.server.tftp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpError;
import org.clonecast.protocol.tftp.TftpPacket;
import org.clonecast.protocol.tftp.TftpReadRequest;
import org.clonecast.protocol.tftp.TftpTransfer;
import org.clonecast.protocol.tftp.TftpTransfer.Output;
import org.clonecast.protocol.tftp.TftpTransfer.Send;
import org.clonecast.protocol.tftp.TftpTransfer.SendData;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One read transfer on its own channel (the server's TID): feeds the client's packets and the timer
 * to the {@link TftpTransfer} machine and sends what it returns, reading each DATA payload from the
 * file at its offset (no whole-file buffering). A packet from any other address or port gets ERROR
 * 5 and the transfer goes on (RFC 1350 §4). The channel closes when the transfer ends; one INFO
 * line reports it.
 *
 * <p>Not shared: every method runs on the channel's event loop (timers via {@code
 * executor().schedule}), except {@link #abandon} which runs before the channel is active.
 */
final class TftpSession extends SimpleChannelInboundHandler<DatagramPacket> {
  private static final Logger LOG = LoggerFactory.getLogger(TftpSession.class);

  private final InetSocketAddress client;
  private final String filename;
  private final FileChannel file;
  private final TftpTransfer machine;
  private final TftpStats stats;
  private final TftpServer.WarnLimiter warn;
  private final TftpReadRequest request;
  private final Map<InetSocketAddress, TftpSession> running;
  private volatile Channel channel;
  private volatile boolean heard;
  private long startNanos;
  private ScheduledFuture<?> timer;
  private long timerAt;
  private boolean ended;
  private long retransmitsCounted;
  private long ignoredCounted;

  /**
   * @param running the server's transfers by client; this one leaves it when it ends, so the same
   *     client port may ask again at once
   */
  TftpSession(
      InetSocketAddress client,
      TftpReadRequest request,
      FileChannel file,
      TftpTransfer machine,
      TftpStats stats,
      TftpServer.WarnLimiter warn,
      Map<InetSocketAddress, TftpSession> running) {
    this.running = running;
    this.client = client;
    this.request = request;
    this.filename = request.filename();
    this.file = file;
    this.machine = machine;
    this.stats = stats;
    this.warn = warn;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    startNanos = System.nanoTime();
    apply(ctx, machine.begin(startNanos));
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket dp) {
    stats.rx.increment();
    if (!dp.sender().equals(client)) {
      stats.wrongTid.increment();
      LOG.debug("tftp: packet from {} on the transfer port of {}; ERROR 5", dp.sender(), client);
      write(ctx, dp.sender(), new TftpError(Tftp.ERR_UNKNOWN_TID, "unknown transfer ID"));
      ctx.flush();
      return;
    }
    heard = true;
    TftpPacket p = TftpServer.decodeOrCount(dp, stats);
    if (p == null) {
      return;
    }
    apply(ctx, machine.onPacket(p, System.nanoTime()));
  }

  private void onTimer(ChannelHandlerContext ctx) {
    timer = null;
    if (!ended) {
      apply(ctx, machine.onTimeout(System.nanoTime()));
    }
  }

  private void apply(ChannelHandlerContext ctx, TftpTransfer.Step step) {
    if (ended) {
      return;
    }
    stats.retransmits.add(machine.retransmits() - retransmitsCounted);
    retransmitsCounted = machine.retransmits();
    stats.ignored.add(machine.ignored() - ignoredCounted);
    ignoredCounted = machine.ignored();
    try {
      for (Output o : step.send()) {
        if (o instanceof Send s) {
          write(ctx, client, s.packet());
        } else {
          writeData(ctx, (SendData) o);
        }
      }
    } catch (IOException e) {
      write(ctx, client, new TftpError(Tftp.ERR_NOT_DEFINED, "read error on the server"));
      ctx.flush();
      end(ctx, "FAILED: " + e.getMessage());
      return;
    }
    ctx.flush();
    if (step.state().finished()) {
      end(
          ctx,
          switch (step.state()) {
            case DONE -> "done";
            case PROBE -> "size probe";
            default -> "FAILED: " + machine.failure();
          });
    } else if (timer == null || step.deadlineNanos() - timerAt < 0) {
      // One timer at a time. Usually the deadline only moves later: the timer then fires early,
      // the machine does nothing, and this schedules it again. After a backed-off resend an ACK
      // brings the deadline nearer, so the timer is replaced.
      if (timer != null) {
        timer.cancel(false);
      }
      timerAt = step.deadlineNanos();
      long delay = Math.max(0, timerAt - System.nanoTime());
      timer = ctx.executor().schedule(() -> onTimer(ctx), delay, TimeUnit.NANOSECONDS);
    }
  }

  private void writeData(ChannelHandlerContext ctx, SendData d) throws IOException {
    ByteBuf buf = ctx.alloc().directBuffer(Tftp.DATA_HEADER + d.length());
    try {
      buf.writeShort(Tftp.OP_DATA); // opcode
      buf.writeShort(d.block()); // block #
      long at = d.offset();
      int left = d.length();
      while (left > 0) {
        int n = buf.writeBytes(file, at, left); // data, read positionally
        if (n < 0) {
          throw new IOException("file " + filename + " shrank during the transfer");
        }
        at += n;
        left -= n;
      }
    } catch (IOException | RuntimeException e) {
      buf.release();
      throw e;
    }
    stats.tx.increment();
    stats.bytesSent.add(d.length());
    ctx.write(new DatagramPacket(buf, client));
  }

  private void write(ChannelHandlerContext ctx, InetSocketAddress to, TftpPacket p) {
    ByteBuf buf = ctx.alloc().buffer();
    p.encode(buf);
    stats.tx.increment();
    ctx.write(new DatagramPacket(buf, to));
  }

  private void end(ChannelHandlerContext ctx, String outcome) {
    ended = true;
    running.remove(client, this);
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    switch (machine.state()) {
      case DONE -> stats.transfersOk.increment();
      case PROBE -> stats.probes.increment();
      default -> stats.transfersFailed.increment();
    }
    String line =
        String.format(
            Locale.ROOT,
            "tftp: %s %s to %s: %d of %d bytes, blksize %d, windowsize %d, %.2f s, %d retransmits",
            outcome,
            filename,
            client,
            machine.bytesAcked(),
            machine.fileSize(),
            machine.blksize(),
            machine.windowsize(),
            (System.nanoTime() - startNanos) / 1e9,
            machine.retransmits());
    if (machine.state() == TftpTransfer.State.FAILED || outcome.startsWith("FAILED")) {
      LOG.warn(line);
    } else {
      LOG.info(line);
    }
    // Closed after the current read loop: closing inside it makes the epoll transport report a
    // ClosedChannelException for the rest of the batch.
    ctx.executor().execute(ctx::close);
  }

  /** The channel this session runs on; set once, before it is registered. */
  void attach(Channel ch) {
    this.channel = ch;
  }

  Channel channel() {
    return channel;
  }

  /**
   * Whether {@code rrq} from this session's client is a retransmission of the request that started
   * it: the same request, and the client has sent nothing to the transfer port yet (it has not
   * heard our answer). Called from the request port's event loop.
   */
  boolean isRepeatOf(TftpReadRequest rrq) {
    return !heard && request.equals(rrq);
  }

  /** The channel never became active: just close the file. */
  void abandon() {
    closeFile();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    ended = true;
    if (timer != null) {
      timer.cancel(false);
    }
    closeFile();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    warn.warn("tftp: transfer of " + filename + " to " + client + " hit an error", cause);
  }

  private void closeFile() {
    try {
      file.close();
    } catch (IOException e) {
      LOG.debug("tftp: closing {} failed", filename, e);
    }
  }
}

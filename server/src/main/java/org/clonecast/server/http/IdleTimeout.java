package org.clonecast.server.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.AbstractScheduledEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes a connection on which no byte moved either way for the timeout: nothing read, nothing
 * written, and no progress of a write still under way. The last matters for a large file sent as
 * one region to a slow client: its write completes only at the end, so Netty's {@code
 * IdleStateHandler} (whose first idle event ignores output progress) would cut it; here the
 * outbound buffer's progress is sampled every quarter of the timeout, so a connection is closed
 * between 1 and 1.25 timeouts after its last byte moved. Nor is a connection idle while the daemon
 * works on its request ({@link #working}): the client is waiting for us, and {@code image add} of a
 * large disk on a loaded head node can take longer than the timeout before its answer's first byte.
 *
 * <p>Not shared: one per connection, every method on its event loop.
 */
final class IdleTimeout extends ChannelDuplexHandler {
  private static final Logger LOG = LoggerFactory.getLogger(IdleTimeout.class);

  /** Requests of this connection being handled now (set from the handler's executor). */
  private static final AttributeKey<AtomicInteger> WORKING =
      AttributeKey.valueOf("clonecast.http.working");

  private final long timeoutNanos;
  private final HttpStats stats;
  private long lastActivity;
  private Object lastCurrent;
  private long lastPending;
  private long lastProgress;
  private ScheduledFuture<?> check;

  IdleTimeout(long timeoutNanos, HttpStats stats) {
    this.timeoutNanos = timeoutNanos;
    this.stats = stats;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    if (ctx.channel().isActive() && ctx.channel().isRegistered()) {
      start(ctx);
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    start(ctx);
    super.channelActive(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    stop();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    stop();
    super.channelInactive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    lastActivity = now(ctx);
    super.channelRead(ctx, msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
      throws Exception {
    lastActivity = now(ctx);
    super.write(ctx, msg, promise);
  }

  private void start(ChannelHandlerContext ctx) {
    if (check != null) {
      return;
    }
    lastActivity = now(ctx);
    schedule(ctx);
  }

  /**
   * Marks that the daemon has started ({@code on}) or finished handling a request of {@code ch}; in
   * between, the connection is not idle. Calls come in pairs, from any thread.
   */
  static void working(Channel ch, boolean on) {
    AtomicInteger fresh = new AtomicInteger();
    AtomicInteger old = ch.attr(WORKING).setIfAbsent(fresh);
    (old != null ? old : fresh).addAndGet(on ? 1 : -1);
  }

  private static boolean isWorking(Channel ch) {
    AtomicInteger n = ch.attr(WORKING).get();
    return n != null && n.get() > 0;
  }

  private void stop() {
    if (check != null) {
      check.cancel(false);
    }
  }

  private void schedule(ChannelHandlerContext ctx) {
    check = ctx.executor().schedule(() -> check(ctx), timeoutNanos / 4, TimeUnit.NANOSECONDS);
  }

  private void check(ChannelHandlerContext ctx) {
    if (!ctx.channel().isOpen()) {
      return;
    }
    long now = now(ctx);
    if (outputMoved(ctx) || isWorking(ctx.channel())) {
      lastActivity = now;
    }
    if (now - lastActivity >= timeoutNanos) {
      stats.idleClosed.increment();
      LOG.debug(
          "http: closing the connection from {}: no byte moved for {} s",
          ctx.channel().remoteAddress(),
          TimeUnit.NANOSECONDS.toSeconds(timeoutNanos));
      ctx.close();
      return;
    }
    schedule(ctx);
  }

  /**
   * Whether the pending output changed since the last check (another message, fewer bytes,
   * progress).
   */
  private boolean outputMoved(ChannelHandlerContext ctx) {
    ChannelOutboundBuffer buf = ctx.channel().unsafe().outboundBuffer();
    if (buf == null) {
      return false;
    }
    Object current = buf.current();
    long pending = buf.totalPendingWriteBytes();
    long progress = buf.currentProgress();
    boolean moved = current != lastCurrent || pending != lastPending || progress != lastProgress;
    lastCurrent = current;
    lastPending = pending;
    lastProgress = progress;
    return moved;
  }

  /** The event loop's clock (a test's EmbeddedChannel moves it by hand). */
  private static long now(ChannelHandlerContext ctx) {
    return ctx.executor() instanceof AbstractScheduledEventExecutor e
        ? e.ticker().nanoTime()
        : System.nanoTime();
  }
}

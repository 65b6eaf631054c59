package org.clonecast.server.send;

import io.netty.bootstrap.AbstractBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.common.net.LoopPump;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.pace.Pacer;
import org.clonecast.server.send.SendTimes.Wait;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver core both senders run on, whatever their protocol: one event loop, the sockets bound
 * on it (and closed with it), the pump that runs the protocol's {@link Session} at most once per
 * wake-up, loss sampling for the {@link Pacer} every {@link #SAMPLE_NANOS}, the paced and
 * GSO-batched burst of datagrams ({@link #burst}), the counters, and the session's end: complete,
 * stopped by the operator, or failed, each told to the session once before its sockets close and
 * the loop shuts down within {@link #SHUTDOWN_SECONDS}.
 *
 * <p>The native sender ({@code server.mcast.McastSender}) and the udpcast-compatible one ({@code
 * server.udpcast.UdpcastSender}) keep only what their protocol decides: what to send next, where,
 * and what their receivers say.
 *
 * <p>Thread-safety: {@link #close}, {@link #execute} and the counters may be used from any thread;
 * everything else, and every call into the {@link Session}, runs on the driver's event loop.
 *
 * @param <R> what the session's future completes with (its machine, for the summary)
 */
public final class SendDriver<R> {
  private static final Logger log = LoggerFactory.getLogger(SendDriver.class);

  /** How often receivers' loss is sampled for the pacer, progress reported and timeouts checked. */
  public static final long SAMPLE_NANOS = 100_000_000L;

  /** A full socket send queue is tried again after this. */
  private static final long SOCKET_FULL_NANOS = 200_000L;

  /** Bound on the event loop's shutdown once the session has ended. */
  public static final int SHUTDOWN_SECONDS = 2;

  /** {@link Session#run}: the session is complete. */
  public static final long COMPLETE = Long.MIN_VALUE;

  /** {@link #burst}: the protocol had nothing to send now; it decides how long to wait. */
  public static final long NOTHING = -1;

  /** Counters every sender keeps, for its summary and the metrics. Thread-safe. */
  public static class Counters {
    /** Data (and repair) datagrams the pump sent. */
    public final AtomicLong packetsSent = new AtomicLong();

    /** Their bytes. */
    public final AtomicLong bytesSent = new AtomicLong();

    /** Receivers' packets that did not decode. */
    public final AtomicLong malformed = new AtomicLong();

    /** Receivers' packets not for this session or not expected. */
    public final AtomicLong ignored = new AtomicLong();

    /**
     * Where the session's time went: joining, paced, nothing to send, answers, socket full, busy.
     */
    public final SendTimes times = new SendTimes();
  }

  /**
   * What receivers lost since the last sample, per mille, and what the slowest of those that pace
   * received per second (-1 when the protocol does not say), for {@link Pacer#onLoss}.
   */
  public record Loss(int overflowPermille, int lossPermille, long deliveredBytesPerSecond) {
    /** Loss without a delivery rate. */
    public Loss(int overflowPermille, int lossPermille) {
      this(overflowPermille, lossPermille, -1);
    }
  }

  /** How a session ended. */
  public enum End {
    /** Every receiver is served. */
    COMPLETE,
    /** {@link #close}: the operator stopped it. */
    STOPPED,
    /** The sender itself failed (a damaged image, an unreadable file, a socket error). */
    FAILED
  }

  /** What {@link Packets#next} did. */
  public enum Next {
    /** Appended one datagram to the batch. */
    PACKET,
    /** Sent something unpaced (a control message) and may have more: ask again. */
    OTHER,
    /** Nothing to send now. */
    NONE
  }

  /** The protocol's part of the driver; every call on the driver's event loop. */
  public interface Session<R> {
    /**
     * Every {@link #SAMPLE_NANOS}, and on the first run: drop silent receivers, announce, report
     * progress; returns what receivers lost since the last sample (empty before the start, when
     * there is nothing to pace).
     */
    Optional<Loss> sample(long nowNanos);

    /**
     * One run of the pump, after any sample: start when ready, send a {@link #burst}, answer.
     *
     * @return nanoseconds until the next run (the driver runs it sooner when woken), or {@link
     *     #COMPLETE}
     */
    long run(long nowNanos) throws IOException;

    /**
     * The session ends ({@code reason} for its receivers): its last words, before sockets close.
     */
    void ending(End how, String reason);

    /** What the session's future completes with. */
    R result();
  }

  /** The source of a burst's datagrams. */
  @FunctionalInterface
  public interface Packets {
    /**
     * Appends the next datagram to {@code batcher} ({@link DatagramBatcher#open}, then the bytes),
     * not yet {@link DatagramBatcher#appended}; or says there was none.
     */
    Next next(DatagramBatcher batcher, long nowNanos) throws IOException;
  }

  private final String name;
  private final Counters counters;
  private final CompletableFuture<R> done = new CompletableFuture<>();
  private final List<Channel> channels = new ArrayList<>();
  private EventLoopGroup loopGroup;
  private EventLoop loop;
  private Session<R> session;
  private Pacer pacer;
  private DatagramChannel udp;
  private DatagramBatcher batcher;
  private LoopPump wakeups;
  private boolean closing;
  private long lastSampleNanos;
  private long bytesAtSample;

  /**
   * @param name how log lines name the session ("mcast session 1f2e3d", "udpcast session")
   */
  public SendDriver(String name, Counters counters) {
    this.name = name;
    this.counters = counters;
  }

  /** Creates the session's event loop, on a thread named {@code thread}; bind on it next. */
  public EventLoop open(String thread) {
    loopGroup = Transport.group(1, thread);
    loop = loopGroup.next();
    return loop;
  }

  /**
   * Binds {@code bootstrap} (set up with {@link #open}'s loop) at {@code at}; the channel is closed
   * when the session ends. On failure everything bound so far is closed and the loop shut down.
   *
   * @param what "UDP", "TCP": for the message
   * @param hint appended to the message, say what to do (" (another sender on this port?)")
   * @throws IllegalStateException naming the address and why
   */
  public Channel bind(
      AbstractBootstrap<?, ?> bootstrap, InetSocketAddress at, String what, String hint)
      throws InterruptedException {
    try {
      return own(bootstrap.bind(at).sync().channel());
    } catch (InterruptedException e) {
      shutdown();
      throw e;
    } catch (Exception e) {
      shutdown();
      throw new IllegalStateException(
          "cannot bind "
              + what
              + " "
              + at.getAddress().getHostAddress()
              + ":"
              + at.getPort()
              + ": "
              + e.getMessage()
              + hint,
          e);
    }
  }

  /**
   * As {@link #bind}, for a socket the session can do without: a failure is logged as a warning
   * with {@code without} (what the session does instead) and the session goes on.
   */
  public Optional<Channel> bindOptional(
      AbstractBootstrap<?, ?> bootstrap, InetSocketAddress at, String without)
      throws InterruptedException {
    try {
      return Optional.of(own(bootstrap.bind(at).sync().channel()));
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      log.warn(
          "{} cannot listen on {}:{} ({}); {}",
          name,
          at.getAddress().getHostAddress(),
          at.getPort(),
          e.getMessage(),
          without);
      return Optional.empty();
    }
  }

  private Channel own(Channel ch) {
    channels.add(ch);
    return ch;
  }

  /**
   * Starts pumping: the first run at once (with a sample). The future completes with {@link
   * Session#result} when the session ends, exceptionally when the sender failed.
   *
   * @param udp the channel datagrams go out on, {@code batcher}'s
   */
  public CompletableFuture<R> start(
      Session<R> session, Pacer pacer, DatagramChannel udp, DatagramBatcher batcher) {
    this.session = session;
    this.pacer = pacer;
    this.udp = udp;
    this.batcher = batcher;
    this.lastSampleNanos = System.nanoTime() - SAMPLE_NANOS;
    wakeups = new LoopPump(loop, this::pump);
    wakeups.schedule(0);
    return done;
  }

  public Counters counters() {
    return counters;
  }

  public Pacer pacer() {
    return pacer;
  }

  /** True once the session is ending: no new receiver should join. */
  public boolean closing() {
    return closing;
  }

  /** Runs the pump at once (a NAK, a join, an answer), unless a run is pending already. */
  public void wake() {
    schedule(0);
  }

  private void schedule(long nanos) {
    if (!closing) wakeups.schedule(nanos);
  }

  /** Runs {@code task} on the session's loop, unless the session has ended (nothing left to do). */
  public void execute(Runnable task) {
    if (loop == null || loop.isShuttingDown()) return; // never started, or already ended
    try {
      loop.execute(task);
    } catch (RejectedExecutionException e) {
      log.debug("{} already ended", name);
    }
  }

  // ---- the pump ----------------------------------------------------------------------------

  private void pump() {
    if (closing) return;
    long now = System.nanoTime();
    counters.times.runStarted(now);
    try {
      if (now - lastSampleNanos >= SAMPLE_NANOS) sample(now);
      if (closing) return;
      long wait = session.run(now);
      if (wait == COMPLETE) {
        end(End.COMPLETE, "session complete");
        done.complete(session.result());
        return;
      }
      schedule(wait);
      counters.times.runEnded(now, System.nanoTime());
    } catch (RuntimeException | IOException e) {
      log.error("{} failed: {}", name, e.toString(), e);
      end(End.FAILED, "sender failed: " + e.getMessage());
      done.completeExceptionally(e);
    }
  }

  /**
   * Feeds the pacer the receivers' loss and delivery rate and the bytes really sent since the last
   * sample.
   */
  private void sample(long now) {
    lastSampleNanos = now;
    Optional<Loss> loss = session.sample(now);
    long sent = counters.bytesSent.get();
    if (loss.isPresent()) {
      pacer.onLoss(
          loss.get().overflowPermille(),
          loss.get().lossPermille(),
          sent - bytesAtSample,
          loss.get().deliveredBytesPerSecond(),
          now);
    }
    bytesAtSample = sent;
  }

  /**
   * Sends datagrams from {@code packets} while the pacer and the socket allow, at most {@code
   * maxPackets}, batched; flushes. Sets what the pump waits for next.
   *
   * @param waitBytes when paced, wait until this much may leave (a batch's worth)
   * @return nanoseconds until the next attempt, or {@link #NOTHING} when {@code packets} had none
   */
  public long burst(long now, int maxPackets, long waitBytes, Packets packets) throws IOException {
    int packetBytes = batcher.segmentBytes();
    int sent = 0;
    try {
      for (int n = 0; n < maxPackets; n++) {
        counters.times.waitFor(Wait.PACE);
        if (pacer.available(now) < packetBytes) {
          return pacer.nanosUntil(waitBytes, sent == 0 ? now : System.nanoTime());
        }
        counters.times.waitFor(Wait.SOCKET);
        if (!udp.isWritable()) return SOCKET_FULL_NANOS;
        Next next = packets.next(batcher, now);
        if (next == Next.NONE) return NOTHING;
        if (next == Next.OTHER) continue;
        int len = batcher.appended();
        sent++;
        pacer.consume(len);
        counters.bytesSent.addAndGet(len);
      }
      counters.times.waitFor(Wait.PACE); // the burst's limit: again at once
      return 0;
    } finally {
      batcher.write(); // what was complete, also when a packet failed half-way
      counters.packetsSent.addAndGet(sent);
      udp.flush();
    }
  }

  /** Writes one unpaced datagram (an announcement, a control message); the caller flushes. */
  public void send(ByteBuf packet, InetSocketAddress to) {
    udp.write(new DatagramPacket(packet, to));
  }

  // ---- ending ------------------------------------------------------------------------------

  /**
   * Ends the session now (operator interrupt): the session says its last words, sockets close, the
   * future completes with its result. Nothing when it has ended already.
   */
  public void close() {
    execute(
        () -> {
          if (closing) return;
          end(End.STOPPED, "sender stopped by operator");
          done.complete(session.result());
        });
  }

  private void end(End how, String reason) {
    closing = true;
    try {
      session.ending(how, reason);
    } catch (RuntimeException e) {
      log.warn("{} ending: {}", name, e.toString());
    } finally {
      shutdown();
    }
  }

  private void shutdown() {
    for (int i = channels.size() - 1; i >= 0; i--) channels.get(i).close();
    if (loopGroup != null) loopGroup.shutdownGracefully(0, SHUTDOWN_SECONDS, TimeUnit.SECONDS);
  }
}

package org.clonecast.server.dhcp;

import io.netty.channel.EventLoop;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the other daemons' leases into this daemon's tables on a shared store (docs/scale.md), so
 * that it neither keeps offering what they gave away nor ignores their clients once they turn to
 * it. The store is read on a thread of its own, never on the DHCP event loop: a read of every lease
 * takes a round trip and a table scan, and a store that is slow to answer must not stall DHCP. The
 * rows are applied on the loop, which owns the {@link DhcpResponder}; the tables skip the rows of
 * addresses they changed while the read ran ({@link DhcpResponder#markForMerge}), whose records are
 * newer than the read. One read runs at a time; the next starts {@code every} after the last was
 * applied.
 *
 * <p>Thread-safe: start and close from any thread.
 */
final class LeaseMerge implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LeaseMerge.class);

  private final EventLoop loop;
  private final DhcpResponder responder;
  private final Supplier<List<Lease>> read;
  private final Clock clock;
  private final Duration every;
  private final ExecutorService reader;

  private LeaseMerge(
      EventLoop loop,
      DhcpResponder responder,
      Supplier<List<Lease>> read,
      Clock clock,
      Duration every) {
    this.loop = loop;
    this.responder = responder;
    this.read = read;
    this.clock = clock;
    this.every = every;
    this.reader =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "dhcp-leases");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Merges the rows {@code read} returns into {@code responder}'s tables every {@code every}, the
   * first time after one interval.
   */
  static LeaseMerge start(
      EventLoop loop,
      DhcpResponder responder,
      Supplier<List<Lease>> read,
      Clock clock,
      Duration every) {
    LeaseMerge m = new LeaseMerge(loop, responder, read, clock, every);
    m.schedule();
    return m;
  }

  private void schedule() {
    try {
      loop.schedule(this::begin, every.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // The loop is shutting down: the DHCP server is closing.
    }
  }

  /** On the loop: marks the tables, then reads on the reader thread. */
  private void begin() {
    responder.markForMerge();
    try {
      reader.execute(this::load);
    } catch (RejectedExecutionException e) {
      // Closed.
    }
  }

  /** On the reader thread: reads, then applies on the loop. */
  private void load() {
    List<Lease> rows;
    try {
      rows = read.get();
    } catch (RuntimeException e) {
      LOG.warn("dhcp: reading the other daemons' leases failed: {}", e.toString());
      rows = null;
    }
    List<Lease> got = rows;
    try {
      loop.execute(
          () -> {
            if (got != null) {
              responder.merge(got, clock.millis());
            }
            schedule();
          });
    } catch (RejectedExecutionException e) {
      // The loop is shutting down.
    }
  }

  /** Stops merging; a read under way ends with the store's own timeout. */
  @Override
  public void close() {
    reader.shutdownNow();
  }
}

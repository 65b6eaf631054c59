package org.clonecast.server.capture;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.server.store.ChunkPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a capture's checked chunks into the image store's chunk pool while the upload goes on
 * ({@link ChunkPool.Hold#stage}), so that publishing the image finds them there instead of copying
 * every chunk (and fsyncing each) after the last one arrived: that copy took 1.5-2.4 s of a quiet
 * capture's end, 8 s under load (docs/benchmarks.md, "Capture").
 *
 * <p>Best effort and never in the upload's way: a chunk is offered, not handed over; when {@link
 * #limit} bytes wait already, or a write fails, it is left for the publish, which puts every chunk
 * the pool does not hold. Correctness does not depend on staging: the pool's own orders (a chunk
 * fsync'd before its rename, its directory synced before a manifest names it) hold whichever of the
 * two writes a chunk.
 *
 * <p>Thread-safe. The executor may run several writes at once: each chunk's fsync waits for the
 * disk, and concurrent fsyncs share the filesystem's journal commits.
 */
final class ChunkStager implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkStager.class);

  private final ChunkPool.Hold hold;
  private final Executor writer;
  private final AtomicLong pending;
  private final long limit;
  private final AtomicLong stagedBytes = new AtomicLong();
  private final AtomicLong skippedBytes = new AtomicLong();

  /** The writes offered and not yet run. */
  private final Set<CompletableFuture<Void>> running = ConcurrentHashMap.newKeySet();

  private volatile boolean closed;

  /**
   * @param hold the capture's hold on the pool, handed to the publish ({@link #handOver}) or closed
   * @param writer runs the writes
   * @param pending bytes offered and not yet written, shared by the captures on {@code writer}
   * @param limit the most bytes that may wait in memory for {@code writer}
   */
  ChunkStager(ChunkPool.Hold hold, Executor writer, AtomicLong pending, long limit) {
    this.hold = Objects.requireNonNull(hold);
    this.writer = Objects.requireNonNull(writer);
    this.pending = Objects.requireNonNull(pending);
    this.limit = limit;
  }

  /**
   * Offers a checked chunk's stored bytes (not copied: the caller no longer changes them).
   *
   * @return whether it will be written; false when too much waits already or this is closed
   */
  boolean offer(Sha256 sha256, int logicalLength, byte[] stored) {
    long n = stored.length;
    if (closed || pending.addAndGet(n) > limit) {
      pending.addAndGet(-n);
      skippedBytes.addAndGet(n);
      return false;
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    running.add(f);
    try {
      writer.execute(
          () -> {
            try {
              if (!closed) {
                hold.stage(sha256, logicalLength, ByteBuffer.wrap(stored));
                stagedBytes.addAndGet(n);
              }
            } catch (IOException | RuntimeException e) {
              // The publish puts it (and reports a full disk); nothing is lost here.
              skippedBytes.addAndGet(n);
              LOG.debug("capture: staging chunk {} failed: {}", sha256.hex(), e.toString());
            } finally {
              pending.addAndGet(-n);
              running.remove(f);
              f.complete(null);
            }
          });
      return true;
    } catch (RejectedExecutionException e) {
      pending.addAndGet(-n);
      skippedBytes.addAndGet(n);
      running.remove(f);
      return false;
    }
  }

  /**
   * Waits at most {@code timeoutNanos} for the writes offered so far; those still running then are
   * harmless (the publish writes its own copy of a chunk it does not find).
   *
   * @return whether they all ran
   */
  boolean drain(long timeoutNanos) throws InterruptedException {
    CompletableFuture<?>[] now = running.toArray(new CompletableFuture<?>[0]);
    try {
      CompletableFuture.allOf(now).get(timeoutNanos, TimeUnit.NANOSECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      // Each write catches its own failures and completes normally.
      return true;
    }
  }

  /**
   * Stops staging and hands the hold the chunks were staged under to the publish, which closes it.
   */
  ChunkPool.Hold handOver() {
    closed = true;
    return hold;
  }

  /** Stored bytes written into the pool (or found there) so far. */
  long stagedBytes() {
    return stagedBytes.get();
  }

  /** Stored bytes offered but left for the publish. */
  long skippedBytes() {
    return skippedBytes.get();
  }

  /** Stops staging and releases the hold: the chunks staged are the sweep's unless published. */
  @Override
  public void close() {
    closed = true;
    hold.close();
  }
}

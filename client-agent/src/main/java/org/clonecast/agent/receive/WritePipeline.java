package org.clonecast.agent.receive;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.clonecast.agent.disk.Target;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.protocol.image.ChunkVerificationException;

/**
 * What both receivers do with what they received, off their network event loop: each {@link Piece}
 * is decoded (rebuilt, decompressed, verified: CPU) and written to the {@link Target} (disk) on a
 * worker thread, and its outcome handed back on the receiver's loop, where the protocol reports it
 * (DONE, an OK) or takes the piece again. The pipeline counts what is pending and written, times
 * the workers (decode, write, the final sync) and the process's start to its first byte written,
 * and says so in the receiver's summary ({@link #describeTimes}).
 *
 * <p>With one worker pieces are decoded and written in the order submitted (the udpcast stream);
 * with more they overlap (the native receiver's independent chunks).
 *
 * <p>Thread-safety: {@link #submit}, {@link #sync}, {@link #drain} and {@link #run} are called on
 * the receiver's loop; the counters may be read from any thread.
 */
public final class WritePipeline implements AutoCloseable {

  /** One piece of what was received, on its way to the target. */
  public interface Piece<T> {
    /** On a worker: rebuild, decompress and verify; what {@link #write} writes. */
    T decode();

    /**
     * On a worker, after {@link #decode}: writes to the target.
     *
     * @return the image bytes written (0 for work that writes no image data, say zeros)
     * @throws Refused when it must not be written at all
     */
    long write(T decoded) throws IOException;

    /** On the loop: written; {@link #bytesWritten} counts it already. */
    void written(long bytes);

    /**
     * On the loop: {@code cause} ended it: a {@link ChunkVerificationException} (it failed its
     * check: take it again), a {@link Refused}, another {@link IOException} (the target failed), a
     * {@link RuntimeException} (it could not be rebuilt), or a {@link LinkageError} or {@link
     * VirtualMachineError} (every piece would fail alike: a native library gone, memory exhausted).
     */
    void failed(Throwable cause);
  }

  /** {@link Piece#write} refuses: nothing of it is written (a disk the image does not fit). */
  public static final class Refused extends IOException {
    public Refused(String reason) {
      super(reason);
    }
  }

  private final ExecutorService workers;
  private final Executor loop;
  private final AtomicInteger pending = new AtomicInteger();
  private final AtomicLong bytesWritten = new AtomicLong();
  private final AtomicLong decodeNanos = new AtomicLong();
  private final AtomicLong writeNanos = new AtomicLong();
  private final AtomicLong syncNanos = new AtomicLong();

  /**
   * Wall clock (epoch ms) when the first image byte was written, 0 before: start-up as an admin
   * sees it.
   */
  private final AtomicLong firstWriteMillis = new AtomicLong();

  /**
   * The process's CPU time (all threads: the JVM's start, class loading, the JIT, the work) when
   * the first image byte was written, -1 before or unknown: start-up as a busy host's clock cannot
   * blur it.
   */
  private volatile long firstWriteCpuNanos = -1;

  /**
   * @param workers worker threads (1: pieces written in order)
   * @param thread the workers' thread name
   * @param loop the receiver's event loop: every outcome is handed back there
   */
  public WritePipeline(int workers, String thread, Executor loop) {
    this.workers = Executors.newFixedThreadPool(workers, DaemonThreads.named(thread));
    this.loop = loop;
  }

  /** Decodes and writes {@code piece} on a worker; its outcome comes back on the loop. */
  public <T> void submit(Piece<T> piece) {
    pending.incrementAndGet();
    workers.execute(() -> process(piece));
  }

  private <T> void process(Piece<T> piece) {
    try {
      long t0 = System.nanoTime();
      T decoded = piece.decode();
      long t1 = System.nanoTime();
      long n = piece.write(decoded);
      decodeNanos.addAndGet(t1 - t0);
      writeNanos.addAndGet(System.nanoTime() - t1);
      if (n > 0 && firstWriteMillis.compareAndSet(0, System.currentTimeMillis())) {
        firstWriteCpuNanos =
            ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
      }
      back(
          () -> {
            pending.decrementAndGet();
            bytesWritten.addAndGet(n);
            piece.written(n);
          });
    } catch (Exception | LinkageError | VirtualMachineError e) {
      // Left uncaught, the worker would die and the receive would wait for this piece for ever.
      back(
          () -> {
            pending.decrementAndGet();
            piece.failed(e);
          });
    }
  }

  /** Hands {@code outcome} to the loop, unless the receive has ended and the loop with it. */
  private void back(Runnable outcome) {
    try {
      loop.execute(outcome);
    } catch (RejectedExecutionException ended) {
      // nobody is waiting for it any more
    }
  }

  /**
   * Syncs the target on a worker, behind the pieces submitted before (with one worker, after all of
   * them); {@code then} on the loop with the error, if any.
   */
  public void sync(Target target, Consumer<Optional<IOException>> then) {
    workers.execute(
        () -> {
          long t0 = System.nanoTime();
          Optional<IOException> error = Optional.empty();
          try {
            target.sync();
          } catch (IOException e) {
            error = Optional.of(e);
          }
          syncNanos.addAndGet(System.nanoTime() - t0);
          Optional<IOException> result = error;
          back(() -> then.accept(result));
        });
  }

  /** Runs {@code then} on the loop once the workers reach it (one worker: every piece is done). */
  public void drain(Runnable then) {
    workers.execute(() -> back(then));
  }

  /** Other work for the workers, not a piece (checking what the target holds). */
  public void run(Runnable task) {
    workers.execute(task);
  }

  /** Pieces submitted whose outcome has not come back yet. */
  public int pending() {
    return pending.get();
  }

  /** Image bytes written so far (counted on the loop as outcomes come back). */
  public long bytesWritten() {
    return bytesWritten.get();
  }

  /**
   * "workers 1.20 s rebuilding, decompressing and hashing, 0.80 s writing, 0.10 s syncing; 0.95 s
   * from the process's start to the first byte written": what bounded the receiver besides the
   * wire, its CPU or its disk (the workers overlap receiving).
   */
  public String describeTimes() {
    return "workers "
        + secs(decodeNanos.get())
        + " s rebuilding, decompressing and hashing, "
        + secs(writeNanos.get())
        + " s writing, "
        + secs(syncNanos.get())
        + " s syncing; "
        + startToFirstWrite(0)
        + " s from the process's start to the first byte written";
  }

  /**
   * {@link #describeTimes()} and the part of the start that was the receiver's own: "...; 2.72 s
   * from the process's start to the first byte written (1.02 s without waiting for a sender, 0.95
   * CPU s)", the CPU time the whole process had used by then. A node's agent starts and registers
   * before its session's sender is there (docs/reimaging.md); the wait for the sender is the
   * session's, not the agent's start-up.
   *
   * @param waitedNanos how long the receiver, listening, waited for a sender to appear
   */
  public String describeTimes(long waitedNanos) {
    long cpu = firstWriteCpuNanos;
    return describeTimes()
        + " ("
        + startToFirstWrite(waitedNanos)
        + " s without waiting for a sender, "
        + (cpu < 0 ? "?" : secs(cpu))
        + " CPU s)";
  }

  /**
   * Seconds from this process's start (the JVM's own start-up included, which a timer started in
   * {@code main} would miss) to the first image byte written, less {@code lessNanos}; "?" when the
   * start is unknown (no /proc). The process's start has the kernel's clock-tick resolution (10
   * ms).
   */
  private String startToFirstWrite(long lessNanos) {
    long first = firstWriteMillis.get();
    Optional<Instant> started = ProcessHandle.current().info().startInstant();
    if (first == 0 || started.isEmpty()) return "?";
    return secs(TimeUnit.MILLISECONDS.toNanos(first - started.get().toEpochMilli()) - lessNanos);
  }

  /** Seconds, two decimals. */
  public static String secs(long nanos) {
    return String.format(Locale.ROOT, "%.2f", Math.max(0, nanos) / 1e9);
  }

  /** Stops the workers; what is queued is dropped. */
  @Override
  public void close() {
    workers.shutdown();
  }
}

package org.clonecast.common.image;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.clonecast.common.concurrent.DaemonThreads;

/**
 * Runs {@code work(i)} for chunks {@code 0..count-1} on a pool of threads and hands each result to
 * {@code sink} on the calling thread strictly in index order. At most {@code window} chunks are in
 * flight, each with one buffer of {@code bufferSize} bytes from a fixed pool, so memory stays
 * bounded whatever the image size. The workers run at most that far ahead of the sink: a caller
 * whose sink waits for something else (a capture's uploads) asks for a longer window, so that the
 * workers go on while it waits.
 *
 * <p>The first failure in index order ends the run: later work is cancelled (without interrupts,
 * which would close the {@code FileChannel}s workers share) and the failure is rethrown as it was,
 * unwrapped. One instance is one run; not reusable, not shared between threads.
 */
final class OrderedPipeline {
  /** Numbers the runs in their threads' names, so a stuck run is easy to find in a thread dump. */
  private static final AtomicInteger RUN = new AtomicInteger();

  /** A chunk's work on a pool thread; returns what the sink needs. */
  @FunctionalInterface
  interface Work<T> {
    T apply(int index, byte[] buffer) throws IOException;
  }

  /**
   * Consumes results in index order on the calling thread; the buffer is reused after it returns.
   */
  @FunctionalInterface
  interface Sink<T> {
    void accept(int index, byte[] buffer, T result) throws IOException;
  }

  /**
   * Bytes of chunk buffers the pipeline may hold at once, unless one chunk per thread needs more.
   */
  private static final long MEMORY_BUDGET = 256L * 1024 * 1024;

  private OrderedPipeline() {}

  static <T> void run(int count, int threads, int bufferSize, Work<T> work, Sink<T> sink)
      throws IOException {
    run(count, threads, 0, bufferSize, work, sink);
  }

  /**
   * Runs the pipeline.
   *
   * @param ahead chunks the workers may run ahead of the sink at least (within the memory budget);
   *     0 for the default, two per thread
   */
  static <T> void run(int count, int threads, int ahead, int bufferSize, Work<T> work, Sink<T> sink)
      throws IOException {
    if (count == 0) {
      return;
    }
    int t = Math.max(1, Math.min(threads, count));
    int window =
        (int)
            Math.max(t + 1, Math.min(Math.max(2L * t + 2, ahead + 1L), MEMORY_BUDGET / bufferSize));
    window = Math.min(window, count);
    BlockingQueue<byte[]> buffers = new ArrayBlockingQueue<>(window);
    for (int i = 0; i < window; i++) {
      buffers.add(new byte[bufferSize]);
    }
    ExecutorService pool =
        Executors.newFixedThreadPool(
            t, DaemonThreads.numbered("clonecast-image-" + RUN.incrementAndGet() + "-"));
    ArrayDeque<Future<T>> inFlight = new ArrayDeque<>();
    ArrayDeque<byte[]> inFlightBuffers = new ArrayDeque<>();
    try {
      int next = 0;
      for (int i = 0; i < count; i++) {
        while (next < count && inFlight.size() < window) {
          int index = next++;
          // Never blocks: every in-flight chunk holds one buffer and there are window buffers.
          byte[] buf = buffers.remove();
          inFlight.add(pool.submit(() -> work.apply(index, buf)));
          inFlightBuffers.add(buf);
        }
        T result = await(inFlight.remove());
        byte[] buf = inFlightBuffers.remove();
        sink.accept(i, buf, result);
        buffers.add(buf);
      }
    } finally {
      inFlight.forEach(f -> f.cancel(false));
      pool.shutdown();
      awaitQuietly(pool);
    }
  }

  /** Waits for running work to end, so no worker touches a channel the caller closes next. */
  private static void awaitQuietly(ExecutorService pool) {
    boolean interrupted = false;
    while (true) {
      try {
        if (pool.awaitTermination(1, TimeUnit.MINUTES)) {
          break;
        }
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static <T> T await(Future<T> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof UncheckedIOException u) {
        throw u.getCause();
      }
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IOException(c);
    }
  }
}

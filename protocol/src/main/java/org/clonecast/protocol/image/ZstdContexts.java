package org.clonecast.protocol.image;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A small pool of native zstd contexts, so encoding a chunk does not allocate and initialise a
 * fresh context (several MiB at higher levels) each time. A pool rather than thread-locals:
 * zstd-jni contexts are not freed by the garbage collector, and callers' threads come and go. At
 * most {@code max} idle contexts are kept; extra ones are closed when returned.
 *
 * <p>Thread-safe.
 */
final class ZstdContexts<T extends AutoCloseable> {
  static final ZstdContexts<ZstdCompressCtx> COMPRESS =
      new ZstdContexts<>(ZstdCompressCtx::new, ZstdCompressCtx::close);
  static final ZstdContexts<ZstdDecompressCtx> DECOMPRESS =
      new ZstdContexts<>(ZstdDecompressCtx::new, ZstdDecompressCtx::close);

  private final ConcurrentLinkedQueue<T> idle = new ConcurrentLinkedQueue<>();
  private final Supplier<T> factory;
  private final Consumer<T> closer;
  private final int max = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());

  private ZstdContexts(Supplier<T> factory, Consumer<T> closer) {
    this.factory = factory;
    this.closer = closer;
  }

  T take() {
    T ctx = idle.poll();
    return ctx != null ? ctx : factory.get();
  }

  void give(T ctx) {
    // size() walks the queue, but the queue is at most a few entries long.
    if (idle.size() < max) {
      idle.offer(ctx);
    } else {
      closer.accept(ctx);
    }
  }
}

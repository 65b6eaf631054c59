package org.clonecast.agent.unicast;

import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.protocol.image.Manifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A receiving node's way around a multicast that does not reach it (docs/unicast.md): when {@link
 * FallbackTrigger} says so, it takes the chunks the receiver still lacks one at a time ({@link
 * Receiver#claim}), fetches each from the daemon ({@link ChunkFetcher}) and hands its stored bytes
 * to the receiver, which checks them against the manifest's SHA-256 and writes them exactly as a
 * chunk that came by multicast. The daemon paces it (429 and a pause); multicast that comes back
 * stops it after the chunk in hand. It never fails the receive: a daemon that refuses it leaves the
 * node to its multicast and its timeouts.
 *
 * <p>Runs on one thread of its own, started by the receiver once it knows what it needs; {@link
 * #stop} ends it. Thread-safe.
 */
public final class UnicastFallback {
  private static final Logger log = LoggerFactory.getLogger(UnicastFallback.class);

  /** How often a silent node looks again, and the longest pause after a failed fetch. */
  private static final long TICK_MILLIS = 200;

  private static final long MAX_BACKOFF_MILLIS = 5_000;

  /** The receiver as the fallback sees it; every call returns at once. */
  public interface Receiver {
    /**
     * Takes the next chunk the receiver lacks from the multicast's hands (it is not collected there
     * any more): its index, -1 when none is left to take now, -2 when the receive is over.
     */
    CompletableFuture<Integer> claim();

    /** A fetch of a claimed chunk failed: the chunk is the multicast's again. */
    void giveBack(int chunk);

    /** The stored bytes of a claimed chunk: to be checked and written like a multicast one. */
    void deliver(int chunk, byte[] stored);

    /**
     * When the last multicast packet of the session arrived ({@link System#nanoTime}), 0: never.
     */
    long lastMulticastNanos();

    /**
     * When multicast last completed a chunk this node lacked ({@link System#nanoTime}), 0: never.
     * Chunks this fallback delivered do not count.
     */
    long lastProgressNanos();

    /** The daemon answered for the running session: the sender is alive. */
    void senderAlive();
  }

  private final ChunkFetcher fetcher;
  private final Duration after;
  private final AtomicLong storedBytes = new AtomicLong();
  private final AtomicLong chunks = new AtomicLong();
  private final AtomicLong written = new AtomicLong();
  private volatile boolean stopped;
  private volatile boolean fetching;
  private Thread thread;

  /**
   * @param after the multicast silence after which the node fetches by unicast
   */
  public UnicastFallback(ChunkFetcher fetcher, Duration after) {
    this.fetcher = fetcher;
    this.after = after;
    if (after.isNegative() || after.isZero())
      throw new IllegalArgumentException("unicast-after " + after + ", want > 0");
  }

  /** Starts watching: the receiver asks for its chunks now. */
  public synchronized void start(Receiver receiver, Manifest manifest) {
    if (thread != null || stopped) return;
    FallbackTrigger trigger = new FallbackTrigger(after, Duration.ofSeconds(1), System.nanoTime());
    thread = new Thread(() -> run(receiver, manifest, trigger), "unicast-fallback");
    thread.setDaemon(true);
    thread.start();
  }

  /** Stops fetching (the receive is over); the chunk in hand, if any, is dropped. */
  public synchronized void stop() {
    stopped = true;
    if (thread != null) thread.interrupt();
  }

  /** Whether it is fetching now (the node's multicast is silent): its NAKs would be for nothing. */
  public boolean fetching() {
    return fetching;
  }

  /** The receiver wrote {@code bytes} (logical) of a chunk this fallback delivered. */
  public void written(long bytes) {
    written.addAndGet(bytes);
  }

  /** Logical bytes written from chunks fetched by unicast. */
  public long unicastBytes() {
    return written.get();
  }

  /** Stored bytes fetched, and chunks. */
  public long fetchedBytes() {
    return storedBytes.get();
  }

  public long fetchedChunks() {
    return chunks.get();
  }

  private void run(Receiver receiver, Manifest manifest, FallbackTrigger trigger) {
    long backoff = TICK_MILLIS;
    try {
      while (!stopped) {
        long now = System.nanoTime();
        FallbackTrigger.Action action =
            trigger.decide(receiver.lastMulticastNanos(), receiver.lastProgressNanos(), now);
        if (action == FallbackTrigger.Action.WAIT) {
          if (fetching) {
            fetching = false;
            log.info(
                "unicast fallback paused: multicast brings chunks this node lacks again;"
                    + " the carousel serves the rest");
          }
          Thread.sleep(TICK_MILLIS);
          continue;
        }
        try {
          if (action == FallbackTrigger.Action.PROBE) {
            ChunkFetcher.Answer a = fetcher.probe();
            if (a instanceof ChunkFetcher.Running r) {
              trigger.transferRunning(r.transferMillis(), System.nanoTime());
              receiver.senderAlive();
            } else if (a instanceof ChunkFetcher.NotStarted n) {
              trigger.notStarted(TimeUnit.MILLISECONDS.toNanos(n.retryMillis()), now);
            } else if (!handled(a)) {
              Thread.sleep(pause(a));
            }
            backoff = TICK_MILLIS;
            continue;
          }
          int c = claim(receiver);
          if (c == -2) return;
          if (c == -1) {
            Thread.sleep(TICK_MILLIS); // what is left is being written, or was taken meanwhile
            continue;
          }
          if (!fetching) {
            fetching = true;
            long t = System.nanoTime();
            log.info(
                "unicast fallback: {} s while the session's multicast runs;"
                    + " fetching the missing chunks from the daemon",
                action == FallbackTrigger.Action.FETCH_BEHIND
                    ? String.format(
                        Locale.ROOT,
                        "multicast arrives but has completed no chunk this node lacks for %.1f",
                        trigger.stalledNanos(receiver.lastProgressNanos(), t) / 1e9)
                    : String.format(
                        Locale.ROOT,
                        "no multicast data for %.1f",
                        trigger.silentNanos(receiver.lastMulticastNanos(), t) / 1e9));
          }
          ChunkFetcher.Answer a;
          try {
            a = fetcher.fetch(manifest.chunk(c));
          } catch (IOException e) {
            receiver.giveBack(c);
            throw e;
          }
          if (a instanceof ChunkFetcher.Chunk got) {
            storedBytes.addAndGet(got.stored().length);
            chunks.incrementAndGet();
            receiver.senderAlive();
            receiver.deliver(c, got.stored());
            backoff = TICK_MILLIS;
            continue;
          }
          receiver.giveBack(c);
          if (a instanceof ChunkFetcher.NotStarted n) {
            trigger.notStarted(TimeUnit.MILLISECONDS.toNanos(n.retryMillis()), now);
          }
          if (handled(a)) return;
          Thread.sleep(pause(a));
        } catch (IOException e) {
          log.warn("unicast fallback: {}; trying again in {} ms", e.getMessage(), backoff);
          Thread.sleep(backoff);
          backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        }
      }
    } catch (InterruptedException e) {
      // stopped
    } finally {
      fetching = false;
    }
  }

  /** True when {@code a} ends the fallback: the daemon refuses this node. */
  private boolean handled(ChunkFetcher.Answer a) {
    if (a instanceof ChunkFetcher.Refused r) {
      log.warn(
          "unicast fallback: the daemon refuses this node ({} {}); the receive goes on by multicast"
              + " only",
          r.status(),
          r.why());
      return true;
    }
    return false;
  }

  private static long pause(ChunkFetcher.Answer a) {
    if (a instanceof ChunkFetcher.Busy b) return b.retryMillis();
    if (a instanceof ChunkFetcher.NotStarted n) return n.retryMillis();
    return TICK_MILLIS;
  }

  private int claim(Receiver receiver) throws InterruptedException, IOException {
    CompletableFuture<Integer> f = receiver.claim();
    try {
      return f.get(10, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      // A chunk claimed after all must not be lost to both paths.
      f.thenAccept(
          c -> {
            if (c >= 0) receiver.giveBack(c);
          });
      throw new IOException("the receiver did not hand over a chunk: " + e, e);
    }
  }
}

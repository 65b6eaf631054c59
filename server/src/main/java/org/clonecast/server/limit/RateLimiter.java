package org.clonecast.server.limit;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Rate limit per client and overall: an action is allowed when both the client's own {@link
 * TokenBucket} and the shared one have a token. At most {@code maxClients} client buckets are kept
 * (the least recently used one is forgotten first), so a flood from many addresses costs bounded
 * memory and is still held back by the shared bucket.
 *
 * <p>Thread-safe (every call holds the limiter's lock; each is a few arithmetic operations).
 *
 * @param <K> the client key, e.g. an {@link java.net.InetAddress}
 */
public final class RateLimiter<K> {
  /**
   * Rates, in actions per second.
   *
   * @param perClient sustained rate of one client
   * @param clientBurst burst of one client
   * @param overall sustained rate of everyone together
   * @param overallBurst burst of everyone together
   * @param maxClients client buckets kept
   */
  public record Limits(
      double perClient, double clientBurst, double overall, double overallBurst, int maxClients) {
    public Limits {
      if (!(perClient > 0) || !(overall > 0) || clientBurst < 1 || overallBurst < 1) {
        throw new IllegalArgumentException(
            "rates must be positive and bursts at least 1: "
                + perClient
                + "/s burst "
                + clientBurst
                + ", overall "
                + overall
                + "/s burst "
                + overallBurst);
      }
      if (maxClients < 1) {
        throw new IllegalArgumentException("maxClients " + maxClients + " < 1");
      }
    }

    /**
     * {@code perMinute} a minute per client with that burst, and {@code overallFactor} times that
     * overall.
     */
    public static Limits perMinute(double perMinute, int overallFactor) {
      return new Limits(
          perMinute / 60,
          perMinute,
          perMinute * overallFactor / 60,
          perMinute * overallFactor,
          4096);
    }
  }

  private final Limits limits;
  private final LongSupplier clock;
  private final TokenBucket overall;
  private final LinkedHashMap<K, TokenBucket> clients = new LinkedHashMap<>(16, 0.75f, true);
  private long refused;

  /**
   * @param clock the time in nanoseconds ({@code System::nanoTime} in the daemon)
   */
  public RateLimiter(Limits limits, LongSupplier clock) {
    this.limits = Objects.requireNonNull(limits);
    this.clock = Objects.requireNonNull(clock);
    this.overall = new TokenBucket(limits.overallBurst(), limits.overall(), clock.getAsLong());
  }

  /**
   * Whether {@code client} may act now; if so, one token of its bucket and of the shared one is
   * used.
   */
  public synchronized boolean tryAcquire(K client) {
    Objects.requireNonNull(client, "client");
    long now = clock.getAsLong();
    TokenBucket own = clients.get(client);
    if (own == null) {
      own = new TokenBucket(limits.clientBurst(), limits.perClient(), now);
      clients.put(client, own);
      trim();
    }
    if (!own.tryTake(now)) {
      refused++;
      return false;
    }
    if (!overall.tryTake(now)) {
      own.giveBack();
      refused++;
      return false;
    }
    return true;
  }

  /** Actions refused so far. */
  public synchronized long refused() {
    return refused;
  }

  /** Client buckets held now. */
  public synchronized int clients() {
    return clients.size();
  }

  /**
   * Forgets the least recently used buckets beyond {@code maxClients}. A forgotten client starts
   * again with a full bucket: only a flood from more addresses than that gains by it, and the
   * shared bucket still holds it back.
   */
  private void trim() {
    Iterator<K> it = clients.keySet().iterator();
    while (clients.size() > limits.maxClients() && it.hasNext()) {
      it.next();
      it.remove();
    }
  }
}

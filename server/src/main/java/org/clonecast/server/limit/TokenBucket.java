package org.clonecast.server.limit;

/**
 * A token bucket: holds up to {@code capacity} tokens, gains {@code perSecond} of them every
 * second, and each permitted action takes one. A full bucket allows a burst of {@code capacity}
 * actions; after that, {@code perSecond} a second. Time comes in as {@code nowNanos} (any monotonic
 * origin, e.g. {@link System#nanoTime()}), so tests drive it with a fake clock.
 *
 * <p>Not thread-safe: {@link RateLimiter} guards the buckets it keeps.
 */
public final class TokenBucket {
  private static final double NANOS = 1e9;

  private final double capacity;
  private final double perNano;
  private double tokens;
  private long lastNanos;

  /**
   * A full bucket.
   *
   * @param capacity largest burst, at least 1
   * @param perSecond tokens gained per second, positive
   * @param nowNanos the time now
   */
  public TokenBucket(double capacity, double perSecond, long nowNanos) {
    if (!(capacity >= 1) || Double.isInfinite(capacity)) {
      throw new IllegalArgumentException("capacity " + capacity + " < 1");
    }
    if (!(perSecond > 0) || Double.isInfinite(perSecond)) {
      throw new IllegalArgumentException("perSecond " + perSecond + " not positive");
    }
    this.capacity = capacity;
    this.perNano = perSecond / NANOS;
    this.tokens = capacity;
    this.lastNanos = nowNanos;
  }

  /** Takes a token if there is one. */
  public boolean tryTake(long nowNanos) {
    refill(nowNanos);
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    return false;
  }

  /** Gives back a token taken by {@link #tryTake} for an action that did not happen after all. */
  public void giveBack() {
    tokens = Math.min(capacity, tokens + 1);
  }

  /** Tokens available now (fractions included). */
  public double tokens(long nowNanos) {
    refill(nowNanos);
    return tokens;
  }

  private void refill(long nowNanos) {
    long elapsed = nowNanos - lastNanos;
    if (elapsed > 0) {
      // Past a full refill the exact amount does not matter; this also keeps the product finite.
      tokens =
          elapsed >= (long) (capacity / perNano)
              ? capacity
              : Math.min(capacity, tokens + elapsed * perNano);
      lastNanos = nowNanos;
    }
    // A clock that goes back (it should not) grants nothing and is not followed.
  }
}

package org.clonecast.server.limit;

/**
 * A byte rate shared by requests of uneven size (the unicast fallback's chunk requests): a request
 * is granted whenever the budget is not in debt, and takes its whole size at once, possibly into
 * debt; the next must wait until the rate has paid that back. So over any span the bytes granted
 * stay within {@code perSecond} times the span plus one burst and one request, and no request is
 * ever cut up or held half-sent. Time comes in as {@code nowNanos}, so tests drive it with a fake
 * clock.
 *
 * <p>Not thread-safe: its owner serialises the calls.
 */
public final class ByteBudget {
  private static final double NANOS = 1e9;

  private final double burst;
  private final double perNano;
  private double bytes;
  private long lastNanos;

  /**
   * A full budget.
   *
   * @param perSecond bytes gained per second, positive
   * @param burst bytes that may go at once after a quiet spell, at least 1
   * @param nowNanos the time now
   */
  public ByteBudget(long perSecond, long burst, long nowNanos) {
    if (perSecond <= 0 || burst < 1) {
      throw new IllegalArgumentException(
          "perSecond " + perSecond + " and burst " + burst + " must be positive");
    }
    this.perNano = perSecond / NANOS;
    this.burst = burst;
    this.bytes = burst;
    this.lastNanos = nowNanos;
  }

  /**
   * Takes {@code n} bytes if the budget is not in debt now.
   *
   * @return 0 when taken; otherwise the nanoseconds until a request would be granted (nothing is
   *     taken)
   */
  public long take(long n, long nowNanos) {
    if (n < 0) throw new IllegalArgumentException("negative request " + n);
    refill(nowNanos);
    if (bytes < 0) {
      return Math.max(1, (long) Math.ceil(-bytes / perNano));
    }
    bytes -= n;
    return 0;
  }

  /** Bytes available now; negative: the debt still to be paid back. */
  public double available(long nowNanos) {
    refill(nowNanos);
    return bytes;
  }

  private void refill(long nowNanos) {
    long elapsed = nowNanos - lastNanos;
    if (elapsed > 0) {
      bytes = Math.min(burst, bytes + elapsed * perNano);
      lastNanos = nowNanos;
    }
    // A clock that goes back grants nothing and is not followed.
  }
}

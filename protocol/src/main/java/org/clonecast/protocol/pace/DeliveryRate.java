package org.clonecast.protocol.pace;

/**
 * One receiver's delivery rate: the packets it reports as received per second, from the cumulative
 * count in its heartbeats (the native protocol's STATUS) and the sender's clock at their arrival.
 * What a receiver got per second is the rate its path's narrowest point let through (BBR's delivery
 * rate, for a multicast group without acknowledgements): the sender's rate is only what it tried.
 *
 * <p>The rate is taken over the last {@link #SPAN} heartbeats (at least {@link #MIN_SPAN_NANOS}:
 * two intervals, so the first rate is known early): one heartbeat interval (100 ms) would be moved
 * by a few milliseconds of the sender's own delay in reading it (5 ms is 5 %), which the pacer's
 * maximum filter would take for bandwidth. Pure and single-threaded.
 */
public final class DeliveryRate {

  /** Heartbeats the rate spans: about 300 ms at ten a second. */
  static final int SPAN = 4;

  /** No rate over less than this. */
  static final long MIN_SPAN_NANOS = 150_000_000L;

  private final long[] counts = new long[SPAN];
  private final long[] times = new long[SPAN];
  private int n;
  private int newest = -1;

  /** A heartbeat with the receiver's cumulative count of packets received. */
  public void onCount(long received, long nowNanos) {
    if (n > 0 && received < counts[newest]) n = 0; // a count that went back: start over
    newest = (newest + 1) % SPAN;
    counts[newest] = received;
    times[newest] = nowNanos;
    n = Math.min(SPAN, n + 1);
  }

  /** Packets per second over the span, or -1 while the span is too short to tell. */
  public double packetsPerSecond() {
    if (n < 2) return -1;
    int oldest = (newest - n + 1 + SPAN) % SPAN;
    long dt = times[newest] - times[oldest];
    if (dt < MIN_SPAN_NANOS) return -1;
    return (counts[newest] - counts[oldest]) * 1e9 / dt;
  }
}

package org.clonecast.protocol.pace;

/**
 * One receiver's delivery rate: the packets it reports as received per second, from the cumulative
 * count in its heartbeats (the native protocol's STATUS) and the sender's clock at their arrival.
 * What a receiver got per second is the rate its path's narrowest point let through (BBR's delivery
 * rate, for a multicast group without acknowledgements): the sender's rate is only what it tried.
 *
 * <p>The rate is taken over the last {@link #SPAN} heartbeats, and over no less time than they span
 * at the receiver: a receiver sends one at most every {@link #HEARTBEAT_NANOS}. The sender's clock
 * alone overstates it whenever a heartbeat is read late and the next one on time (a busy sender or
 * receiver, a loaded host: in the lab, up to 20 % over a 50 Mbit/s port's rate at 300 ms), and the
 * pacer's maximum filter would take that for bandwidth. A rate is known from two heartbeats on, so
 * that the start learns the bottleneck early. Pure and single-threaded.
 */
public final class DeliveryRate {

  /** Heartbeats the rate spans: about half a second at ten a second. */
  static final int SPAN = 6;

  /** The shortest interval between a receiver's heartbeats (the agent's STATUS timer). */
  public static final long HEARTBEAT_NANOS = 100_000_000L;

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

  /**
   * Packets per second over the span, or -1 before two heartbeats. Heartbeats at the span's start
   * that counted nothing new, but the last of them, are left out: the receiver was waiting for the
   * data (the session's start, a delta session's check), not losing it, and a rate averaged over
   * that wait understates what its path carries (as BBR leaves out what was sent while the sender
   * itself had nothing to send). In the lab, eight receivers' first half second of data reported a
   * third of what they took, and the pacer cut its start for it (docs/protocol.md §6).
   */
  public double packetsPerSecond() {
    if (n < 2) return -1;
    int span = n;
    int oldest = (newest - span + 1 + SPAN) % SPAN;
    while (span > 2 && counts[(oldest + 1) % SPAN] == counts[oldest]) {
      oldest = (oldest + 1) % SPAN;
      span--;
    }
    long dt = Math.max(times[newest] - times[oldest], (span - 1) * HEARTBEAT_NANOS);
    return (counts[newest] - counts[oldest]) * 1e9 / dt;
  }
}

package org.clonecast.agent.unicast;

import java.time.Duration;

/**
 * When a receiving node gives up waiting for multicast and fetches by unicast:
 *
 * <ul>
 *   <li><b>silent:</b> no multicast data has reached it for {@code after} while the session's
 *       multicast runs. Silence is counted from the latest of: the receive's start, the last
 *       multicast packet, and the multicast's own start as the daemon tells it (a session still
 *       waiting for its receivers sends nothing, and that is no reason to fall back). Until the
 *       daemon has said the multicast runs, a silent node asks it, at most once per {@code
 *       probeEvery}.
 *   <li><b>far behind:</b> multicast data arrives, but for {@link #BEHIND_FACTOR} times {@code
 *       after} none of it has completed a chunk the node lacks: its losses are more than FEC and
 *       the repairs it is left out of can mend, or the carousel is busy with chunks only others
 *       lack. Counted from the latest of the receive's start and the last chunk multicast
 *       completed.
 * </ul>
 *
 * <p>Once due, it stays due while the cause lasts; a multicast packet ends a silence, and a chunk
 * completed by multicast ends a lag (the fetcher then stops after the chunk in hand, and the
 * carousel serves the rest). Chunks fetched by unicast are no progress of the multicast.
 *
 * <p>Pure: the clock comes in as {@code nowNanos}. Not thread-safe.
 */
public final class FallbackTrigger {
  private final long afterNanos;
  private final long probeEveryNanos;
  private final long receivingNanos;
  private long transferStartNanos;
  private boolean transferKnown;
  private long nextProbeNanos;

  /**
   * How many times {@code after} multicast may arrive without completing a chunk the node lacks
   * before it counts as far behind: a chunk of the largest size (64 MiB) takes 11 s at 50 Mbit/s,
   * so 3 × 10 s leaves a receiver that progresses at all on a slow port to the multicast.
   */
  public static final int BEHIND_FACTOR = 3;

  /**
   * @param after the silence that makes a node fall back, positive
   * @param probeEvery the pause between asks of whether the multicast runs
   * @param receivingNanos when the receive started asking for chunks
   */
  public FallbackTrigger(Duration after, Duration probeEvery, long receivingNanos) {
    if (after.isNegative() || after.isZero())
      throw new IllegalArgumentException("unicast-after " + after + ", want > 0");
    this.afterNanos = after.toNanos();
    this.probeEveryNanos = probeEvery.toNanos();
    this.receivingNanos = receivingNanos;
    this.nextProbeNanos = receivingNanos;
  }

  /** What the node should do now. */
  public enum Action {
    /** Keep waiting for multicast. */
    WAIT,
    /** Ask the daemon whether the session's multicast runs (and since when). */
    PROBE,
    /** Fetch chunks by unicast: multicast is silent. */
    FETCH,
    /** Fetch chunks by unicast: multicast arrives but brings nothing the node lacks. */
    FETCH_BEHIND
  }

  /**
   * @param lastMulticastNanos when the last multicast packet of the session arrived, 0 for never
   * @param lastProgressNanos when multicast last completed a chunk the node lacked, 0 for never
   */
  public Action decide(long lastMulticastNanos, long lastProgressNanos, long nowNanos) {
    long since = receivingNanos;
    if (lastMulticastNanos != 0 && lastMulticastNanos - since > 0) since = lastMulticastNanos;
    if (nowNanos - since < afterNanos) {
      long progress = receivingNanos;
      if (lastProgressNanos != 0 && lastProgressNanos - progress > 0) progress = lastProgressNanos;
      return lastMulticastNanos != 0 && nowNanos - progress >= BEHIND_FACTOR * afterNanos
          ? Action.FETCH_BEHIND
          : Action.WAIT;
    }
    if (!transferKnown) {
      if (nowNanos - nextProbeNanos < 0) return Action.WAIT;
      nextProbeNanos = nowNanos + probeEveryNanos;
      return Action.PROBE;
    }
    if (transferStartNanos - since > 0) since = transferStartNanos;
    return nowNanos - since >= afterNanos ? Action.FETCH : Action.WAIT;
  }

  /** The daemon said the multicast has run {@code millis} (learned at {@code nowNanos}). */
  public void transferRunning(long millis, long nowNanos) {
    long start = nowNanos - Math.max(0, millis) * 1_000_000L;
    if (!transferKnown || start - transferStartNanos < 0) transferStartNanos = start;
    transferKnown = true;
  }

  /** The daemon said the multicast has not started: ask again after {@code retryNanos}. */
  public void notStarted(long retryNanos, long nowNanos) {
    nextProbeNanos = nowNanos + Math.max(probeEveryNanos, retryNanos);
  }

  /** How long multicast has completed no chunk the node lacks, for the log. */
  public long stalledNanos(long lastProgressNanos, long nowNanos) {
    return nowNanos - (lastProgressNanos == 0 ? receivingNanos : lastProgressNanos);
  }

  /** How long the node has heard no multicast data, for the log. */
  public long silentNanos(long lastMulticastNanos, long nowNanos) {
    return nowNanos - (lastMulticastNanos == 0 ? receivingNanos : lastMulticastNanos);
  }
}

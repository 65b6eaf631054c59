package org.clonecast.protocol.ndp;

/**
 * When to send Router Advertisements (RFC 4861 §6.2.4, §6.2.6), as a pure machine: unsolicited ones
 * to all-nodes, a few quickly after start and then every {@code intervalNanos}; and an answer to
 * each solicitation, sent at once to the solicitor (unicast replies are allowed by §6.2.6 and need
 * no rate limit shared with other hosts, so a booting node never waits for the next multicast
 * slot). Back-to-back solicitations from one source are answered at most once a second, so one
 * chatty host does not get a reply per packet.
 *
 * <p>Not thread-safe: one driver thread owns it.
 */
public final class AdvertSchedule {
  /** RFC 4861 §10 MAX_INITIAL_RTR_ADVERTISEMENTS. */
  static final int INITIAL_ADVERTS = 3;

  /** Our initial spacing: shorter than the RFC's 16 s, since nothing depends on our adverts. */
  static final long INITIAL_INTERVAL_NANOS = 4_000_000_000L;

  static final long PER_SOURCE_GAP_NANOS = 1_000_000_000L;

  private final long intervalNanos;
  private long nextUnsolicited;
  private int sent;
  private String lastSource = "";
  private long lastAnswer;

  /**
   * @param intervalNanos the steady gap between unsolicited adverts
   */
  public AdvertSchedule(long intervalNanos, long nowNanos) {
    if (intervalNanos <= 0) throw new IllegalArgumentException("interval " + intervalNanos);
    this.intervalNanos = intervalNanos;
    this.nextUnsolicited = nowNanos;
  }

  /** Whether an unsolicited advert is due now; if so, it counts as sent. */
  public boolean unsolicitedDue(long nowNanos) {
    if (nowNanos - nextUnsolicited < 0) return false;
    sent++;
    nextUnsolicited =
        nowNanos
            + (sent < INITIAL_ADVERTS
                ? Math.min(INITIAL_INTERVAL_NANOS, intervalNanos)
                : intervalNanos);
    return true;
  }

  /** The time of the next unsolicited advert. */
  public long nextDeadline() {
    return nextUnsolicited;
  }

  /**
   * A solicitation arrived from {@code source} (its address as text).
   *
   * @return whether to answer it now
   */
  public boolean solicited(String source, long nowNanos) {
    if (source.equals(lastSource) && nowNanos - lastAnswer < PER_SOURCE_GAP_NANOS) return false;
    lastSource = source;
    lastAnswer = nowNanos;
    return true;
  }
}

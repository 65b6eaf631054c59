package org.clonecast.protocol.igmp;

/**
 * When the head node sends IGMP General Queries, as a pure machine (RFC 2236 §3 and §7, the same
 * rules as RFC 3376 §6.6.2). A snooping switch forwards a group only to ports whose hosts report
 * it, and hosts report only when asked; a segment without a querier loses its groups after the
 * switch's membership interval. So the daemon queries, unless another querier with a lower address
 * is heard: then it stands down, and takes over again when that one has been silent for the Other
 * Querier Present Interval. Queries from 0.0.0.0 (a snooping switch's proxy queries, RFC 4541
 * §2.1.1) and from our own address do not count.
 *
 * <p>Timing, from the query interval QI: at start {@link #ROBUSTNESS} queries QI/4 apart (the
 * Startup Query Count and Interval), then one every QI; the Other Querier Present Interval is
 * ROBUSTNESS × QI + half the maximum response time.
 *
 * <p>{@link Mode#AUTO} first listens for one query interval and defers to any querier heard before
 * it has queried itself, whatever that one's address (a querier already there sends one query per
 * interval, so the RFC's Startup Query Interval, QI/4, would miss it three times in four): a head
 * node should not take the role from a site's router that already has it (RFC 2236 would let the
 * lower address win and the router stand down). Once it queries, the RFC's election rules alone
 * apply, so two queriers never both stand down for each other. {@link Mode#ON} is the RFC's querier
 * from the first moment.
 *
 * <p>Not thread-safe: one driver thread owns it.
 */
public final class QuerierElection {
  /** RFC 2236 §8.1 Robustness Variable. */
  static final int ROBUSTNESS = 2;

  /** Whether and how the daemon takes the querier role (config session.igmp-querier). */
  public enum Mode {
    /** Query unless a querier is already there when we start (the default). */
    AUTO,
    /** Query from the start; stand down only for a lower address (RFC 2236 §3). */
    ON,
    /** Never query. */
    OFF
  }

  private final long self;
  private final long queryIntervalNanos;
  private final long otherQuerierPresentNanos;
  private boolean querier;
  private boolean deferToAny;
  private int startupLeft = ROBUSTNESS;
  private long nextQuery;
  private long otherUntil;
  private long otherQuerier;

  /**
   * Starts as the querier ({@link Mode#ON}), with the first query due at once.
   *
   * @param self our address on the segment, big-endian
   * @param queryIntervalNanos QI, the gap between General Queries once started
   * @param maxResponseNanos the maximum response time our queries ask for
   */
  public QuerierElection(int self, long queryIntervalNanos, long maxResponseNanos, long nowNanos) {
    this(Mode.ON, self, queryIntervalNanos, maxResponseNanos, nowNanos);
  }

  /**
   * Starts in {@code mode}: {@link Mode#ON} as the querier with the first query due at once, {@link
   * Mode#AUTO} listening for one query interval first.
   *
   * @throws IllegalArgumentException for {@link Mode#OFF} (nothing to run) or times that do not fit
   */
  public QuerierElection(
      Mode mode, int self, long queryIntervalNanos, long maxResponseNanos, long nowNanos) {
    if (mode == Mode.OFF) throw new IllegalArgumentException("no election with the querier off");
    if (queryIntervalNanos <= 0
        || maxResponseNanos <= 0
        || maxResponseNanos >= queryIntervalNanos) {
      throw new IllegalArgumentException(
          "want 0 < max response time ("
              + maxResponseNanos
              + " ns) < query interval ("
              + queryIntervalNanos
              + " ns)");
    }
    this.self = Integer.toUnsignedLong(self);
    this.queryIntervalNanos = queryIntervalNanos;
    this.otherQuerierPresentNanos = ROBUSTNESS * queryIntervalNanos + maxResponseNanos / 2;
    this.nextQuery = nowNanos;
    if (mode == Mode.AUTO) {
      querier = false;
      deferToAny = true;
      otherUntil = nowNanos + queryIntervalNanos;
    } else {
      querier = true;
    }
  }

  /**
   * A General Query was heard from {@code source}.
   *
   * @return whether we stood down because of it (we were the querier and it has a lower address)
   */
  public boolean heardQuery(int source, long nowNanos) {
    long from = Integer.toUnsignedLong(source);
    if (from == 0 || from == self) return false;
    // In AUTO, before our first query, any querier already there keeps the role.
    if (from > self && !deferToAny) return false;
    boolean wasQuerier = querier;
    querier = false;
    otherQuerier = from;
    otherUntil = nowNanos + otherQuerierPresentNanos;
    return wasQuerier;
  }

  /**
   * Whether a General Query is due now; if so it counts as sent. When the other querier has been
   * silent for the Other Querier Present Interval we become the querier again and query at once.
   */
  public boolean queryDue(long nowNanos) {
    if (!querier) {
      if (nowNanos - otherUntil < 0) return false;
      querier = true;
      // RFC 2236 §3: on taking over, one query now, then every QI; an AUTO start that heard
      // nobody starts as a starting querier does (the startup queries).
      startupLeft = deferToAny && otherQuerier == 0 ? ROBUSTNESS : 1;
      deferToAny = false;
      nextQuery = nowNanos;
    }
    if (nowNanos - nextQuery < 0) return false;
    startupLeft = Math.max(0, startupLeft - 1);
    nextQuery = nowNanos + (startupLeft > 0 ? queryIntervalNanos / 4 : queryIntervalNanos);
    return true;
  }

  /** Whether we are the segment's querier now. */
  public boolean querier() {
    return querier;
  }

  /** The querier we last stood down or deferred for (big-endian), 0 for none. */
  public int otherQuerier() {
    return (int) otherQuerier;
  }

  /**
   * When {@link #queryDue} may next return true: our next query, or the end of the other's
   * interval.
   */
  public long nextDeadline() {
    return querier ? nextQuery : otherUntil;
  }
}

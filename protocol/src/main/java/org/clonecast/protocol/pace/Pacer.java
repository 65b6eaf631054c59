package org.clonecast.protocol.pace;

import java.util.ArrayDeque;
import java.util.stream.DoubleStream;

/**
 * Paces the sender: a token bucket whose rate follows the receivers' loss and, where the protocol
 * reports it, what they received per second; capped by the operator's {@code --rate}. Pure and
 * single-threaded; time comes in as {@code nowNanos}. It lives apart from either protocol because
 * both drivers use it.
 *
 * <p><b>Loss alone</b> (the udpcast-compatible sender, whose stock receivers report no counts):
 * loss is only a congestion signal when it rises above what the path loses anyway: a receiver
 * behind a lossy cable loses 2% at any rate, and slowing down would not help it (FEC does). So the
 * pacer keeps the lower quartile of the last {@code FLOOR_WINDOW} samples as the floor (at most
 * 10%), backs off to four fifths of what was sent (at most halving) when the loss exceeds floor +
 * margin, climbs back quickly towards the rate in force before the cut, and otherwise probes by a
 * sixteenth per sample (a quarter before the first loss: slow start). The loss comes from the
 * caller: the native sender's {@code SenderMachine#pacingLossPermille}, which leaves lagging and
 * slow receivers out, or the udpcast sender's re-sent share.
 *
 * <p><b>Why that is not enough behind a shaped port.</b> A switch port shaped with {@code tc tbf}
 * (or any bottleneck with a queue) drops what the sender sends past its rate: at a rate R above the
 * port's C it loses 1 − C/R, loss of the sender's own making. The floor cannot tell that from the
 * path's: a pacer that climbs while loss is under floor + 1.5 % and cuts only above floor + 3 %
 * spends most samples a few percent past the port, those samples become the floor, the floor
 * ratchets up (to its 10 % cap), and the pacer climbs further. In the lab's wire-bound runs 17–30 %
 * of the packets sent were repairs for the port's drops (docs/benchmarks.md); {@code
 * ShapedPortTest} shows the same with this class's loss-only path: 22 % of the packets sent dropped
 * at a 50 Mbit/s port.
 *
 * <p><b>With the delivery rate</b> (the native sender: {@code
 * SenderMachine#pacingDeliveredPacketsPerSecond}, the slowest receiver that paces, from the counts
 * in its STATUS, {@link DeliveryRate}), as BBR estimates a path's bottleneck bandwidth:
 *
 * <ul>
 *   <li>The <em>bottleneck</em> is the second highest delivery rate of the last two seconds (a
 *       maximum filter, which one receiver's burst cannot raise: what got through at best; sending
 *       more does not raise it, which is how loss that tracks the send rate shows). It is the
 *       slowest <em>kept</em> receiver's: a receiver short of CPU is slow and left out by the
 *       machine, and costs the group nothing.
 *   <li>The <em>floor</em> (the path's own loss) takes only samples from times the sender sent no
 *       more than was delivered at best, a second or more after its last cut (the loss signal is
 *       smoothed and the port's queue delays it): the sender's own loss does not enter it, and it
 *       cannot ratchet, since the test is against the delivery, not against the floor's own
 *       estimate. A steady 1 % loss behind the port is learned, so it is neither taken for
 *       congestion nor for a narrower port. The port's rate on the wire is then bottleneck / (1 −
 *       floor), and the rate cruises at 99 % of it.
 *   <li>The sender's own loss is loss more than 1 % above the floor, for two samples and not
 *       falling by more than 15 %, while sending above the port's rate and more than 3 % above the
 *       best delivery in each of the last eight samples (where no port holds the delivery, it
 *       follows the rate less the path's loss, and a burst of loss is no overrun). Then the rate
 *       drops to 85 % of that rate for a moment, so the port's queue drains, and is back at cruise
 *       within a few samples; not four fifths of what was sent. Loss while not above the port is
 *       not the sender's, and neither is a burst that one STATUS reports and the next does not: the
 *       lab's 1 % loss drops whole GSO batches, and cutting for each burst walked the rate down.
 *       Sending 2.5 times what is delivered is past the port whatever the loss says yet (at the
 *       start, before the queue's tail drops show as loss).
 *   <li>Two seconds after such a cut the rate probes above cruise by 1/64 per sample, to at most 5
 *       % over the port's rate, which its queue takes until the loss says stop; the delivery during
 *       the probe refreshes the bottleneck. While the delivery follows the probe (a wider path) the
 *       step doubles, up to 8/64, and the ceiling widens with it (5 % a doubling) and rises with
 *       the bottleneck. A rate within 2 % under cruise probes from cruise: without a port the
 *       delivery is the rate less the path's loss, and climbing only to cruise crept up by a
 *       fraction of a percent per sample. Slow start doubles per sample up to twice what is
 *       delivered, from 100 Mbit/s ({@link Settings#adaptiveWithDelivery}), and ends on loss past
 *       the loss-only margin.
 *   <li>A narrower path (the port slowed, other traffic came) is followed once the window's maximum
 *       has expired, in two seconds; receiver overflow cuts as with loss alone. A rule that took
 *       three samples of low delivery for a narrower path mistook receivers short of CPU for one
 *       (in the lab, four receivers with 1 % loss were held at a quarter of the port) and was
 *       removed.
 *   <li>The ceiling holds only while the sender's own loss showed in the last 10 s; without it the
 *       rate probes as with loss alone, by 1/16 per sample (doubling while the delivery follows, up
 *       to half the rate: receivers that took a slow start's burst in their stride climb back from
 *       its cut in a few samples, not in seconds), at once after a cut, while the loss stays within
 *       the loss-only floor + 1.5 %: a receiver short of CPU delivers what it gets to, not what it
 *       could take, and under the ceiling it held the lab's 200 Mbit/s runs at a third of the port.
 *       Only loss makes that memory, and the start's overshoot is not such loss (nor are the cuts
 *       for sending far past a delivery that still lags after it): receivers that have just started
 *       deliver a fraction of what they take a second later, and taking that for a port held {@code
 *       McastLabIT}'s four receivers with 2 % loss at 2.7 MB/s for the whole session.
 * </ul>
 *
 * In {@code ShapedPortTest}'s model of a tbf port (50 and 200 Mbit/s; 0, 1 and 4 % loss behind it,
 * 1 % in bursts of 32 with STATUS read up to 60 ms late; a port that halves or doubles its rate)
 * the port carries 99.9–100 % of its rate from the third second on and drops 0.6–1.7 % of the
 * packets sent, against 87–96 % and 7–22 % with loss alone.
 */
public final class Pacer {

  /**
   * @param maxBytesPerSecond hard cap
   * @param minBytesPerSecond never slower than this
   * @param startBytesPerSecond rate before any feedback
   * @param burstBytes bucket depth: how much may leave back to back
   * @param marginPermille loss above the floor that counts as congestion
   * @param burstNanos the bucket also holds this much sending time at the current rate, if that is
   *     more than {@code burstBytes}; 0 keeps the depth at {@code burstBytes} whatever the rate
   */
  public record Settings(
      long maxBytesPerSecond,
      long minBytesPerSecond,
      long startBytesPerSecond,
      int burstBytes,
      int marginPermille,
      long burstNanos) {
    public Settings {
      if (minBytesPerSecond <= 0 || maxBytesPerSecond < minBytesPerSecond) {
        throw new IllegalArgumentException(
            "rate bounds " + minBytesPerSecond + ".." + maxBytesPerSecond);
      }
      if (burstBytes <= 0) throw new IllegalArgumentException("burst " + burstBytes);
      if (burstNanos < 0) throw new IllegalArgumentException("burst time " + burstNanos);
      startBytesPerSecond =
          Math.max(minBytesPerSecond, Math.min(maxBytesPerSecond, startBytesPerSecond));
    }

    /** With the bucket holding at least {@link Pacer#BURST_NANOS} of sending time. */
    public Settings(
        long maxBytesPerSecond,
        long minBytesPerSecond,
        long startBytesPerSecond,
        int burstBytes,
        int marginPermille) {
      this(
          maxBytesPerSecond,
          minBytesPerSecond,
          startBytesPerSecond,
          burstBytes,
          marginPermille,
          BURST_NANOS);
    }

    /**
     * Adaptive pacing up to {@code maxBytesPerSecond} for a sender that feeds the receivers'
     * delivery rate: it starts at {@link #DELIVERY_START_BYTES_PER_SECOND} and doubles per sample
     * (up to twice what is delivered) until its first loss, so it finds a fast path as soon as the
     * loss-only slow start from a higher rate, and a slow one without a burst of several times its
     * rate into the bottleneck's queue before the first STATUS comes back.
     */
    public static Settings adaptiveWithDelivery(long maxBytesPerSecond) {
      Settings s = adaptive(maxBytesPerSecond);
      return new Settings(
          s.maxBytesPerSecond(),
          s.minBytesPerSecond(),
          Math.min(s.startBytesPerSecond(), DELIVERY_START_BYTES_PER_SECOND),
          s.burstBytes(),
          s.marginPermille(),
          s.burstNanos());
    }

    /** Adaptive pacing up to {@code maxBytesPerSecond}. */
    public static Settings adaptive(long maxBytesPerSecond) {
      long min = Math.min(maxBytesPerSecond, 1_000_000L);
      return new Settings(
          maxBytesPerSecond, min, Math.min(maxBytesPerSecond, 60_000_000L), 128 * 1024, 30);
    }
  }

  /** Start rate with delivery rates: 100 Mbit/s. */
  public static final long DELIVERY_START_BYTES_PER_SECOND = 12_500_000L;

  /** Samples kept for the loss floor (about ten seconds at ten samples a second). */
  static final int FLOOR_WINDOW = 100;

  /** Highest loss ever taken for the path's own. */
  static final int MAX_FLOOR_PERMILLE = 100;

  private static final long DECREASE_SPACING_NANOS = 200_000_000L;

  /** Receiver socket overflow (per mille) above which the rate is cut. */
  static final int OVERFLOW_LIMIT_PERMILLE = 10;

  /** Samples over which the highest delivery rate is the bottleneck's (about two seconds). */
  static final int BOTTLENECK_WINDOW = 20;

  /** Samples of the sender's own rate that must all be under the bottleneck for the floor. */
  static final int RECENT = 4;

  /**
   * Probes stay under {@link #PROBE_CEILING} this long after the sender's own loss last showed: a
   * port it overran is still there. Without such loss, the rate probes as with loss alone.
   */
  static final long PORT_MEMORY_NANOS = 10_000_000_000L;

  /**
   * A sample is the path's own loss when the sender sent at most this share of the delivery: a
   * little over 1, since the delivery of a sender-limited group (no bottleneck) is what was sent
   * less what the path lost, and the path's loss is what the floor must learn there too.
   */
  static final double ADMIT = 1.02;

  /**
   * Loss is the sender's own only while it sent more than this share of the best delivery in every
   * recent sample: past a bottleneck the delivery stands while the rate rises; where no bottleneck
   * holds it (the receivers take what is sent) it follows the rate, less the path's loss, and loss
   * in bursts is not the sender's doing however long it lasts. A sender with little left to send is
   * measured by its rate, not by what it sent: it sends in bursts at its rate, and a port drops
   * what they carry past its own (in the lab, a receiver behind a 40 Mbit/s port left alone was
   * sent 53 MB/s bursts for four seconds).
   */
  static final double OVERRUN = 1.03;

  /**
   * Samples over which the sender must have sent past {@link #OVERRUN} (about 0.8 s): longer than
   * the delivery lags what was sent (its span of half a second, and the heartbeat's way back), or a
   * rate that rises while the receivers take it all looks like one past what they get. Not in slow
   * start: its first samples, before the rate was reached, would hold its overshoot for the whole
   * window (in the lab, a second at twice a 50 Mbit/s port, most of a session's repairs).
   */
  static final int OVERRUN_SAMPLES = 8;

  /** The rate in cruise, as a share of the bottleneck: a little under, so its queue drains. */
  static final double CRUISE = 0.99;

  /**
   * A rate this close under cruise is at cruise, and probes from there: where the receivers take
   * what is sent, the delivery is the rate less the path's loss, so cruise stays a hair above the
   * rate, and climbing only to cruise would creep up by a fraction of a percent per sample (in the
   * lab, four receivers with 2 % loss were held at a third of what they took).
   */
  static final double NEAR_CRUISE = 0.98;

  /** After the sender's own loss the rate drops to this share of the bottleneck, to drain it. */
  static final double DRAIN = 0.85;

  /** After a cut the rate cruises this long before it probes above the bottleneck again. */
  static final long PROBE_AFTER_NANOS = 2_000_000_000L;

  /** Above cruise the rate probes by this share of itself per sample... */
  static final double PROBE_STEP = 1.0 / 64;

  /** ...up to this share of the bottleneck... */
  static final double PROBE_CEILING = 1.05;

  /** ...or, in slow start, this share. */
  static final double STARTUP_CEILING = 2.0;

  /**
   * Sending this many times what is delivered, whatever the loss says yet, is past the bottleneck:
   * above {@link #STARTUP_CEILING}, which a slow start's delivery lags behind.
   */
  static final double FAR_PAST = 2.5;

  /**
   * Loss that keeps at least this share (percent) of the previous sample's lasts: a burst that one
   * STATUS reported falls to 70 % at the next (the machine's smoothing), the sender's own does not.
   */
  static final int LASTING_PERCENT = 85;

  /** Loss this far above the floor (per mille) while above cruise is the sender's own. */
  static final int SELF_MARGIN_PERMILLE = 10;

  /** The floor takes no sample until this long after a cut: the loss signal lags the rate. */
  static final long HOLD_NANOS = 1_000_000_000L;

  /** The bucket holds at least this much sending time. */
  static final long BURST_NANOS = 4_000_000L;

  private final Settings settings;
  private final ArrayDeque<Integer> samples = new ArrayDeque<>();
  private final ArrayDeque<Integer> pathSamples = new ArrayDeque<>();
  private final ArrayDeque<Long> delivered = new ArrayDeque<>();
  private final ArrayDeque<Double> recentSent = new ArrayDeque<>();
  private double rate;
  private double tokens;
  private long lastRefillNanos;
  private long lastDecreaseNanos = Long.MIN_VALUE / 2;
  private long lastSampleNanos;
  private double lastGoodRate;
  private boolean slowStart = true;
  private double lastWire;
  private long lastOwnLossNanos = Long.MIN_VALUE / 2;
  private int lastLoss;
  private int probeGain = 1;

  public Pacer(Settings settings, long nowNanos) {
    this.settings = settings;
    this.rate = settings.startBytesPerSecond();
    this.tokens = settings.burstBytes();
    this.lastRefillNanos = nowNanos;
    this.lastSampleNanos = nowNanos;
  }

  /** Current rate in bytes per second. */
  public long rateBytesPerSecond() {
    return (long) rate;
  }

  /**
   * Bucket depth: the configured burst, or what the rate sends in {@link Settings#burstNanos} if
   * that is more. A sender that shares its CPU wakes late; a fixed small bucket would then cap the
   * rate at bucket / wake-up interval, far below the rate asked for. A receiver with a small socket
   * buffer needs the opposite: a fixed depth, since everything in the bucket after an idle wait
   * reaches it as one burst.
   */
  private double depth() {
    return Math.max(settings.burstBytes(), rate * settings.burstNanos() / 1e9);
  }

  private void refill(long now) {
    long dt = now - lastRefillNanos;
    if (dt > 0) {
      tokens = Math.min(depth(), tokens + rate * dt / 1e9);
      lastRefillNanos = now;
    }
  }

  /** Bytes that may be sent now. */
  public long available(long now) {
    refill(now);
    return (long) tokens;
  }

  /** Spends tokens for bytes sent (may go negative: the next send waits longer). */
  public void consume(long bytes) {
    tokens -= bytes;
  }

  /** Nanoseconds from {@code now} until {@code bytes} may be sent. */
  public long nanosUntil(long bytes, long now) {
    refill(now);
    double missing = bytes - tokens;
    return missing <= 0 ? 0 : (long) Math.ceil(missing * 1e9 / rate);
  }

  /**
   * Feeds one loss sample (median over receivers, per mille), about every 100 ms, with the bytes
   * actually sent since the previous sample. A sender that could not use its rate (CPU, disk, or
   * nothing to send) does not raise it further, and a back-off starts from what was really sent:
   * otherwise the nominal rate runs far ahead of the real one and a cut changes nothing.
   */
  public void onLoss(int lossPermille, long sentBytes, long now) {
    onLoss(0, lossPermille, sentBytes, now);
  }

  /**
   * As {@link #onLoss(int, long, long)}, with the receivers' socket overflow as well: overflow
   * above {@link #OVERFLOW_LIMIT_PERMILLE} is congestion whatever the loss floor says, since a
   * receiver that drops for want of buffer space is being sent too much. No delivery rate: the loss
   * alone paces (the udpcast-compatible sender, whose receivers report no counts).
   */
  public void onLoss(int overflowPermille, int lossPermille, long sentBytes, long now) {
    onLoss(overflowPermille, lossPermille, sentBytes, -1, now);
  }

  /**
   * As {@link #onLoss(int, int, long, long)}, with the delivery rate of the slowest receiver that
   * paces (bytes per second it reported as received, {@link DeliveryRate}), or -1 when none is
   * known yet. With it the pacer knows the bottleneck and tells its own loss from the path's (see
   * the class comment).
   */
  public void onLoss(
      int overflowPermille,
      int lossPermille,
      long sentBytes,
      long deliveredBytesPerSecond,
      long now) {
    long dt = now - lastSampleNanos;
    lastSampleNanos = now;
    double actual = dt > 0 ? sentBytes * 1e9 / dt : rate;
    boolean limitedByUs = actual >= rate * 0.7;
    recentSent.addLast(actual);
    if (recentSent.size() > OVERRUN_SAMPLES) recentSent.removeFirst();
    delivered.addLast(deliveredBytesPerSecond);
    if (delivered.size() > BOTTLENECK_WINDOW) delivered.removeFirst();
    // The second highest, not the highest: one receiver that drains a backlog in a burst reports
    // for a moment more than its port carries (in the lab, 11 % more), and one such sample must
    // not raise the bottleneck.
    long[] top =
        delivered.stream().mapToLong(Long::longValue).filter(d -> d > 0).sorted().toArray();
    long bottleneck = top.length == 0 ? -1 : top[Math.max(0, top.length - 2)];
    if (bottleneck <= 0) {
      onLossOnly(overflowPermille, lossPermille, actual, limitedByUs, now);
      return;
    }
    // Loss measured while the sender sent no more than was delivered at best (so less than the
    // bottleneck carries, whatever the path loses), and long enough after the last cut that the
    // loss of an overshoot has left the smoothed signal and the bottleneck's queue, is the path's
    // own: only such samples make the floor. Not against the floor's own estimate of the port's
    // rate: a floor that took in some of the sender's loss would overstate that rate, admit more
    // of it, and ratchet up as the loss-only floor does (in the lab a 2 % allowance here and one
    // high delivery sample let 11 % in).
    double sentMost = recent(RECENT).max().orElse(actual);
    if (now - lastDecreaseNanos >= HOLD_NANOS && sentMost <= bottleneck * ADMIT) {
      add(pathSamples, lossPermille);
    }
    int floor = floor(pathSamples);
    // Every sample, as the loss-only pacer keeps them: where no port was overrun lately, probes
    // stop at its floor + margin, which takes in a path whose loss comes in bursts.
    add(samples, lossPermille);
    boolean port = now - lastOwnLossNanos < PORT_MEMORY_NANOS;
    double wire = wireRate(bottleneck, floor);
    double cruise = bounded(wire * CRUISE);
    double sentLeast = recent(RECENT).min().orElse(0);
    double sentLeastLong = recent(OVERRUN_SAMPLES).min().orElse(0);
    // In slow start the floor is not known yet (no sample is taken while the rate runs ahead of
    // the delivery), so only loss past the loss-only margin ends it, or sending far past what
    // is delivered.
    int selfMargin = slowStart ? settings.marginPermille() : SELF_MARGIN_PERMILLE;
    boolean ownLoss =
        lossPermille > floor + selfMargin
            && lastLoss > floor + selfMargin / 2
            && lossPermille * 100 >= lastLoss * LASTING_PERCENT
            && rate > wire
            && (limitedByUs ? (slowStart ? sentLeast : sentLeastLong) : rate)
                > bottleneck * OVERRUN;
    if (overflowPermille > OVERFLOW_LIMIT_PERMILLE) {
      cut(actual, now, DECREASE_SPACING_NANOS);
    } else if (ownLoss || sentLeast > wire * FAR_PAST) {
      // Past the bottleneck: what is lost above the path's floor is ours (or, at the start, far
      // more was sent than got through, before the loss behind the bottleneck's queue shows).
      // Below what gets through for a moment, so that the bottleneck's queue drains, then back to
      // just under it; not four fifths of what was sent (a shaped port would lose a fifth of its
      // time). Ours is loss that lasts: above the margin for two samples and not falling, while
      // sending above the bottleneck. Loss while not above it is not ours, and neither is a burst
      // that one STATUS reports and the next does not (the lab's 1 % loss drops whole GSO
      // batches, a STATUS then says several percent): cutting for them walked the rate down
      // (ShapedPortTest.burstyPathLossAndLateStatusesAreNeitherCongestionNorBandwidth).
      lastGoodRate = cruise;
      // The start's overshoot tells of no port: the receivers' processes may just have started
      // (an agent's receive path runs interpreted for its first second, delivering a tenth of what
      // it takes later); the port is known once the rate overran it after the start, by loss.
      // Sending far past a delivery that lags is no such sign: right after the start's cut the
      // delivery still lagged, the least rate was 2.5 times it, and the port memory that second
      // cut set held a 5 % delta session's few chunks at 1 MB/s (bench/delta.sh).
      if (!slowStart && ownLoss) lastOwnLossNanos = now;
      slowStart = false;
      rate = bounded(wire * DRAIN);
      lastDecreaseNanos = now;
    } else if (overflowPermille <= OVERFLOW_LIMIT_PERMILLE / 4 && limitedByUs) {
      if (rate < cruise * NEAR_CRUISE) {
        // Up to just under the bottleneck at once: the loss still reported may be an overshoot's,
        // which lags behind the cut, and the delivery rate says what the path carries.
        rate = Math.min(cruise, rate + Math.max((cruise - rate) / 2, rate / 16));
      } else if ((port
              ? lossPermille <= floor + selfMargin / 2
              : lossPermille <= Math.max(floor, floor(samples)) + settings.marginPermille() / 2)
          && (slowStart || !port || now - lastDecreaseNanos >= PROBE_AFTER_NANOS)) {
        // Probe above the bottleneck, gently and not far: a wider path shows as a higher delivery
        // rate and lifts the ceiling; a shaped port's queue takes the excess until the loss says
        // stop. The probe speeds up while the delivery follows it (doubling its step, up to eight
        // times), as a path with room shows; it starts again gently once the delivery stands. In
        // slow start, doubling, up to twice what is delivered.
        // Without loss of its own for a while, the bottleneck is no port the sender overran but
        // what its receivers took (a receiver's CPU, a sender's): probe as with loss alone, by a
        // sixteenth (doubling while the delivery follows), without a ceiling, until the loss or
        // the receivers' overflow says stop.
        probeGain = wire > lastWire * 1.01 ? Math.min(8, probeGain * 2) : 1;
        double ceiling =
            slowStart
                ? wire * STARTUP_CEILING
                : port
                    ? wire * (1 + (PROBE_CEILING - 1) * probeGain)
                    : settings.maxBytesPerSecond();
        double step =
            slowStart ? rate : port ? rate * PROBE_STEP * probeGain : rate / 16 * probeGain;
        rate = Math.max(rate, Math.min(bounded(ceiling), Math.max(rate, cruise) + step));
      } else {
        rate = Math.max(rate, cruise);
      }
    }
    lastWire = wire;
    lastLoss = lossPermille;
  }

  /** What was sent per second in the last {@code n} samples. */
  private DoubleStream recent(int n) {
    return recentSent.stream().skip(Math.max(0, recentSent.size() - n)).mapToDouble(x -> x);
  }

  /** The rate on the wire that delivers {@code delivered} after the path's own loss. */
  private static double wireRate(long delivered, int floorPermille) {
    return delivered * 1000.0 / (1000 - floorPermille);
  }

  private double bounded(double r) {
    return Math.max(settings.minBytesPerSecond(), Math.min(settings.maxBytesPerSecond(), r));
  }

  private static void add(ArrayDeque<Integer> window, int lossPermille) {
    window.addLast(lossPermille);
    if (window.size() > FLOOR_WINDOW) window.removeFirst();
  }

  /**
   * The lower quartile of {@code window}, at most {@link #MAX_FLOOR_PERMILLE}; 0 when empty. A path
   * may lose a few percent at any rate, but not a tenth of everything: above that the loss is ours
   * (full queues), even when it has been there since the first sample. A low quantile, not the
   * minimum: loss on a path comes in bursts, and the minimum of a bursty signal is zero, which
   * would make every burst look like congestion.
   */
  private static int floor(ArrayDeque<Integer> window) {
    if (window.isEmpty()) return 0;
    int[] sorted = window.stream().mapToInt(Integer::intValue).sorted().toArray();
    return Math.min(MAX_FLOOR_PERMILLE, sorted[sorted.length / 4]);
  }

  /**
   * Four fifths of what really went out, but never below half the rate: a sender that was itself
   * stalled (repairing a burst) sent little, and that is no measure of the path.
   */
  private void cut(double actual, long now, long spacingNanos) {
    if (now - lastDecreaseNanos < spacingNanos) return;
    lastGoodRate = rate;
    slowStart = false;
    rate =
        Math.max(settings.minBytesPerSecond(), Math.max(rate * 0.5, Math.min(rate, actual) * 0.8));
    lastDecreaseNanos = now;
  }

  /** Pacing on loss alone, against a floor of every sample: the pacer before delivery rates. */
  private void onLossOnly(
      int overflowPermille, int lossPermille, double actual, boolean limitedByUs, long now) {
    add(samples, lossPermille);
    int floor = floor(samples);
    if (overflowPermille > OVERFLOW_LIMIT_PERMILLE
        || lossPermille > floor + settings.marginPermille()) {
      cut(actual, now, DECREASE_SPACING_NANOS);
    } else if (overflowPermille <= OVERFLOW_LIMIT_PERMILLE / 4
        && lossPermille <= floor + settings.marginPermille() / 2
        && limitedByUs) {
      // Well below the rate that last worked, climb back a third of the way per sample (stalls
      // pass); near or above it, probe gently.
      // Until the first loss (slow start) the rate grows by a quarter per sample: from the start
      // rate to a 10 GbE link's in about two seconds.
      double step =
          slowStart ? rate / 4 : rate < lastGoodRate * 0.9 ? (lastGoodRate - rate) / 3 : rate / 16;
      rate = Math.min(settings.maxBytesPerSecond(), rate + Math.max(step, 1_000_000));
    }
  }
}

package org.clonecast.protocol.pace;

import java.util.ArrayDeque;

/**
 * Paces the sender: a token bucket whose rate follows the receivers' loss (AIMD), capped by the
 * operator's {@code --rate}. Pure and single-threaded; time comes in as {@code nowNanos}.
 *
 * <p>Loss is only a congestion signal when it rises above what the path loses anyway: a receiver
 * behind a lossy cable loses 2% at any rate, and slowing down would not help it (FEC does). So the
 * pacer keeps the lower quartile of the last {@code FLOOR_WINDOW} samples as the floor (its lower
 * quartile, at most 10%), backs off to four fifths of what was sent (at most halving) when the loss
 * exceeds floor + margin, climbs back quickly towards the rate in force before the cut, and
 * otherwise probes by a sixteenth per sample (a quarter before the first loss: slow start). The
 * loss comes from the caller: the native sender's {@code SenderMachine#pacingLossPermille}, which
 * leaves lagging receivers out, so one slow receiver cannot drag the rate down, or the udpcast
 * sender's re-sent share. It lives apart from either protocol because both drivers use it.
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

    /** Adaptive pacing up to {@code maxBytesPerSecond}. */
    public static Settings adaptive(long maxBytesPerSecond) {
      long min = Math.min(maxBytesPerSecond, 1_000_000L);
      return new Settings(
          maxBytesPerSecond, min, Math.min(maxBytesPerSecond, 60_000_000L), 128 * 1024, 30);
    }
  }

  /** Samples kept for the loss floor (about ten seconds at ten samples a second). */
  static final int FLOOR_WINDOW = 100;

  /** Highest loss ever taken for the path's own. */
  static final int MAX_FLOOR_PERMILLE = 100;

  private static final long DECREASE_SPACING_NANOS = 200_000_000L;

  /** Receiver socket overflow (per mille) above which the rate is cut. */
  static final int OVERFLOW_LIMIT_PERMILLE = 10;

  /** The bucket holds at least this much sending time. */
  static final long BURST_NANOS = 4_000_000L;

  private final Settings settings;
  private final ArrayDeque<Integer> samples = new ArrayDeque<>();
  private double rate;
  private double tokens;
  private long lastRefillNanos;
  private long lastDecreaseNanos = Long.MIN_VALUE / 2;
  private long lastSampleNanos;
  private double lastGoodRate;
  private boolean slowStart = true;

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
   * receiver that drops for want of buffer space is being sent too much.
   */
  public void onLoss(int overflowPermille, int lossPermille, long sentBytes, long now) {
    long dt = now - lastSampleNanos;
    lastSampleNanos = now;
    double actual = dt > 0 ? sentBytes * 1e9 / dt : rate;
    boolean limitedByUs = actual >= rate * 0.7;
    samples.addLast(lossPermille);
    if (samples.size() > FLOOR_WINDOW) samples.removeFirst();
    // A path may lose a few percent at any rate, but not a tenth of everything: above that the
    // loss is ours (full queues), even when it has been there since the first sample.
    // The floor is a low quantile, not the minimum: loss on a path comes in bursts, and the minimum
    // of a bursty signal is zero, which would make every burst look like congestion.
    int[] sorted = samples.stream().mapToInt(Integer::intValue).sorted().toArray();
    int floor = Math.min(MAX_FLOOR_PERMILLE, sorted[sorted.length / 4]);
    if (overflowPermille > OVERFLOW_LIMIT_PERMILLE
        || lossPermille > floor + settings.marginPermille()) {
      if (now - lastDecreaseNanos >= DECREASE_SPACING_NANOS) {
        // Four fifths of what really went out, but never below half the rate: a sender that was
        // itself stalled (repairing a burst) sent little, and that is no measure of the path.
        lastGoodRate = rate;
        slowStart = false;
        rate =
            Math.max(
                settings.minBytesPerSecond(), Math.max(rate * 0.5, Math.min(rate, actual) * 0.8));
        lastDecreaseNanos = now;
      }
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

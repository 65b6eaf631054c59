package org.clonecast.server.send;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Where a sender's session time went, for its summary: what bounds the session. Each stretch
 * between two runs of the pump counts as what the pump said it waits for, each run as busy (on a
 * crowded host busy includes waiting for a core). Shared by the native and the udpcast-compatible
 * sender.
 *
 * <p>Written on the sender's event loop only; the totals may be read from any thread.
 */
public final class SendTimes {
  /** What the pump waits for until its next run. */
  public enum Wait {
    /** Receivers to join: before the start. */
    JOIN("waiting for receivers"),
    /** The pacer: the rate (the wire, or the receivers' pace) bounds the session. */
    PACE("paced"),
    /**
     * Nothing to send: every wanted chunk sent and held off, waiting for NAKs, DONEs or stragglers.
     */
    IDLE("nothing to send"),
    /** Receivers' answers: udpcast's window of unacknowledged slices is full. */
    ANSWERS("waiting for answers"),
    /** The socket's send queue was full: the host's network stack bounds the session. */
    SOCKET("socket full");

    private final String label;

    Wait(String label) {
      this.label = label;
    }
  }

  private final AtomicLongArray waits = new AtomicLongArray(Wait.values().length);
  private final AtomicLong busy = new AtomicLong();
  private Wait waiting = Wait.JOIN;
  private long lastEndNanos;

  /**
   * The pump runs from {@code nowNanos}: the time since its last run ended counts as what it waited
   * for.
   */
  public void runStarted(long nowNanos) {
    if (lastEndNanos != 0) waits.addAndGet(waiting.ordinal(), nowNanos - lastEndNanos);
  }

  /** Until its next run the pump waits for {@code w}. */
  public void waitFor(Wait w) {
    waiting = w;
  }

  /** The run that started at {@code startNanos} ended at {@code endNanos}. */
  public void runEnded(long startNanos, long endNanos) {
    busy.addAndGet(endNanos - startNanos);
    lastEndNanos = endNanos;
  }

  /** Nanoseconds spent waiting for {@code w}. */
  public long nanos(Wait w) {
    return waits.get(w.ordinal());
  }

  /** Nanoseconds the pump ran. */
  public long busyNanos() {
    return busy.get();
  }

  /**
   * "0.83 s waiting for receivers, 11.94 s paced, ..., 4.74 s busy": the waits given, in that
   * order, then busy.
   */
  public String describe(Wait... shown) {
    StringBuilder b = new StringBuilder();
    for (Wait w : shown) {
      b.append(String.format(Locale.ROOT, "%.2f s %s, ", nanos(w) / 1e9, w.label));
    }
    return b.append(String.format(Locale.ROOT, "%.2f s busy", busyNanos() / 1e9)).toString();
  }
}

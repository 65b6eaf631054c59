package org.clonecast.server.session;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The running sessions' per-node progress as the agents report it, kept in memory: agents report
 * about once a second, and writing each tick to the database (an fsync each) bought nothing but
 * load. The store records phase changes ({@link #report} says when one happened); the dashboard and
 * the API read the bytes from here.
 *
 * <p>Thread-safe.
 */
public final class LiveProgress {
  /**
   * A node's newest report.
   *
   * @param phase the agent's phase (registered, receiving, identity)
   * @param done bytes written so far
   * @param total bytes it will write
   * @param atMillis when the report arrived
   * @param bytesPerSecond its write rate, smoothed over the last reports (0 before the second)
   * @param unicastBytes of {@code done}, bytes written from chunks fetched by unicast
   */
  public record Tick(
      String phase,
      long done,
      long total,
      long atMillis,
      double bytesPerSecond,
      long unicastBytes) {
    /** Seconds until done at the current rate, or empty when it cannot be told. */
    public Optional<Long> etaSeconds() {
      if (bytesPerSecond <= 0 || total <= 0 || done >= total) return Optional.empty();
      return Optional.of((long) Math.ceil((total - done) / bytesPerSecond));
    }
  }

  /** The weight of the newest interval's rate in the smoothed rate. */
  private static final double SMOOTHING = 0.4;

  private final Map<Long, Map<String, Tick>> bySession = new ConcurrentHashMap<>();

  /**
   * Records a report. Returns whether it starts a new phase for the node (the store records that
   * one; the ticks within a phase stay here).
   */
  public boolean report(
      long session,
      String mac,
      String phase,
      long done,
      long total,
      long unicastBytes,
      long nowMillis) {
    Map<String, Tick> nodes = bySession.computeIfAbsent(session, s -> new ConcurrentHashMap<>());
    boolean[] newPhase = {false};
    nodes.compute(
        mac,
        (k, prev) -> {
          if (prev == null || !prev.phase().equals(phase)) {
            newPhase[0] = true;
            return new Tick(
                phase,
                done,
                total,
                nowMillis,
                prev == null ? 0 : prev.bytesPerSecond(),
                unicastBytes);
          }
          double rate = prev.bytesPerSecond();
          if (nowMillis > prev.atMillis() && done >= prev.done()) {
            double now = (done - prev.done()) * 1000.0 / (nowMillis - prev.atMillis());
            rate = rate <= 0 ? now : SMOOTHING * now + (1 - SMOOTHING) * rate;
          }
          return new Tick(phase, done, total, nowMillis, rate, unicastBytes);
        });
    return newPhase[0];
  }

  /** The newest report of {@code mac} in {@code session}. */
  public Optional<Tick> get(long session, String mac) {
    Map<String, Tick> nodes = bySession.get(session);
    return nodes == null ? Optional.empty() : Optional.ofNullable(nodes.get(mac));
  }

  /** Every node's newest report in {@code session}, by MAC (a copy). */
  public Map<String, Tick> session(long session) {
    Map<String, Tick> nodes = bySession.get(session);
    return nodes == null ? Map.of() : Map.copyOf(nodes);
  }

  /** Drops an ended session's ticks (the store holds its final figures). */
  public void forget(long session) {
    bySession.remove(session);
  }
}

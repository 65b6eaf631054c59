package org.clonecast.server.session;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.protocol.wire.MacAddress;

/**
 * Nodes whose registration the daemon holds open until it has something for them (a long poll,
 * docs/api.md): an agent booted ahead of its session ({@code --wait-for-session}) asks with {@code
 * ?wait=S}, and instead of "nothing to do" at once it is answered as soon as a session that
 * includes it starts ({@link #wake}), or when the hold ends. A held registration keeps no thread,
 * only its connection and one entry here.
 *
 * <p>Bounded: at most {@code max} registrations are held at once, one per node (a node's second
 * hold ends its first); past the bound {@link #hold} refuses and the caller answers at once, so a
 * flood of nodes falls back to asking every second as agents did before, and cannot pile up waiting
 * connections beyond the bound.
 *
 * <p>Thread-safe.
 */
public final class NodeWaiters {
  /** The longest hold by default (below the HTTP idle timeout's 60 s, above a poll's cost). */
  public static final Duration DEFAULT_HOLD = Duration.ofSeconds(25);

  /** Held registrations at once by default. */
  public static final int DEFAULT_MAX = 1024;

  private final Duration maxHold;
  private final int max;
  private final Map<MacAddress, CompletableFuture<Void>> held = new ConcurrentHashMap<>();
  private final AtomicInteger count = new AtomicInteger();
  private final AtomicLong refused = new AtomicLong();

  /**
   * @param maxHold the longest a registration is held, whatever the agent asked for
   * @param max registrations held at once
   */
  public NodeWaiters(Duration maxHold, int max) {
    Objects.requireNonNull(maxHold, "maxHold");
    if (maxHold.isNegative() || max < 0) {
      throw new IllegalArgumentException("hold " + maxHold + " and max " + max + " must be >= 0");
    }
    this.maxHold = maxHold;
    this.max = max;
  }

  /** The longest a registration is held. */
  public Duration maxHold() {
    return maxHold;
  }

  /**
   * Holds {@code mac}'s registration for {@code hold} (at most {@link #maxHold}): the future
   * completes when {@link #wake} names the node, or normally when the hold ends. Cancelling it (the
   * node went away, or the caller found an answer after all) frees its place. Take the hold
   * <em>before</em> deciding that the node has nothing to do, so that a session started in between
   * still wakes it.
   *
   * @return empty when no hold is wanted or {@code max} registrations are held already
   */
  public Optional<CompletableFuture<Void>> hold(MacAddress mac, Duration hold) {
    Duration d = hold.compareTo(maxHold) > 0 ? maxHold : hold;
    if (d.isZero() || d.isNegative()) return Optional.empty();
    if (count.incrementAndGet() > max) {
      count.decrementAndGet();
      refused.incrementAndGet();
      return Optional.empty();
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    CompletableFuture<Void> before = held.put(mac, f);
    f.whenComplete(
        (v, e) -> {
          held.remove(mac, f);
          count.decrementAndGet();
        });
    if (before != null) before.complete(null);
    f.completeOnTimeout(null, d.toNanos(), TimeUnit.NANOSECONDS);
    return Optional.of(f);
  }

  /** Answers the held registrations of {@code macs} (a session that includes them started). */
  public void wake(Collection<MacAddress> macs) {
    for (MacAddress m : macs) {
      CompletableFuture<Void> f = held.get(m);
      if (f != null) f.complete(null);
    }
  }

  /** Answers every held registration (something may have changed for any node). */
  public void wakeAll() {
    for (CompletableFuture<Void> f : held.values()) f.complete(null);
  }

  /** Registrations held now. */
  public int held() {
    return count.get();
  }

  /** Holds refused because {@code max} were held already, since the daemon started. */
  public long refused() {
    return refused.get();
  }
}

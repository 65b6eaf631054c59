package org.clonecast.server.limit;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Things held at once (transfers, connections): at most {@code max} in all and at most {@code
 * maxPerClient} for one client, so that one client can never take the whole table. Only clients
 * holding something are remembered, so memory is bounded by {@code max}.
 *
 * <p>Thread-safe (each call holds the table's lock for a map update).
 *
 * @param <K> the client key, e.g. an {@link java.net.InetAddress}
 */
public final class Slots<K> {
  /** What {@link #take} did. */
  public enum Result {
    /** A slot was taken; {@link #release} it when done. */
    TAKEN,
    /** Refused: {@code max} are held. */
    FULL,
    /** Refused: {@code maxPerClient} are held by this client. */
    CLIENT_FULL
  }

  private final int max;
  private final int maxPerClient;
  private final Map<K, Integer> byClient = new HashMap<>();
  private int held;

  public Slots(int max, int maxPerClient) {
    if (max < 1 || maxPerClient < 1) {
      throw new IllegalArgumentException(
          "max " + max + " and maxPerClient " + maxPerClient + " must be at least 1");
    }
    this.max = max;
    this.maxPerClient = maxPerClient;
  }

  /** Takes a slot for {@code client} if both limits allow. */
  public Result take(K client) {
    return take(client, false);
  }

  /**
   * Takes a slot for {@code client}.
   *
   * @param beyondMax whether the client may take a slot even when {@code max} are held (it still
   *     counts, and its own limit still applies): for the operator on loopback, who must always
   *     reach the daemon
   */
  public synchronized Result take(K client, boolean beyondMax) {
    Objects.requireNonNull(client, "client");
    int own = byClient.getOrDefault(client, 0);
    if (own >= maxPerClient) {
      return Result.CLIENT_FULL;
    }
    if (held >= max && !beyondMax) {
      return Result.FULL;
    }
    byClient.put(client, own + 1);
    held++;
    return Result.TAKEN;
  }

  /** Gives back a slot {@code client} took. */
  public synchronized void release(K client) {
    Integer own = byClient.get(client);
    if (own == null) {
      throw new IllegalStateException(client + " holds no slot");
    }
    if (own == 1) {
      byClient.remove(client);
    } else {
      byClient.put(client, own - 1);
    }
    held--;
  }

  /** Slots held now. */
  public synchronized int held() {
    return held;
  }

  /** Slots {@code client} holds now. */
  public synchronized int held(K client) {
    return byClient.getOrDefault(client, 0);
  }

  public int max() {
    return max;
  }

  public int maxPerClient() {
    return maxPerClient;
  }
}

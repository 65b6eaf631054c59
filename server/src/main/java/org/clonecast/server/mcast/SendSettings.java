package org.clonecast.server.mcast;

import java.net.Inet4Address;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything one multicast send needs besides the image. Validated here, built by the CLI.
 *
 * @param group multicast group for data, or null for the default derived from the interface address
 * @param port UDP port of data and feedback, and TCP port of the control channel
 * @param rateBitsPerSecond hard cap on the data rate
 * @param symbolSize payload bytes per data packet (MTU − 48)
 * @param receiverDeadline drop a receiver not finished this long after it joined or the transfer
 *     started, whichever is later; empty: {@link #defaultDeadline} for the image
 * @param checkGrace once every awaited receiver joined, start this long (at least the first one's
 *     own check time) after the first is ready (its check done) without waiting for the others'
 *     checks; zero: wait for every check ({@link
 *     org.clonecast.protocol.mcast.SenderMachine.Settings#checkGraceNanos})
 */
public record SendSettings(
    String interfaceName,
    Inet4Address group,
    int port,
    long rateBitsPerSecond,
    int minReceivers,
    Duration maxWait,
    Duration receiverTimeout,
    int symbolSize,
    int ttl,
    boolean gso,
    Optional<Duration> receiverDeadline,
    Duration checkGrace) {

  /** The check grace unless one is given: about a quarter of a loaded node's check of 256 MiB. */
  public static final Duration DEFAULT_CHECK_GRACE = Duration.ofMillis(500);

  /**
   * Ten minutes plus the image's stored bytes at 5 MB/s: a receiver slower than that on average
   * over the whole transfer will not finish on a LAN, and a loiterer is gone in bounded time.
   */
  public static Duration defaultDeadline(long storedBytes) {
    return Duration.ofMinutes(10).plusSeconds(storedBytes / 5_000_000L);
  }

  public SendSettings {
    Objects.requireNonNull(receiverDeadline, "receiverDeadline");
    receiverDeadline.ifPresent(
        d -> {
          if (d.isNegative() || d.isZero())
            throw new IllegalArgumentException(
                "--receiver-deadline " + d.toSeconds() + " s, want > 0");
        });
    Objects.requireNonNull(interfaceName, "interfaceName");
    Objects.requireNonNull(checkGrace, "checkGrace");
    if (checkGrace.isNegative())
      throw new IllegalArgumentException("check grace " + checkGrace + ", want >= 0");
    if (port < 1 || port > 65535)
      throw new IllegalArgumentException("port " + port + " out of 1..65535");
    if (rateBitsPerSecond < 8_000_000L)
      throw new IllegalArgumentException(
          "rate " + rateBitsPerSecond / 1e6 + " Mbit/s too low; use at least 8");
    if (minReceivers < 1)
      throw new IllegalArgumentException("--min-receivers " + minReceivers + ", want at least 1");
    if (ttl < 1 || ttl > 255) throw new IllegalArgumentException("ttl " + ttl + " out of 1..255");
  }
}

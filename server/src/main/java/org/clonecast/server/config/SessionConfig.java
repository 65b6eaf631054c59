package org.clonecast.server.config;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.igmp.QuerierElection;

/**
 * Re-imaging sessions run by the daemon.
 *
 * @param basePort each session's multicast (UDP) and control (TCP) port is basePort + its id mod
 *     500, so concurrent sessions never share one
 * @param receiverTimeout a node silent this long during a transfer is dropped from it (and fails)
 * @param receiverDeadline a node not finished this long after it joined the transfer or the
 *     transfer started is dropped from it; empty: 600 s plus 1 s per 5 MB of stored image (config
 *     session.receiver-deadline, 0 for that default)
 * @param bootenvAutoBuild whether a session that finds no netboot environment builds one in the
 *     background (config bootenv.auto-build; only when the daemon answers PXE, DHCP full or proxy)
 * @param igmpQuerier whether the daemon is an IGMP querier on its interface (config
 *     session.igmp-querier: {@code auto}, the default, queries unless a querier is already there
 *     when it starts; {@code on} queries from the start; both stand down for a querier with a lower
 *     address, RFC 2236's election; {@code off}; {@code true} and {@code false} mean on and off)
 * @param igmpQueryInterval the gap between its General Queries (config session.igmp-query-interval,
 *     default 125 s as RFC 2236 has it)
 * @param unicastRate bytes per second for all unicast fallback together: the chunks served to nodes
 *     that multicast does not reach (config session.unicast-rate, default {@link
 *     #DEFAULT_UNICAST_RATE}; docs/unicast.md)
 * @param unicastStreams chunk requests served at once for the unicast fallback, all nodes together
 *     (config session.unicast-streams, default 8; one node may hold at most half of them)
 * @param checkGrace once every node of a delta session joined, its data starts this long (at least
 *     as long as the first node's check took) after the first node's check, not after the last
 *     one's (config session.check-grace-ms, default 500; 0: after every check)
 */
public record SessionConfig(
    int basePort,
    Duration receiverTimeout,
    boolean bootenvAutoBuild,
    Optional<Duration> receiverDeadline,
    QuerierElection.Mode igmpQuerier,
    Duration igmpQueryInterval,
    long unicastRate,
    int unicastStreams,
    Duration checkGrace) {
  public static final int DEFAULT_BASE_PORT = 9400;

  /** The check grace's default (the sender's own, {@code SendSettings.DEFAULT_CHECK_GRACE}). */
  public static final int DEFAULT_CHECK_GRACE_MS = 500;

  /**
   * A quarter of a 1 Gbit/s provisioning link (31.25 MB/s): the multicast keeps the rest, and a
   * session's multicast runs at about the link's rate.
   */
  public static final int DEFAULT_UNICAST_RATE = 31_250_000;

  public SessionConfig {
    if (basePort < 1024 || basePort > 65535 - 500) {
      throw new ConfigException(
          "session.port " + basePort + " is out of range; use 1024-" + (65535 - 500));
    }
    if (receiverTimeout.isNegative() || receiverTimeout.isZero()) {
      throw new ConfigException("session.receiver-timeout must be positive");
    }
    Objects.requireNonNull(receiverDeadline, "receiverDeadline");
    Objects.requireNonNull(igmpQuerier, "igmpQuerier");
    if (igmpQueryInterval.compareTo(Duration.ofSeconds(2)) < 0) {
      throw new ConfigException("session.igmp-query-interval must be 2 s or more");
    }
    if (unicastRate < 65_536) {
      throw new ConfigException(
          "session.unicast-rate "
              + unicastRate
              + " is below 65536 bytes/s; give a rate the"
              + " fallback can finish a node with (default "
              + DEFAULT_UNICAST_RATE
              + ")");
    }
    if (checkGrace.isNegative() || checkGrace.compareTo(Duration.ofMinutes(10)) > 0) {
      throw new ConfigException("session.check-grace-ms must be 0 to 600000");
    }
    if (unicastStreams < 1) {
      throw new ConfigException("session.unicast-streams must be at least 1");
    }
  }

  static SessionConfig from(ConfigFile f) {
    return new SessionConfig(
        f.integer("session.port", DEFAULT_BASE_PORT, 1024, 65535 - 500),
        Duration.ofSeconds(f.integer("session.receiver-timeout", 10, 1, 3600)),
        f.bool("bootenv.auto-build", true),
        Optional.of(f.integer("session.receiver-deadline", 0, 0, 7 * 24 * 3600))
            .filter(s -> s > 0)
            .map(Duration::ofSeconds),
        querierMode(f),
        Duration.ofSeconds(f.integer("session.igmp-query-interval", 125, 2, 3600)),
        f.integer("session.unicast-rate", DEFAULT_UNICAST_RATE, 65_536, Integer.MAX_VALUE),
        f.integer("session.unicast-streams", 8, 1, 256),
        Duration.ofMillis(f.integer("session.check-grace-ms", DEFAULT_CHECK_GRACE_MS, 0, 600_000)));
  }

  private static QuerierElection.Mode querierMode(ConfigFile f) {
    String v = f.string("session.igmp-querier", "auto");
    return switch (v.toLowerCase(Locale.ROOT)) {
      case "auto" -> QuerierElection.Mode.AUTO;
      case "on", "true", "yes", "1" -> QuerierElection.Mode.ON;
      case "off", "false", "no", "0" -> QuerierElection.Mode.OFF;
      default -> throw f.bad("session.igmp-querier", v, "auto, on or off");
    };
  }
}

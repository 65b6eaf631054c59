package org.clonecast.server.mcast;

import java.net.Inet4Address;
import java.time.Duration;
import java.util.Objects;

/**
 * Everything one multicast send needs besides the image. Validated here, built by the CLI.
 *
 * @param group multicast group for data, or null for the default derived from the interface address
 * @param port UDP port of data and feedback, and TCP port of the control channel
 * @param rateBitsPerSecond hard cap on the data rate
 * @param symbolSize payload bytes per data packet (MTU − 48)
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
    boolean gso) {

  public SendSettings {
    Objects.requireNonNull(interfaceName, "interfaceName");
    if (port < 1 || port > 65535) throw new IllegalArgumentException("port " + port + " out of 1..65535");
    if (rateBitsPerSecond < 8_000_000L) throw new IllegalArgumentException("rate " + rateBitsPerSecond / 1e6 + " Mbit/s too low; use at least 8");
    if (minReceivers < 1) throw new IllegalArgumentException("--min-receivers " + minReceivers + ", want at least 1");
    if (ttl < 1 || ttl > 255) throw new IllegalArgumentException("ttl " + ttl + " out of 1..255");
  }
}

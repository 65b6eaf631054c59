package org.clonecast.agent.mcast;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * One receive: where to listen, where to write.
 *
 * @param server the sender's control address, or null to find it from its announcements
 * @param joinTimeout give up when no sender is found in this time (zero: wait for ever)
 * @param workers threads that rebuild, decompress, verify and write chunks
 * @param igmpRejoin how often to leave and re-join the data group while receiving (zero: never), so
 *     that a snooping switch whose queries do not reach us (no querier on the VLAN, or one that is
 *     filtered) does not let our membership expire mid-transfer
 * @param senderTimeout fail when the joined sender is silent this long: no control frame and no
 *     sealed announcement (a sender host cut off leaves its TCP connection open)
 */
public record ReceiveSettings(String interfaceName, int port, InetSocketAddress server, Path output, String name,
    Duration joinTimeout, int workers, Duration igmpRejoin, Duration senderTimeout) {
  /** A sender announces twice a second; 30 s of silence is no hiccup. */
  public static final Duration DEFAULT_SENDER_TIMEOUT = Duration.ofSeconds(30);
  /** Re-join every minute: well inside the usual 260 s membership interval (RFC 3376 defaults). */
  public static final Duration DEFAULT_IGMP_REJOIN = Duration.ofSeconds(60);

  /** With {@link #DEFAULT_IGMP_REJOIN}. */
  public ReceiveSettings(String interfaceName, int port, InetSocketAddress server, Path output, String name,
      Duration joinTimeout, int workers) {
    this(interfaceName, port, server, output, name, joinTimeout, workers, DEFAULT_IGMP_REJOIN);
  }

  /** With {@link #DEFAULT_SENDER_TIMEOUT}. */
  public ReceiveSettings(String interfaceName, int port, InetSocketAddress server, Path output, String name,
      Duration joinTimeout, int workers, Duration igmpRejoin) {
    this(interfaceName, port, server, output, name, joinTimeout, workers, igmpRejoin, DEFAULT_SENDER_TIMEOUT);
  }

  public ReceiveSettings {
    Objects.requireNonNull(interfaceName, "interfaceName");
    Objects.requireNonNull(output, "output");
    Objects.requireNonNull(name, "name");
    if (port < 1 || port > 65535) throw new IllegalArgumentException("port " + port + " out of 1..65535");
    if (workers < 1) throw new IllegalArgumentException("workers " + workers);
    if (joinTimeout.isNegative()) throw new IllegalArgumentException("join timeout negative");
    if (igmpRejoin.isNegative()) throw new IllegalArgumentException("IGMP re-join interval negative");
    if (senderTimeout.isNegative() || senderTimeout.isZero()) throw new IllegalArgumentException("sender timeout " + senderTimeout + ", want > 0");
  }
}

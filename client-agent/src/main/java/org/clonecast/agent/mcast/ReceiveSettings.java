package org.clonecast.agent.mcast;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.common.trust.ImageTrust;

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
 * @param trust which images may be written: checked against the WELCOME's signatures before the
 *     target is even opened
 * @param joinProof the node proof the HELLO carries in a daemon session ({@code
 *     McastAuth.joinProof})
 * @param check hash what the target already holds before asking for chunks, and ask only for what
 *     differs (a delta receive, docs/reimaging.md); an existing regular file then keeps its bytes
 */
public record ReceiveSettings(
    String interfaceName,
    int port,
    InetSocketAddress server,
    Path output,
    String name,
    Duration joinTimeout,
    int workers,
    Duration igmpRejoin,
    Duration senderTimeout,
    ImageTrust trust,
    Optional<byte[]> joinProof,
    boolean check) {
  /** A sender announces twice a second; 30 s of silence is no hiccup. */
  public static final Duration DEFAULT_SENDER_TIMEOUT = Duration.ofSeconds(30);

  /** Re-join every minute: well inside the usual 260 s membership interval (RFC 3376 defaults). */
  public static final Duration DEFAULT_IGMP_REJOIN = Duration.ofSeconds(60);

  public ReceiveSettings {
    Objects.requireNonNull(trust, "trust");
    Objects.requireNonNull(joinProof, "joinProof");
    Objects.requireNonNull(interfaceName, "interfaceName");
    Objects.requireNonNull(output, "output");
    Objects.requireNonNull(name, "name");
    if (port < 1 || port > 65535)
      throw new IllegalArgumentException("port " + port + " out of 1..65535");
    if (workers < 1) throw new IllegalArgumentException("workers " + workers);
    if (joinTimeout.isNegative()) throw new IllegalArgumentException("join timeout negative");
    if (igmpRejoin.isNegative())
      throw new IllegalArgumentException("IGMP re-join interval negative");
    if (senderTimeout.isNegative() || senderTimeout.isZero())
      throw new IllegalArgumentException("sender timeout " + senderTimeout + ", want > 0");
  }
}

package org.clonecast.server.boot;

import java.time.Clock;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.dhcp.LeaseStore;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;

/**
 * Which address may fetch a node's netboot script, and so receive its per-boot secret
 * (docs/security.md, "Node identity"). What the daemon can know depends on its DHCP mode:
 *
 * <ul>
 *   <li>{@code full}: the address the node holds a lease on now, from the lease table. Nothing else
 *       moves it.
 *   <li>{@code proxy}: the site's DHCP server hands out addresses and we never see its ACK; what we
 *       see is the node's own PXE exchange with us: its port 4011 request (firmware and iPXE both
 *       send one from the address they were given, and a request whose ciaddr is not its source is
 *       ignored), and its authenticated agent's registration. The inventory's address of the node,
 *       which only these set, is the bound address. A host that forges a PXE request with the
 *       node's MAC from its own address can take that binding: proxy mode binds to whoever last
 *       spoke PXE for the MAC, not to a lease.
 *   <li>{@code off}: nobody here sees the node's DHCP. The node's reserved address ({@code node set
 *       --ip}) is the one the operator vouches for; without one, the address its authenticated
 *       agent last registered from.
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class NodeBinding {
  private final DhcpConfig.Mode mode;
  private final NodeStore nodes;
  private final Optional<LeaseStore> leases;
  private final Clock clock;

  /**
   * @param leases the lease table, for full mode
   */
  public NodeBinding(
      DhcpConfig.Mode mode, NodeStore nodes, Optional<LeaseStore> leases, Clock clock) {
    this.mode = Objects.requireNonNull(mode);
    this.nodes = Objects.requireNonNull(nodes);
    this.leases = Objects.requireNonNull(leases);
    this.clock = Objects.requireNonNull(clock);
    if (mode == DhcpConfig.Mode.FULL && leases.isEmpty()) {
      throw new IllegalArgumentException(
          "full DHCP mode binds nodes to their leases: give the lease store");
    }
  }

  /** The address {@code mac}'s netboot script may go to, if any. */
  public Optional<String> address(MacAddress mac) {
    Optional<Node> node = nodes.find(mac);
    return switch (mode) {
      case FULL -> leases.orElseThrow().boundAddress(mac, clock.millis());
      case PROXY -> node.flatMap(Node::ip);
      case OFF -> node.flatMap(n -> n.reservedIp().or(n::ip));
    };
  }

  /**
   * Whether a request from {@code from} comes from {@code mac}'s bound address. In proxy mode a
   * node that never sent us a port 4011 request has no bound address: iPXE takes its script's URL
   * from our proxy offer and asks for it at once (seen with the BIOS iPXE ROM beside dnsmasq), so
   * the script goes to whoever asks, and its per-boot secret revokes the one before. That is the
   * weakest case of proxy mode; docs/security.md says so.
   */
  public boolean holds(MacAddress mac, String from) {
    Optional<String> bound = address(mac);
    return bound.isPresent() ? bound.get().equals(from) : mode == DhcpConfig.Mode.PROXY;
  }

  /** What the bound address is, for messages: "its DHCP lease", ... */
  public String describe() {
    return switch (mode) {
      case FULL -> "the address holding its DHCP lease";
      case PROXY -> "the address its PXE request to port 4011 came from";
      case OFF -> "its reserved address (clonecast node set MAC --ip ADDRESS)";
    };
  }
}

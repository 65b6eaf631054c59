package org.clonecast.server.dhcp;

import java.net.Inet4Address;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;

/**
 * Notices leases that ended (expired, or released by the client) since the last look, for enrolled
 * nodes, and tells {@code ended} (name, address): the site's DNS then drops the records the lease
 * created (RFC 2136 updates). Leases end by the passing of time, so something has to look; the
 * daemon calls {@link #sweep} every few seconds.
 *
 * <p>Not thread-safe: one scheduler thread calls it.
 */
public final class LeaseExpiry {
  private final LeaseStore leases;
  private final NodeStore nodes;
  private final Clock clock;
  private final BiConsumer<String, Inet4Address> ended;

  /** Addresses seen bound at the last sweep, by owner. */
  private Map<Inet4Address, MacAddress> bound = new HashMap<>();

  public LeaseExpiry(
      LeaseStore leases, NodeStore nodes, Clock clock, BiConsumer<String, Inet4Address> ended) {
    this.leases = Objects.requireNonNull(leases);
    this.nodes = Objects.requireNonNull(nodes);
    this.clock = Objects.requireNonNull(clock);
    this.ended = Objects.requireNonNull(ended);
  }

  /** Compares the leases bound now with those of the last sweep; reports each one that ended. */
  public void sweep() {
    long now = clock.millis();
    Map<Inet4Address, MacAddress> current = new HashMap<>();
    for (Lease l : leases.loadAll()) {
      if (l.state() == Lease.State.BOUND && l.activeAt(now) && l.mac().isPresent()) {
        current.put(l.ip(), l.mac().get());
      }
    }
    for (Map.Entry<Inet4Address, MacAddress> was : bound.entrySet()) {
      if (!was.getValue().equals(current.get(was.getKey()))) {
        nodes
            .find(was.getValue())
            .filter(Node::enrolled)
            .flatMap(Node::name)
            .ifPresent(name -> ended.accept(name, was.getKey()));
      }
    }
    bound = current;
  }
}

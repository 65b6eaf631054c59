package org.clonecast.server.dhcp;

import java.net.Inet4Address;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;

/**
 * The node inventory as DHCP decides over it: an in-memory copy of the {@link NodeStore}, kept
 * current by the store's listener, so that answering a request reads no database and takes no lock
 * shared with HTTP, the dashboard and the agents. A write the store commits is seen here before the
 * writer's call returns.
 *
 * <p>Thread-safe: the store's writers update it, DHCP's event loop reads it.
 */
public final class Inventory implements AutoCloseable {
  private final Map<MacAddress, Node> nodes = new ConcurrentHashMap<>();

  /** Bumped whenever a reserved address appears, changes or goes. */
  private final AtomicLong reservationsVersion = new AtomicLong();

  private Runnable unfollow = () -> {};

  private Inventory() {}

  /** A fixed inventory of {@code nodes} (tests, and decisions over a known set). */
  public static Inventory of(Collection<Node> nodes) {
    Inventory i = new Inventory();
    nodes.forEach(n -> i.nodes.put(n.mac(), n));
    return i;
  }

  /** An inventory that follows {@code store}: its nodes now, and every committed change after. */
  public static Inventory following(NodeStore store) {
    Inventory i = new Inventory();
    // Listen first, then load: a change committed in between is applied by the listener, and the
    // load does not overwrite it (putIfAbsent).
    Consumer<NodeStore.NodeChange> listener = i::apply;
    store.listen(listener);
    i.unfollow = () -> store.unlisten(listener);
    store.list().forEach(n -> i.nodes.putIfAbsent(n.mac(), n));
    i.reservationsVersion.incrementAndGet();
    return i;
  }

  private void apply(NodeStore.NodeChange change) {
    if (change.after().isPresent()) {
      Node n = change.after().get();
      nodes.put(n.mac(), n);
    } else {
      change.before().ifPresent(n -> nodes.remove(n.mac()));
    }
    Optional<String> before = change.before().flatMap(Node::reservedIp);
    Optional<String> after = change.after().flatMap(Node::reservedIp);
    if (!before.equals(after)) {
      reservationsVersion.incrementAndGet();
    }
  }

  /** Stops following the store (a fixed inventory has nothing to stop). */
  @Override
  public void close() {
    unfollow.run();
  }

  /** The node of {@code mac}, if the inventory knows it. */
  public Optional<Node> find(MacAddress mac) {
    return Optional.ofNullable(nodes.get(Objects.requireNonNull(mac)));
  }

  /** Every reserved address: MAC to address. */
  public Map<MacAddress, Inet4Address> reservations() {
    Map<MacAddress, Inet4Address> out = new HashMap<>();
    for (Node n : nodes.values()) {
      n.reservedIp().ifPresent(ip -> out.put(n.mac(), Ipv4.parse(ip)));
    }
    return out;
  }

  /** Changes whenever {@link #reservations} would: a reader re-reads them only then. */
  long reservationsVersion() {
    return reservationsVersion.get();
  }
}

package org.clonecast.server.dns;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;

/**
 * The zone's hosts from the inventory: every enrolled node with a name and an IPv4 address (the
 * address it last had: DHCP keeps it current from leases). The list is read once and then only
 * after a {@link NodeStore} write that changed a name, an address or an enrollment, so a rename
 * shows up in the next answer and ordinary "last seen" writes cost nothing.
 *
 * <p>Thread-safe.
 */
public final class NodeDirectory implements HostDirectory {
  private final NodeStore store;
  private volatile boolean stale = true;
  private volatile List<Host> hosts = List.of();

  /** Reads from {@code store} and listens to its changes. */
  public NodeDirectory(NodeStore store) {
    this.store = Objects.requireNonNull(store);
    store.listen(
        c -> {
          if (!hostOf(c.before()).equals(hostOf(c.after()))) {
            stale = true;
          }
        });
  }

  @Override
  public List<Host> hosts() {
    if (stale) {
      synchronized (this) {
        if (stale) {
          // Cleared before reading: a change during the read marks it stale again.
          stale = false;
          hosts = load();
        }
      }
    }
    return hosts;
  }

  private List<Host> load() {
    List<Host> out = new ArrayList<>();
    for (Node n : store.list()) {
      hostOf(Optional.of(n)).ifPresent(out::add);
    }
    return List.copyOf(out);
  }

  /** The DNS entry of a node: present when it is enrolled and has a name and an IPv4 address. */
  public static Optional<Host> hostOf(Optional<Node> node) {
    if (node.isEmpty()
        || !node.get().enrolled()
        || node.get().name().isEmpty()
        || node.get().ip().isEmpty()) {
      return Optional.empty();
    }
    Inet4Address ip;
    try {
      ip = Ipv4.parse(node.get().ip().get());
    } catch (IllegalArgumentException e) {
      return Optional.empty(); // an IPv6 or garbled address: no A record
    }
    return Optional.of(new Host(node.get().name().get(), ip));
  }
}

package org.clonecast.server.dns;

import java.net.Inet4Address;
import java.util.List;
import java.util.Objects;

/**
 * The names the cluster zone answers for: one entry per (host name, IPv4 address) pair. A name may
 * appear with several addresses (it then has several A records).
 *
 * <p>Implementations are thread-safe. {@link #hosts()} is called for every query, so it must be
 * cheap: it returns the same list instance as long as nothing changed, which lets the resolver
 * rebuild its zone only on change.
 */
public interface HostDirectory {
  /** The current hosts, immutable; the same instance until the data changes. */
  List<Host> hosts();

  /**
   * One name and address.
   *
   * @param name a single DNS label (the node's host name), lower case
   * @param address its IPv4 address
   */
  record Host(String name, Inet4Address address) {
    public Host {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(address, "address");
    }
  }
}

package org.clonecast.server.dns;

import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.clonecast.server.config.DnsConfig;
import org.clonecast.server.store.NodeStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's cluster DNS, assembled: the zone from the inventory, the responder on the
 * provisioning address and 127.0.0.1 (when dns.enabled), the optional forwarder, and the optional
 * dynamic updates following every inventory change of a name or address (these run even with the
 * responder off, for sites that keep their own DNS).
 *
 * <p>Thread-safe after {@link #start}.
 */
public final class ClusterDns implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterDns.class);
  private static final Duration FORWARD_TIMEOUT = Duration.ofSeconds(2);

  private final DnsStats stats = new DnsStats();
  private final NodeDirectory directory;
  private final DnsAuthority authority;
  private final Optional<DnsUpdater> updater;
  private final NodeStore nodes;
  private final Consumer<NodeStore.NodeChange> listener;
  private DnsServer server;

  private ClusterDns(
      DnsConfig config,
      NodeStore nodes,
      Inet4Address address,
      int prefixLength,
      long initialSerial,
      Consumer<String> onUpdateFailure) {
    this.nodes = nodes;
    DnsZone.Spec spec =
        new DnsZone.Spec(DnsZone.Spec.origin(config.zone()), address, prefixLength, config.ttl());
    this.directory = new NodeDirectory(nodes);
    this.authority =
        new DnsAuthority(spec, directory, initialSerial, !config.forwarders().isEmpty());
    this.updater =
        config.update().map(u -> new DnsUpdater(u, config.ttl(), stats, onUpdateFailure));
    this.listener =
        c ->
            updater.ifPresent(
                u -> u.changed(NodeDirectory.hostOf(c.before()), NodeDirectory.hostOf(c.after())));
  }

  /**
   * Starts answering on {@code address} and 127.0.0.1 (when enabled), and sending updates (when
   * configured).
   *
   * @param initialSerial the first SOA serial (the daemon passes its start time in seconds)
   * @param onUpdateFailure told about each dynamic update given up (the daemon's event log)
   */
  public static ClusterDns start(
      DnsConfig config,
      EventLoopGroup group,
      NodeStore nodes,
      Inet4Address address,
      int prefixLength,
      long initialSerial,
      Consumer<String> onUpdateFailure)
      throws InterruptedException {
    ClusterDns d =
        new ClusterDns(config, nodes, address, prefixLength, initialSerial, onUpdateFailure);
    try {
      List<InetAddress> at = new ArrayList<>(List.of(address));
      InetAddress loopback = InetAddress.getLoopbackAddress();
      if (config.loopback() && !address.equals(loopback)) {
        at.add(loopback);
      }
      for (InetSocketAddress f : config.forwarders()) {
        if ((at.contains(f.getAddress()) || f.getAddress().isLoopbackAddress() && config.loopback())
            && f.getPort() == config.port()) {
          throw new IllegalArgumentException(
              "dns.forwarders names this server itself ("
                  + f.getAddress().getHostAddress()
                  + ":"
                  + f.getPort()
                  + "); queries would go round in circles. Name the site's resolvers instead");
        }
      }
      Optional<DnsForwarder> fwd =
          config.forwarders().isEmpty()
              ? Optional.empty()
              : Optional.of(new DnsForwarder(config.forwarders(), FORWARD_TIMEOUT));
      if (config.enabled()) {
        d.server = listen(group, at, config.port(), new DnsResponder(d.authority, d.stats), fwd);
      }
      nodes.listen(d.listener);
      // A server that missed changes while the daemon was down catches up on what exists now.
      d.updater.ifPresent(
          u -> {
            for (HostDirectory.Host h : d.directory.hosts()) {
              u.leaseStarted(h.name(), h.address());
            }
          });
      if (d.server != null) {
        LOG.info(
            "dns: zone {} (serial {}), reverse {}, on {} port {}{}",
            config.zone(),
            d.authority.zone().serial(),
            d.authority.zone().apexes().subList(1, d.authority.zone().apexes().size()),
            at.stream().map(InetAddress::getHostAddress).toList(),
            d.server.port(),
            fwd.isPresent() ? ", forwarding to " + config.forwarders() : ", other names REFUSED");
      }
      config
          .update()
          .ifPresent(
              u ->
                  LOG.info(
                      "dns: updates of {}{} to {}:{}",
                      u.zone(),
                      u.reverseZone().map(r -> " and " + r).orElse(""),
                      u.server().getAddress().getHostAddress(),
                      u.server().getPort()));
      return d;
    } catch (InterruptedException | RuntimeException e) {
      d.close();
      throw e;
    }
  }

  /** Binds, turning a refused bind into an error that says what to do. */
  private static DnsServer listen(
      EventLoopGroup group,
      List<InetAddress> at,
      int port,
      DnsResponder responder,
      Optional<DnsForwarder> fwd)
      throws InterruptedException {
    try {
      return DnsServer.start(group, at, port, responder, fwd);
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      // Netty rethrows bind errors (BindException, NativeIoException) without declaring them.
      if (e instanceof IOException) {
        throw new IllegalArgumentException(
            "dns: cannot listen on port "
                + port
                + " of "
                + at.stream().map(InetAddress::getHostAddress).toList()
                + ": "
                + e.getMessage()
                + "; another DNS server (dnsmasq, named, unbound) may hold it, and ports below 1024 need root."
                + " Stop it, or set dns.port, dns.loopback = false or dns.enabled = false",
            e);
      }
      throw e;
    }
  }

  /** Whether the responder runs (dns.enabled); without it only dynamic updates do. */
  public boolean answering() {
    return server != null;
  }

  /**
   * The port bound (UDP and TCP).
   *
   * @throws IllegalStateException when not {@link #answering()}
   */
  public int port() {
    if (server == null) {
      throw new IllegalStateException("the DNS responder is off (dns.enabled = false)");
    }
    return server.port();
  }

  public DnsStats stats() {
    return stats;
  }

  /** The zone as it is now. */
  public DnsZone zone() {
    return authority.zone();
  }

  /** Dynamic updates, when configured: the DHCP server reports lease starts and ends here. */
  public Optional<DnsUpdater> updater() {
    return updater;
  }

  @Override
  public void close() {
    nodes.unlisten(listener);
    if (server != null) {
      server.close();
    }
    updater.ifPresent(DnsUpdater::close);
  }
}

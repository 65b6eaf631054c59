package org.clonecast.server.config;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.clonecast.protocol.wire.Ipv4;

/**
 * The DHCP responder (docs/dhcp.md).
 *
 * @param mode full DHCP server, proxyDHCP beside the site's server (the default: safe on a shared
 *     network, it answers only network-boot clients and hands out no address), or off
 * @param range the pool on the provisioning interface's subnet; required in full mode
 * @param leaseSeconds lease time (option 51); T1 and T2 (58, 59) are 1/2 and 7/8 of it
 * @param router default gateway for the provisioning subnet (option 3), if any
 * @param dns DNS servers (option 6), possibly none
 * @param domain domain name (option 15), if any
 * @param port UDP port for DHCP (67; tests may move it)
 * @param proxyPort UDP port for PXE boot-server requests (4011)
 * @param relays subnets behind DHCP relays (giaddr), each with its own pool
 *     <p>Immutable; thread-safe. Whether the range lies on the interface's subnet is checked when
 *     the daemon starts (the interface is known only then).
 */
public record DhcpConfig(
    Mode mode,
    Optional<Range> range,
    int leaseSeconds,
    Optional<Inet4Address> router,
    List<Inet4Address> dns,
    Optional<String> domain,
    int port,
    int proxyPort,
    List<RelaySubnet> relays) {

  public static final int DEFAULT_LEASE_SECONDS = 3600;

  /**
   * This config with the cluster DNS as the nodes' resolver: option 6 names {@code server} and
   * option 15 the {@code zone}, unless dhcp.dns or dhcp.domain say otherwise.
   */
  public DhcpConfig withClusterDns(Inet4Address server, String zone) {
    return new DhcpConfig(
        mode,
        range,
        leaseSeconds,
        router,
        dns.isEmpty() ? List.of(server) : dns,
        domain.isPresent() ? domain : Optional.of(zone),
        port,
        proxyPort,
        relays);
  }

  /** Most addresses in one range: the lease table scans its pool, so keep it at a /16. */
  public static final int MAX_RANGE = 65536;

  /** How the responder runs. */
  public enum Mode {
    FULL,
    PROXY,
    OFF;

    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * An inclusive address range.
   *
   * @param first the lowest address
   * @param last the highest address
   */
  public record Range(Inet4Address first, Inet4Address last) {
    public Range {
      Objects.requireNonNull(first);
      Objects.requireNonNull(last);
      if (Integer.compareUnsigned(Ipv4.toInt(first), Ipv4.toInt(last)) > 0) {
        throw new ConfigException(
            "range "
                + first.getHostAddress()
                + ","
                + last.getHostAddress()
                + " ends before it starts");
      }
      if (Integer.toUnsignedLong(Ipv4.toInt(last) - Ipv4.toInt(first)) >= MAX_RANGE) {
        throw new ConfigException(
            "range "
                + first.getHostAddress()
                + ","
                + last.getHostAddress()
                + " holds more than "
                + MAX_RANGE
                + " addresses; use a smaller range");
      }
    }

    /** Whether {@code a} is in the range. */
    public boolean contains(Inet4Address a) {
      int v = Ipv4.toInt(a);
      return Integer.compareUnsigned(v, Ipv4.toInt(first)) >= 0
          && Integer.compareUnsigned(v, Ipv4.toInt(last)) <= 0;
    }

    /** Number of addresses. */
    public int size() {
      return Ipv4.toInt(last) - Ipv4.toInt(first) + 1;
    }

    /**
     * Parses "FIRST,LAST".
     *
     * @throws ConfigException naming {@code key} and the expected form
     */
    static Range parse(ConfigFile f, String key, String text) {
      String[] parts = text.split(",", -1);
      if (parts.length != 2) {
        throw f.bad(key, text, "FIRST,LAST, e.g. 10.77.0.100,10.77.0.150");
      }
      try {
        return new Range(Ipv4.parse(parts[0]), Ipv4.parse(parts[1]));
      } catch (IllegalArgumentException e) {
        throw f.bad(key, text, "FIRST,LAST as IPv4 addresses, e.g. 10.77.0.100,10.77.0.150");
      }
    }

    @Override
    public String toString() {
      return first.getHostAddress() + "-" + last.getHostAddress();
    }
  }

  /**
   * A subnet reached through a DHCP relay (its giaddr is inside it).
   *
   * @param name the config key part: dhcp.relay.NAME.*
   * @param network the network address
   * @param prefix the prefix length, 8-30
   * @param range its pool, inside the subnet
   * @param router its default gateway (option 3), usually the relay's address
   */
  public record RelaySubnet(
      String name, Inet4Address network, int prefix, Range range, Optional<Inet4Address> router) {
    public RelaySubnet {
      if (prefix < 8 || prefix > 30) {
        throw new ConfigException(
            "dhcp.relay." + name + ".subnet prefix /" + prefix + " is invalid; use /8 to /30");
      }
      if (!Ipv4.sameSubnet(network, range.first(), prefix)
          || !Ipv4.sameSubnet(network, range.last(), prefix)) {
        throw new ConfigException(
            "dhcp.relay."
                + name
                + ".range "
                + range
                + " is outside its subnet "
                + network.getHostAddress()
                + "/"
                + prefix);
      }
    }
  }

  public DhcpConfig {
    Objects.requireNonNull(mode);
    Objects.requireNonNull(range);
    Objects.requireNonNull(router);
    dns = List.copyOf(dns);
    Objects.requireNonNull(domain);
    relays = List.copyOf(relays);
    if (mode == Mode.FULL && range.isEmpty()) {
      throw new ConfigException(
          "--dhcp full needs a pool: pass --range FIRST,LAST or set dhcp.range = FIRST,LAST");
    }
    if (leaseSeconds < 60) {
      throw new ConfigException(
          "dhcp.lease-time " + leaseSeconds + " is too short; use 60 seconds or more");
    }
    if (port < 0 || port > 65535 || proxyPort < 0 || proxyPort > 65535) {
      throw new ConfigException(
          "dhcp.port " + port + " / dhcp.proxy-port " + proxyPort + " out of range; use 1-65535");
    }
  }

  /** The defaults: proxy mode on the standard ports. */
  public static DhcpConfig defaults() {
    return new DhcpConfig(
        Mode.PROXY,
        Optional.empty(),
        DEFAULT_LEASE_SECONDS,
        Optional.empty(),
        List.of(),
        Optional.empty(),
        67,
        4011,
        List.of());
  }

  static DhcpConfig from(ConfigFile f) {
    String modeText = f.string("dhcp.mode", "proxy");
    Mode mode;
    try {
      mode = Mode.valueOf(modeText.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw f.bad("dhcp.mode", modeText, "full, proxy or off");
    }
    Optional<Range> range = f.string("dhcp.range").map(t -> Range.parse(f, "dhcp.range", t));
    List<RelaySubnet> relays = new ArrayList<>();
    Set<String> names = new TreeSet<>();
    for (String k : f.keysUnder("dhcp.relay.")) {
      String rest = k.substring("dhcp.relay.".length());
      int dot = rest.indexOf('.');
      if (dot > 0) {
        names.add(rest.substring(0, dot));
      }
    }
    for (String name : names) {
      String p = "dhcp.relay." + name + ".";
      String subnet =
          f.string(p + "subnet")
              .orElseThrow(
                  () ->
                      new ConfigException(
                          p + "subnet is missing; set it to NETWORK/PREFIX, e.g. 10.78.0.0/24"));
      String[] sp = subnet.split("/", -1);
      Inet4Address network;
      int prefix;
      try {
        network = Ipv4.parse(sp[0]);
        prefix = Integer.parseInt(sp[1]);
      } catch (RuntimeException e) {
        throw f.bad(p + "subnet", subnet, "NETWORK/PREFIX, e.g. 10.78.0.0/24");
      }
      Range r =
          Range.parse(
              f,
              p + "range",
              f.string(p + "range")
                  .orElseThrow(
                      () ->
                          new ConfigException(
                              p + "range is missing; set it to FIRST,LAST inside " + subnet)));
      relays.add(
          new RelaySubnet(
              name,
              network,
              prefix,
              r,
              f.string(p + "router").map(t -> address(f, p + "router", t))));
    }
    List<Inet4Address> dns = new ArrayList<>();
    for (String d : f.string("dhcp.dns", "").split(",")) {
      if (!d.isBlank()) {
        dns.add(address(f, "dhcp.dns", d));
      }
    }
    return new DhcpConfig(
        mode,
        range,
        f.integer("dhcp.lease-time", DEFAULT_LEASE_SECONDS, 60, Integer.MAX_VALUE),
        f.string("dhcp.router").map(t -> address(f, "dhcp.router", t)),
        dns,
        f.string("dhcp.domain"),
        f.integer("dhcp.port", 67, 0, 65535),
        f.integer("dhcp.proxy-port", 4011, 0, 65535),
        relays);
  }

  private static Inet4Address address(ConfigFile f, String key, String text) {
    try {
      return Ipv4.parse(text);
    } catch (IllegalArgumentException e) {
      throw f.bad(key, text, "an IPv4 address like 10.77.0.1");
    }
  }
}

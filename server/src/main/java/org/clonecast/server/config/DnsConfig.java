package org.clonecast.server.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * The cluster DNS responder (docs/dns.md): authoritative for {@code zone} and the provisioning
 * subnet's reverse zone, REFUSED for every other name unless {@code forwarders} are set.
 *
 * @param enabled whether the daemon answers DNS at all (default: on in full DHCP mode, which hands
 *     it out as the nodes' DNS server; off otherwise, where the site's DHCP names the site's DNS)
 * @param port UDP and TCP port on the provisioning address and on 127.0.0.1 (0 picks one, for
 *     tests)
 * @param loopback whether to answer on 127.0.0.1 too (off when the head node runs its own local
 *     resolver there)
 * @param zone the cluster's zone, e.g. {@code cluster.internal}, without the trailing dot
 * @param ttl TTL of every answer, in seconds; short, so renames reach caches quickly
 * @param forwarders upstream resolvers for names outside the zone (port 53 unless given); empty =
 *     never an open resolver
 * @param update RFC 2136 updates to the site's own DNS server, if configured
 */
public record DnsConfig(
    boolean enabled,
    int port,
    boolean loopback,
    String zone,
    int ttl,
    List<InetSocketAddress> forwarders,
    Optional<DnsUpdateConfig> update) {
  public static final int DEFAULT_PORT = 53;
  public static final String DEFAULT_ZONE = "cluster.internal";
  public static final int DEFAULT_TTL = 60;

  /** A DNS name of LDH labels, 1-63 characters each, at most 253 in all (RFC 1035 §2.3.1). */
  static final String NAME_PATTERN =
      "(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*";

  public DnsConfig {
    if (port < 0 || port > 65535) {
      throw new ConfigException("dns.port " + port + " is out of range; use 1-65535");
    }
    Objects.requireNonNull(zone, "zone");
    if (!zone.matches(NAME_PATTERN)) {
      throw new ConfigException(
          "dns.zone "
              + zone
              + " is not a DNS name; use letters, digits, '-' and dots, e.g. cluster.internal");
    }
    if (ttl < 0 || ttl > 604_800) {
      throw new ConfigException("dns.ttl " + ttl + " is out of range; use 0-604800 seconds");
    }
    forwarders = List.copyOf(forwarders);
    Objects.requireNonNull(update, "update");
  }

  static DnsConfig from(ConfigFile f, boolean fullDhcp) {
    return new DnsConfig(
        f.bool("dns.enabled", fullDhcp),
        f.integer("dns.port", DEFAULT_PORT, 0, 65535),
        f.bool("dns.loopback", true),
        f.string("dns.zone", DEFAULT_ZONE).toLowerCase(Locale.ROOT).replaceAll("\\.$", ""),
        f.integer("dns.ttl", DEFAULT_TTL, 0, 604_800),
        servers(f, "dns.forwarders"),
        DnsUpdateConfig.from(f));
  }

  /** A comma- or space-separated list of IP[:port] (IPv6 as [addr]:port). */
  private static List<InetSocketAddress> servers(ConfigFile f, String key) {
    List<InetSocketAddress> out = new ArrayList<>();
    Optional<String> v = f.string(key);
    if (v.isPresent()) {
      for (String s : v.get().split("[,\\s]+")) {
        if (!s.isEmpty()) {
          out.add(hostPort(f, key, s));
        }
      }
    }
    return out;
  }

  /**
   * One literal IP address with an optional port (53 by default). Names are not accepted: the DNS
   * server must not depend on DNS to start.
   */
  static InetSocketAddress hostPort(ConfigFile f, String key, String s) {
    String host = s;
    int port = DEFAULT_PORT;
    int colon = s.lastIndexOf(':');
    if (s.startsWith("[")) {
      int close = s.indexOf(']');
      if (close < 0) throw f.bad(key, s, "an IP address, optionally with :port");
      host = s.substring(1, close);
      if (close + 1 < s.length()) {
        if (s.charAt(close + 1) != ':') throw f.bad(key, s, "an IP address, optionally with :port");
        port = port(f, key, s, s.substring(close + 2));
      }
    } else if (colon > 0 && s.indexOf(':') == colon) {
      host = s.substring(0, colon);
      port = port(f, key, s, s.substring(colon + 1));
    }
    if (!host.matches("[0-9.]+|[0-9A-Fa-f:.]+") || host.isEmpty()) {
      throw f.bad(key, s, "an IP address (not a name), optionally with :port");
    }
    try {
      return new InetSocketAddress(InetAddress.getByName(host), port);
    } catch (UnknownHostException e) {
      throw f.bad(key, s, "an IP address, optionally with :port");
    }
  }

  private static int port(ConfigFile f, String key, String s, String p) {
    try {
      int port = Integer.parseInt(p);
      if (port >= 1 && port <= 65535) return port;
    } catch (NumberFormatException e) {
      // reported below
    }
    throw f.bad(key, s, "a port from 1 to 65535 after ':'");
  }
}

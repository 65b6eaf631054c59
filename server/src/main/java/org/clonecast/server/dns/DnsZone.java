package org.clonecast.server.dns;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.clonecast.protocol.wire.Ipv4;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.NSRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.NameTooLongException;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.RRset;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * One immutable snapshot of the cluster's zones: the forward zone (SOA, NS, {@code ns.<zone>} A,
 * one A per host) and the reverse zones of the provisioning subnet (SOA, NS, one PTR per host
 * address inside them). Names compare case-insensitively (dnsjava's {@link Name}).
 *
 * <p>Reverse zones are cut at octet boundaries (RFC 1035 §3.5): a /24 or longer prefix gives one
 * {@code c.b.a.in-addr.arpa} zone, a /20 the sixteen /24 zones it covers, a /16 one {@code
 * b.a.in-addr.arpa} zone. A prefix longer than /24 still claims its whole /24 (no RFC 2317
 * classless delegation), so other addresses of that /24 get NXDOMAIN.
 *
 * <p>A host named {@code ns} is left out: that name belongs to this server (the zone's NS).
 *
 * <p>Thread-safe (immutable).
 */
public final class DnsZone {
  /** SOA timers (RFC 1912 §2.2 ranges); only secondaries would use them, and there are none. */
  private static final long REFRESH = 3600;

  private static final long RETRY = 600;
  private static final long EXPIRE = 86_400;

  /**
   * What the zone is built around.
   *
   * @param origin the forward zone, e.g. {@code cluster.internal.}
   * @param server this server's provisioning address ({@code ns.<origin>})
   * @param prefixLength the provisioning subnet's prefix, for the reverse zones
   * @param ttl TTL of every record, and the SOA minimum (negative-caching TTL, RFC 2308)
   */
  public record Spec(Name origin, Inet4Address server, int prefixLength, long ttl) {
    public Spec {
      Objects.requireNonNull(origin, "origin");
      Objects.requireNonNull(server, "server");
      if (!origin.isAbsolute()) {
        throw new IllegalArgumentException("zone " + origin + " must be absolute");
      }
      if (prefixLength < 0 || prefixLength > 32) {
        throw new IllegalArgumentException("prefix length " + prefixLength + " is not 0-32");
      }
      if (ttl < 0 || ttl > 0x7fffffffL) {
        throw new IllegalArgumentException("ttl " + ttl + " is out of range");
      }
    }

    /** The zone from a config string like {@code cluster.internal}. */
    public static Name origin(String zone) {
      try {
        return Name.fromString(zone.endsWith(".") ? zone : zone + ".");
      } catch (TextParseException e) {
        throw new IllegalArgumentException(
            "zone " + zone + " is not a DNS name: " + e.getMessage(), e);
      }
    }

    /** {@code ns.<origin>}: this server, the zones' name server. */
    public Name nsName() {
      return concat(Name.fromConstantString("ns"), origin);
    }
  }

  /** What a lookup found. */
  public enum Kind {
    /** Records of the asked type (or, for ANY, of every type) exist. */
    ANSWER,
    /** The name exists, but without that type: NOERROR with no answer (RFC 2308 §2.2). */
    NODATA,
    /** The name does not exist in the zone (RFC 2308 §2.1). */
    NXDOMAIN,
    /** The name lies outside every zone here. */
    NOT_AUTHORITATIVE
  }

  /**
   * A lookup's result.
   *
   * @param kind what was found
   * @param apex the zone the name is in (for the SOA in negative answers); null when not
   *     authoritative
   * @param answer the matching record sets, in a stable order
   */
  public record Lookup(Kind kind, Name apex, List<RRset> answer) {
    public Lookup {
      answer = List.copyOf(answer);
    }
  }

  private final Spec spec;
  private final long serial;
  private final List<Name> apexes;
  private final Map<Name, Map<Integer, RRset>> records;
  private final Set<Name> names;

  private DnsZone(
      Spec spec,
      long serial,
      List<Name> apexes,
      Map<Name, Map<Integer, RRset>> records,
      Set<Name> names) {
    this.spec = spec;
    this.serial = serial;
    this.apexes = List.copyOf(apexes);
    this.records = records;
    this.names = names;
  }

  /** Builds the zones for {@code hosts}; {@code serial} goes into every SOA. */
  public static DnsZone build(Spec spec, List<HostDirectory.Host> hosts, long serial) {
    List<Name> apexes = new ArrayList<>();
    apexes.add(spec.origin());
    apexes.addAll(reverseZones(spec.server(), spec.prefixLength()));
    Map<Name, Map<Integer, RRset>> recs = new HashMap<>();
    Name ns = spec.nsName();
    Name hostmaster = concat(Name.fromConstantString("hostmaster"), spec.origin());
    for (Name apex : apexes) {
      add(
          recs,
          new SOARecord(
              apex,
              DClass.IN,
              spec.ttl(),
              ns,
              hostmaster,
              serial & 0xffffffffL,
              REFRESH,
              RETRY,
              EXPIRE,
              spec.ttl()));
      add(recs, new NSRecord(apex, DClass.IN, spec.ttl(), ns));
    }
    add(recs, new ARecord(ns, DClass.IN, spec.ttl(), spec.server()));
    for (HostDirectory.Host h : hosts) {
      Name owner;
      try {
        owner = Name.concatenate(Name.fromString(h.name()), spec.origin());
      } catch (TextParseException | NameTooLongException e) {
        continue; // not a valid label: NodeStore only stores valid ones, so this is a foreign
        // directory's bug
      }
      if (owner.equals(ns)) {
        continue;
      }
      add(recs, new ARecord(owner, DClass.IN, spec.ttl(), h.address()));
      Name ptr = ReverseMap.fromAddress(h.address());
      if (apexFor(apexes, ptr) != null) {
        add(recs, new PTRRecord(ptr, DClass.IN, spec.ttl(), owner));
      }
    }
    Set<Name> names = new HashSet<>();
    for (Name owner : recs.keySet()) {
      Name apex = apexFor(apexes, owner);
      // The owner and every name between it and its apex exist (empty non-terminals, RFC 8020).
      for (Name n = owner; n.labels() >= apex.labels(); n = new Name(n, 1)) {
        names.add(n);
        if (n.equals(apex)) {
          break;
        }
      }
    }
    return new DnsZone(spec, serial, apexes, recs, names);
  }

  private static void add(Map<Name, Map<Integer, RRset>> recs, Record r) {
    Map<Integer, RRset> byType = recs.computeIfAbsent(r.getName(), k -> new LinkedHashMap<>());
    RRset set = byType.get(r.getType());
    if (set == null) {
      byType.put(r.getType(), new RRset(r));
    } else {
      set.addRR(r);
    }
  }

  /** The reverse zones that cover {@code address}/{@code prefix}, cut at octet boundaries. */
  static List<Name> reverseZones(Inet4Address address, int prefix) {
    int bits = prefix >= 24 ? 24 : (prefix + 7) / 8 * 8;
    if (bits == 0) {
      bits = 8;
    }
    int network = Ipv4.toInt(address) & (prefix == 0 ? 0 : -1 << (32 - prefix));
    int count = 1 << Math.max(0, bits - prefix);
    List<Name> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int base = network + (i << (32 - bits));
      StringBuilder sb = new StringBuilder();
      for (int octet = bits / 8 - 1; octet >= 0; octet--) {
        sb.append((base >>> (24 - 8 * octet)) & 0xff).append('.');
      }
      out.add(Name.fromConstantString(sb + "in-addr.arpa."));
    }
    return out;
  }

  private static Name apexFor(List<Name> apexes, Name name) {
    for (Name apex : apexes) {
      if (name.subdomain(apex)) {
        return apex;
      }
    }
    return null;
  }

  static Name concat(Name prefix, Name suffix) {
    try {
      return Name.concatenate(prefix, suffix);
    } catch (NameTooLongException e) {
      throw new IllegalArgumentException(prefix + "." + suffix + " is longer than 255 octets", e);
    }
  }

  /** The zone apex that holds {@code name}, if any. */
  public Optional<Name> apexOf(Name name) {
    return Optional.ofNullable(apexFor(apexes, name));
  }

  /**
   * Finds {@code type} records at {@code name}; {@link org.xbill.DNS.Type#ANY} matches every type.
   */
  public Lookup lookup(Name name, int type) {
    Name apex = apexFor(apexes, name);
    if (apex == null) {
      return new Lookup(Kind.NOT_AUTHORITATIVE, null, List.of());
    }
    if (!names.contains(name)) {
      return new Lookup(Kind.NXDOMAIN, apex, List.of());
    }
    Map<Integer, RRset> byType = records.getOrDefault(name, Map.of());
    List<RRset> answer = new ArrayList<>();
    if (type == Type.ANY) {
      answer.addAll(byType.values());
    } else if (byType.containsKey(type)) {
      answer.add(byType.get(type));
    }
    return new Lookup(answer.isEmpty() ? Kind.NODATA : Kind.ANSWER, apex, answer);
  }

  /** The SOA record of {@code apex} (one of {@link #apexes()}). */
  public SOARecord soa(Name apex) {
    return (SOARecord) records.get(apex).get(Type.SOA).first();
  }

  /** The forward zone first, then the reverse zones. */
  public List<Name> apexes() {
    return apexes;
  }

  public long serial() {
    return serial;
  }

  public Spec spec() {
    return spec;
  }
}

package org.clonecast.server.dhcp;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.DhcpConfig;

/**
 * The address machine of one subnet (RFC 2131 §4.3): pool, reservations, offers, leases, DECLINE,
 * RELEASE, and what a REQUEST in each client state gets. Input is the client's message and the
 * wall-clock time in epoch ms; output is a {@link Decision}, carrying the leases that changed and
 * must be stored before the reply leaves.
 *
 * <p>Leases are keyed by the MAC in chaddr, not by the client identifier (61): a node's PXE
 * firmware, then iPXE, then Linux each DHCP in turn and send different client ids (or none), but
 * the same chaddr, and all three must get the same address.
 *
 * <p>Invariant: an address has at most one record, so it is never held by two MACs at once; a MAC
 * holds at most one address (a new offer or lease frees its previous one).
 *
 * <p>Not thread-safe: one event loop owns it.
 */
public final class LeaseTable {
  /**
   * How long an offer holds its address for the client (RFC 2131 §4.3.1 leaves it to the server).
   */
  public static final long OFFER_HOLD_MILLIS = 30_000;

  /** Longest quarantine of a declined address. */
  public static final long QUARANTINE_MILLIS = 600_000;

  /** What to do with a message. */
  public sealed interface Decision {
    /** The leases to store (before replying); empty when nothing durable changed. */
    List<Lease> changes();

    /** Offer {@code ip} (DHCPOFFER). */
    record Offer(Inet4Address ip, List<Lease> changes) implements Decision {}

    /** Acknowledge {@code ip} for {@code leaseSeconds} (DHCPACK). */
    record Ack(Inet4Address ip, long leaseSeconds, List<Lease> changes) implements Decision {}

    /** Refuse (DHCPNAK): the client must start over. */
    record Nak(String reason) implements Decision {
      @Override
      public List<Lease> changes() {
        return List.of();
      }
    }

    /** Say nothing; {@code reason} is for the DEBUG log and the ignored counter. */
    record Ignore(String reason) implements Decision {
      @Override
      public List<Lease> changes() {
        return List.of();
      }
    }

    /** No reply, but store {@code changes} and log {@code event} (DECLINE, RELEASE). */
    record Noted(String event, List<Lease> changes) implements Decision {}
  }

  private final int network;
  private final int prefix;
  private final DhcpConfig.Range range;
  private final int self;
  private final long leaseSeconds;
  private final long quarantineMillis;
  private final Map<Integer, Lease> byIp = new HashMap<>();
  private final Map<MacAddress, Integer> byMac = new HashMap<>();
  private Map<MacAddress, Integer> reserved = Map.of();
  private Map<Integer, MacAddress> reservedBy = Map.of();

  /** The addresses whose records changed since {@link #markForMerge}; null when not marking. */
  private Set<Integer> changedSinceMark;

  /** Where the pool scan starts: addresses below it have been handed out at least once. */
  private long scanFrom;

  /**
   * This server's share of the pool's never-used addresses when several daemons serve it: those
   * whose offset in the range is {@code shareIndex} mod {@code shareOf}; see {@link #share}.
   */
  private int shareIndex;

  private int shareOf = 1;

  /** Where the scan of this server's share starts (at least {@link #scanFrom}). */
  private long shareScanFrom;

  /**
   * @param network any address of the subnet
   * @param prefix its prefix length
   * @param range the pool, inside the subnet
   * @param self this server's address on the subnet (the relay's for a relayed subnet), never
   *     handed out
   * @param leaseSeconds lease time
   */
  public LeaseTable(
      Inet4Address network,
      int prefix,
      DhcpConfig.Range range,
      Inet4Address self,
      long leaseSeconds) {
    if (!Ipv4.sameSubnet(network, range.first(), prefix)
        || !Ipv4.sameSubnet(network, range.last(), prefix)) {
      throw new IllegalArgumentException(
          "range " + range + " is outside " + network.getHostAddress() + "/" + prefix);
    }
    this.network = Ipv4.toInt(network) & mask(prefix);
    this.prefix = prefix;
    this.range = range;
    this.self = Ipv4.toInt(self);
    this.leaseSeconds = leaseSeconds;
    // A declined address stays out of use for a while (dnsmasq's 10 minutes), or one lease time if
    // shorter.
    this.quarantineMillis = Math.min(leaseSeconds * 1000, QUARANTINE_MILLIS);
    this.scanFrom = Integer.toUnsignedLong(Ipv4.toInt(range.first()));
  }

  private static int mask(int prefix) {
    return prefix == 0 ? 0 : -1 << (32 - prefix);
  }

  /** Whether {@code ip} is on this subnet. */
  public boolean onSubnet(Inet4Address ip) {
    return (Ipv4.toInt(ip) & mask(prefix)) == network;
  }

  /**
   * Whether {@code ip} is on this subnet and can be given to a host: not the network, broadcast or
   * server address.
   */
  public boolean assignable(Inet4Address ip) {
    int v = Ipv4.toInt(ip);
    return onSubnet(ip) && v != network && v != (network | ~mask(prefix)) && v != self;
  }

  /** Loads stored leases (at start); those outside this subnet are skipped and returned. */
  public List<Lease> load(Collection<Lease> stored) {
    List<Lease> skipped = new ArrayList<>();
    List<Lease> sorted = new ArrayList<>(stored);
    // Oldest first, so a MAC with several records points at its newest one.
    sorted.sort(Comparator.comparingLong(Lease::expiresMillis));
    for (Lease l : sorted) {
      if (!onSubnet(l.ip()) || l.state() == Lease.State.OFFERED) {
        skipped.add(l);
        continue;
      }
      put(l);
    }
    return skipped;
  }

  /**
   * Takes {@code l}, the stored row of its address, in place of what this table had for it: the
   * lease another daemon sharing the store gave (docs/scale.md), found when a write of ours was
   * refused or when the tables are brought up to date. False if the address is not on this subnet.
   */
  public boolean adopt(Lease l) {
    if (!onSubnet(l.ip()) || l.state() == Lease.State.OFFERED) {
      return false;
    }
    Lease current = byIp.get(Ipv4.toInt(l.ip()));
    if (current != null) {
      remove(current);
    }
    take(Ipv4.toInt(l.ip()));
    put(l);
    return true;
  }

  /**
   * Starts noting the addresses whose records change, until the next {@link #merge}: the store is
   * read for a merge while this table goes on deciding (docs/scale.md), and a row read then may be
   * older than what this table decided and stored meanwhile.
   */
  public void markForMerge() {
    changedSinceMark = new HashSet<>();
  }

  /**
   * Brings this table up to date with the stored rows (of every daemon sharing the store): each row
   * replaces this table's record of its address, except where this table holds a running offer the
   * row leaves free for the same client (our offer waits for its REQUEST; the store has no offers),
   * and except for addresses whose records changed since {@link #markForMerge} (this table's record
   * is then the newer). Rows off this subnet are skipped. Ends the marking.
   */
  public void merge(Collection<Lease> stored, long nowMillis) {
    Set<Integer> changed = changedSinceMark == null ? Set.of() : changedSinceMark;
    changedSinceMark = null;
    for (Lease l : stored) {
      if (!onSubnet(l.ip())
          || l.state() == Lease.State.OFFERED
          || changed.contains(Ipv4.toInt(l.ip()))) {
        continue;
      }
      Lease current = byIp.get(Ipv4.toInt(l.ip()));
      if (l.equals(current)) {
        continue;
      }
      if (current != null
          && current.state() == Lease.State.OFFERED
          && current.activeAt(nowMillis)
          && l.freeFor(current.mac().orElseThrow(), nowMillis)) {
        continue;
      }
      adopt(l);
    }
  }

  /**
   * Replaces the reservations (MAC → address). Entries off this subnet are ignored: they belong to
   * another subnet's table.
   */
  public void reservations(Map<MacAddress, Inet4Address> byMacAddress) {
    Map<MacAddress, Integer> r = new HashMap<>();
    Map<Integer, MacAddress> rb = new HashMap<>();
    byMacAddress.forEach(
        (mac, ip) -> {
          if (assignable(ip)) {
            r.put(mac, Ipv4.toInt(ip));
            rb.put(Ipv4.toInt(ip), mac);
          }
        });
    reserved = r;
    reservedBy = rb;
  }

  /** The record of {@code ip}, if any. */
  public Optional<Lease> lease(Inet4Address ip) {
    return Optional.ofNullable(byIp.get(Ipv4.toInt(ip)));
  }

  /** The address {@code mac} holds or last held, with its record. */
  public Optional<Lease> leaseOf(MacAddress mac) {
    Integer ip = byMac.get(mac);
    return ip == null ? Optional.empty() : Optional.ofNullable(byIp.get(ip));
  }

  /** Every record, for inspection and tests. */
  public Collection<Lease> leases() {
    return List.copyOf(byIp.values());
  }

  /**
   * DHCPDISCOVER: picks the address to offer. In order: the MAC's reservation; the address it holds
   * or last held; the address it asks for (50); a never-used pool address; the pool address whose
   * lease expired longest ago.
   */
  public Decision discover(MacAddress mac, Optional<Inet4Address> requested, long nowMillis) {
    Integer res = reserved.get(mac);
    if (res != null && usable(res, mac, nowMillis)) {
      return offer(mac, res, nowMillis);
    }
    Integer held = byMac.get(mac);
    if (held != null && inScope(held, mac) && usable(held, mac, nowMillis)) {
      return offer(mac, held, nowMillis);
    }
    if (requested.isPresent()) {
      int r = Ipv4.toInt(requested.get());
      if (range.contains(requested.get()) && usable(r, mac, nowMillis)) {
        return offer(mac, r, nowMillis);
      }
    }
    Integer free = findFree(mac, nowMillis);
    if (free == null) {
      return new Decision.Ignore(
          "pool " + range + " exhausted: every address is leased, offered or declined");
    }
    return offer(mac, free, nowMillis);
  }

  /**
   * DHCPREQUEST (RFC 2131 §4.3.2).
   *
   * @param serverId option 54: present when SELECTING (answering an offer)
   * @param requested option 50: SELECTING and INIT-REBOOT
   * @param ciaddr the client's address: RENEWING and REBINDING (0.0.0.0 otherwise)
   * @param ours whether {@code serverId} names this server
   */
  public Decision request(
      MacAddress mac,
      Optional<Inet4Address> serverId,
      boolean ours,
      Optional<Inet4Address> requested,
      Inet4Address ciaddr,
      long nowMillis) {
    if (serverId.isPresent() && !ours) {
      // The client chose another server's offer: forget ours at once, say nothing.
      Lease l = leaseOf(mac).orElse(null);
      if (l != null && l.state() == Lease.State.OFFERED) {
        remove(l);
      }
      return new Decision.Ignore("chose server " + serverId.get().getHostAddress());
    }
    boolean hasCiaddr = Ipv4.toInt(ciaddr) != 0;
    Optional<Inet4Address> asked =
        requested.isPresent() ? requested : hasCiaddr ? Optional.of(ciaddr) : Optional.empty();
    if (asked.isEmpty()) {
      return new Decision.Ignore("REQUEST names no address (no option 50, ciaddr 0)");
    }
    Inet4Address ip = asked.get();
    int v = Ipv4.toInt(ip);
    if (!assignable(ip)) {
      return new Decision.Nak(ip.getHostAddress() + " is not an address of this network");
    }
    MacAddress owner = reservedBy.get(v);
    if (owner != null && !owner.equals(mac)) {
      return new Decision.Nak(ip.getHostAddress() + " is reserved for " + owner);
    }
    Integer res = reserved.get(mac);
    if (res != null && res != v) {
      return new Decision.Nak(
          mac + " has the reserved address " + Ipv4.fromInt(res).getHostAddress());
    }
    Lease l = byIp.get(v);
    if (l != null && !l.freeFor(mac, nowMillis)) {
      return new Decision.Nak(
          ip.getHostAddress()
              + (l.mac().isPresent()
                  ? " is leased to " + l.mac().get()
                  : " is quarantined after a DECLINE"));
    }
    if (!inScope(v, mac)) {
      return new Decision.Nak(ip.getHostAddress() + " is outside the pool " + range);
    }
    boolean known = (l != null && l.mac().equals(Optional.of(mac))) || (res != null && res == v);
    if (serverId.isPresent()) {
      // SELECTING: the address must be the one we offered.
      Integer offered = byMac.get(mac);
      if (offered == null || offered != v) {
        return new Decision.Nak(
            "we offered "
                + mac
                + " "
                + (offered == null ? "nothing" : Ipv4.fromInt(offered).getHostAddress())
                + ", not "
                + ip.getHostAddress());
      }
    } else if (!known) {
      // INIT-REBOOT, RENEWING, REBINDING without any record of this client here: RFC 2131 §4.3.2
      // says stay silent.
      return new Decision.Ignore("no record of " + mac + " with " + ip.getHostAddress());
    }
    return bind(mac, v, nowMillis);
  }

  /** DHCPDECLINE: the client found {@code ip} in use; quarantine it. */
  public Decision decline(MacAddress mac, Inet4Address ip, long nowMillis) {
    Lease l = byIp.get(Ipv4.toInt(ip));
    if (l == null || !l.mac().equals(Optional.of(mac))) {
      return new Decision.Ignore(
          mac + " declined " + ip.getHostAddress() + ", which it does not hold");
    }
    remove(l);
    Lease q = new Lease(ip, Optional.empty(), Lease.State.DECLINED, nowMillis + quarantineMillis);
    put(q);
    return new Decision.Noted(
        "declined " + ip.getHostAddress() + ": quarantined until the DECLINE ages out", List.of(q));
  }

  /** DHCPRELEASE: the client gives {@code ip} back. */
  public Decision release(MacAddress mac, Inet4Address ip, long nowMillis) {
    Lease l = byIp.get(Ipv4.toInt(ip));
    if (l == null || !l.mac().equals(Optional.of(mac)) || l.state() != Lease.State.BOUND) {
      return new Decision.Ignore(
          mac + " released " + ip.getHostAddress() + ", which it does not hold");
    }
    Lease r = new Lease(ip, l.mac(), Lease.State.RELEASED, nowMillis);
    put(r);
    return new Decision.Noted("released " + ip.getHostAddress(), List.of(r));
  }

  /** Whether {@code v} may be handed to {@code mac} at all: in the pool, or its reservation. */
  private boolean inScope(int v, MacAddress mac) {
    Integer res = reserved.get(mac);
    return (res != null && res == v) || range.contains(Ipv4.fromInt(v));
  }

  /**
   * Whether {@code mac} may have {@code v} now: assignable, not someone else's reservation, free
   * for it.
   */
  private boolean usable(int v, MacAddress mac, long nowMillis) {
    MacAddress owner = reservedBy.get(v);
    if (owner != null && !owner.equals(mac)) {
      return false;
    }
    if (!assignable(Ipv4.fromInt(v))) {
      return false;
    }
    Lease l = byIp.get(v);
    return l == null || l.freeFor(mac, nowMillis);
  }

  /**
   * Makes this table hand out never-used addresses of its share first: those whose offset in the
   * range is {@code index} mod {@code of}. Daemons sharing a segment's clients (RFC 3074 load
   * balancing) each take new addresses from their own share, so two of them deciding at the same
   * moment from tables that have not yet learnt each other's leases do not offer one address to two
   * clients. When its share is used up a daemon takes the others' never-used addresses too (the
   * store still keeps an address to one holder).
   */
  public void share(int index, int of) {
    if (of < 1 || index < 0 || index >= of) {
      throw new IllegalArgumentException("share " + index + " of " + of);
    }
    if (index != shareIndex || of != shareOf) {
      shareIndex = index;
      shareOf = of;
      shareScanFrom = scanFrom;
    }
  }

  private Integer findFree(MacAddress mac, long nowMillis) {
    long last = Integer.toUnsignedLong(Ipv4.toInt(range.last()));
    if (shareOf > 1) {
      long first = Integer.toUnsignedLong(Ipv4.toInt(range.first()));
      for (long u = Math.max(shareScanFrom, scanFrom); u <= last; u++) {
        int v = (int) u;
        if ((u - first) % shareOf == shareIndex
            && !byIp.containsKey(v)
            && !reservedBy.containsKey(v)
            && assignable(Ipv4.fromInt(v))) {
          shareScanFrom = u;
          return v;
        }
      }
      shareScanFrom = last + 1;
    }
    // Never-used addresses first, so a returning client's old address stays free for it as long as
    // possible.
    for (long u = scanFrom; u <= last; u++) {
      int v = (int) u;
      if (!byIp.containsKey(v) && !reservedBy.containsKey(v) && assignable(Ipv4.fromInt(v))) {
        scanFrom = u;
        return v;
      }
    }
    scanFrom = last + 1;
    Integer best = null;
    long bestExpiry = Long.MAX_VALUE;
    for (Lease l : byIp.values()) {
      int v = Ipv4.toInt(l.ip());
      if (range.contains(l.ip())
          && !reservedBy.containsKey(v)
          && assignable(l.ip())
          && l.freeFor(mac, nowMillis)
          && l.expiresMillis() < bestExpiry) {
        best = v;
        bestExpiry = l.expiresMillis();
      }
    }
    return best;
  }

  private Decision offer(MacAddress mac, int v, long nowMillis) {
    List<Lease> changes = new ArrayList<>();
    Lease current = byIp.get(v);
    if (current != null
        && current.state() == Lease.State.BOUND
        && current.mac().equals(Optional.of(mac))
        && current.activeAt(nowMillis)) {
      return new Decision.Offer(Ipv4.fromInt(v), changes); // its running lease stays as it is
    }
    releasePrevious(mac, v, nowMillis, changes);
    take(v);
    put(
        new Lease(
            Ipv4.fromInt(v), Optional.of(mac), Lease.State.OFFERED, nowMillis + OFFER_HOLD_MILLIS));
    return new Decision.Offer(Ipv4.fromInt(v), changes);
  }

  private Decision bind(MacAddress mac, int v, long nowMillis) {
    List<Lease> changes = new ArrayList<>();
    releasePrevious(mac, v, nowMillis, changes);
    take(v);
    Lease l =
        new Lease(
            Ipv4.fromInt(v), Optional.of(mac), Lease.State.BOUND, nowMillis + leaseSeconds * 1000);
    put(l);
    changes.add(l);
    return new Decision.Ack(l.ip(), leaseSeconds, changes);
  }

  /**
   * Frees whatever {@code mac} held other than {@code v}: an offer is dropped, a lease released
   * (and stored).
   */
  private void releasePrevious(MacAddress mac, int v, long nowMillis, List<Lease> changes) {
    Integer prev = byMac.get(mac);
    if (prev == null || prev == v) {
      return;
    }
    Lease old = byIp.get(prev);
    if (old == null) {
      return;
    }
    if (old.state() == Lease.State.OFFERED) {
      remove(old);
    } else if (old.state() == Lease.State.BOUND) {
      Lease r = new Lease(old.ip(), old.mac(), Lease.State.RELEASED, nowMillis);
      put(r);
      changes.add(r);
    }
  }

  private void noteChange(int v) {
    if (changedSinceMark != null) {
      changedSinceMark.add(v);
    }
  }

  /** Drops the previous holder's association with {@code v} before {@code v} changes hands. */
  private void take(int v) {
    Lease l = byIp.get(v);
    if (l != null && l.mac().isPresent() && Objects.equals(byMac.get(l.mac().get()), v)) {
      byMac.remove(l.mac().get());
    }
  }

  private void put(Lease l) {
    int v = Ipv4.toInt(l.ip());
    noteChange(v);
    byIp.put(v, l);
    l.mac().ifPresent(m -> byMac.put(m, v));
  }

  private void remove(Lease l) {
    int v = Ipv4.toInt(l.ip());
    noteChange(v);
    byIp.remove(v);
    l.mac().ifPresent(m -> byMac.remove(m, v));
    if (range.contains(l.ip())) {
      // The address has no record again: let the never-used scan find it.
      scanFrom = Math.min(scanFrom, Integer.toUnsignedLong(v));
    }
  }
}

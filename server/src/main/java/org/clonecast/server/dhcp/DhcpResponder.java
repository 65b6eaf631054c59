package org.clonecast.server.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;

import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.protocol.dhcp.DhcpOption;
import org.clonecast.protocol.dhcp.DhcpPacket;
import org.clonecast.protocol.dhcp.DhcpPacketBuilder;
import org.clonecast.protocol.dhcp.Pxe;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.BootFile;
import org.clonecast.server.boot.BootFileSelector;
import org.clonecast.server.boot.BootPolicy;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.store.Node;

/**
 * Turns one DHCP request into at most one reply and the state changes to commit before it leaves:
 * leases, the inventory's "seen" updates, the event to log (RFC 2131 §4.3, PXE 2.1 §2.2). The
 * decision reads only memory: its lease tables and an {@link Inventory} snapshot; {@link
 * DhcpHandler} commits what it returns. Full mode serves addresses from a {@link LeaseTable} per
 * subnet (the provisioning interface's, and one per relayed subnet); proxy mode answers only
 * network-boot clients, with boot information and no address. Both answer PXE boot-server requests
 * on port 4011.
 *
 * <p>Not thread-safe: one event loop owns it (its lease tables are not shared).
 */
public final class DhcpResponder {
  /** A reply and where it goes. */
  public record Outgoing(DhcpPacket packet, InetSocketAddress to) {}

  /** A boot milestone for the event log. */
  public record Milestone(MacAddress mac, String message) {}

  /**
   * That a machine asked to boot from the network, for the inventory ({@link
   * org.clonecast.server.store.NodeStore#recordSeen}): a MAC never seen before is recorded as
   * discovered.
   *
   * @param arch the client class its firmware reported, if any
   * @param ip the address that is now its own, if any
   */
  public record Seen(MacAddress mac, Optional<String> arch, Optional<Inet4Address> ip) {
    public Seen {
      Objects.requireNonNull(mac, "mac");
      Objects.requireNonNull(arch, "arch");
      Objects.requireNonNull(ip, "ip");
    }
  }

  /**
   * What to do about one request.
   *
   * @param reply the reply, if any
   * @param changes leases to store before the reply leaves
   * @param seen inventory updates to store with them
   * @param event the event to record with them, if any
   * @param ignored why nothing is sent, when nothing is (for the DEBUG log)
   */
  public record Result(
      Optional<Outgoing> reply,
      List<Lease> changes,
      List<Seen> seen,
      Optional<Milestone> event,
      Optional<String> ignored) {
    public Result {
      changes = List.copyOf(changes);
      seen = List.copyOf(seen);
    }

    static Result ignore(String why) {
      return ignore(why, List.of());
    }

    static Result ignore(String why, List<Seen> seen) {
      return new Result(Optional.empty(), List.of(), seen, Optional.empty(), Optional.of(why));
    }

    /** Whether there is anything to commit. */
    public boolean changesState() {
      return !changes.isEmpty() || !seen.isEmpty() || event.isPresent();
    }
  }

  /** A subnet this server hands addresses on, with what its clients are told. */
  record Scope(
      LeaseTable table, int prefix, Inet4Address broadcast, Optional<Inet4Address> router) {}

  private final DhcpConfig config;
  private final Inet4Address self;
  private final int selfPrefix;
  private final BootFileSelector boot;
  private final Scope local;
  private final List<Scope> relayed = new ArrayList<>();

  /**
   * Which clients' DISCOVERs this server answers when several daemons serve the segment (RFC 3074
   * load balancing, docs/scale.md): each client's MAC hashes to one of 256 buckets, bucket b
   * belongs to the daemon at index b mod {@code of} among them (by id), and a client that has been
   * trying for {@link #SECS_ANYONE} seconds or more is answered by all (its own daemon may have
   * just died). Alone, it answers every client.
   */
  public record Balance(int index, int of) {
    /** A client that has been trying this long (secs) is answered whoever's bucket it is in. */
    public static final int SECS_ANYONE = 10;

    public static final Balance ALONE = new Balance(0, 1);

    public Balance {
      if (of < 1 || index < 0 || index >= of) {
        throw new IllegalArgumentException("daemon " + index + " of " + of);
      }
    }

    /** Whether this server answers {@code mac}'s DISCOVER, {@code secs} into its attempt. */
    public boolean answers(MacAddress mac, int secs) {
      return of == 1 || secs >= SECS_ANYONE || bucket(mac) % of == index;
    }

    /** {@code mac}'s bucket, 0-255: FNV-1a over its six bytes, folded to a byte. */
    public static int bucket(MacAddress mac) {
      int h = 0x811c9dc5;
      for (byte b : mac.toBytes()) {
        h = (h ^ (b & 0xff)) * 0x01000193;
      }
      return (h ^ h >>> 8 ^ h >>> 16 ^ h >>> 24) & 0xff;
    }
  }

  private volatile Balance balance = Balance.ALONE;

  /** The {@link Inventory#reservationsVersion} the lease tables hold; -1 before the first read. */
  private long reservationsVersion = -1;

  /**
   * @param self this server's address on the provisioning interface (option 54, siaddr)
   * @param prefix that interface's prefix length
   * @param leases the stored leases, loaded into the tables of their subnets
   */
  public DhcpResponder(
      DhcpConfig config, Inet4Address self, int prefix, BootFileSelector boot, List<Lease> leases) {
    this.config = Objects.requireNonNull(config);
    this.self = Objects.requireNonNull(self);
    this.selfPrefix = prefix;
    this.boot = Objects.requireNonNull(boot);
    if (config.mode() == DhcpConfig.Mode.FULL) {
      DhcpConfig.Range range = config.range().orElseThrow();
      if (!Ipv4.sameSubnet(self, range.first(), prefix)
          || !Ipv4.sameSubnet(self, range.last(), prefix)) {
        throw new IllegalArgumentException(
            "dhcp.range "
                + range
                + " is outside the provisioning subnet "
                + subnet(self, prefix)
                + "; choose addresses in it");
      }
      local =
          new Scope(
              new LeaseTable(self, prefix, range, self, config.leaseSeconds()),
              prefix,
              Ipv4.broadcast(self, prefix),
              config.router());
      List<Lease> rest = local.table().load(leases);
      List<String> seen = new ArrayList<>(List.of(subnet(self, prefix)));
      for (DhcpConfig.RelaySubnet r : config.relays()) {
        int shorter = Math.min(prefix, r.prefix());
        if (Ipv4.sameSubnet(self, r.network(), shorter)) {
          throw new IllegalArgumentException(
              "dhcp.relay."
                  + r.name()
                  + ".subnet "
                  + subnet(r.network(), r.prefix())
                  + " overlaps the provisioning subnet "
                  + subnet(self, prefix)
                  + "; relayed subnets lie behind a router");
        }
        for (Scope other : relayed) {
          if (other.table().onSubnet(r.network())
              || Ipv4.sameSubnet(r.network(), other.broadcast(), r.prefix())) {
            throw new IllegalArgumentException(
                "dhcp.relay."
                    + r.name()
                    + ".subnet "
                    + subnet(r.network(), r.prefix())
                    + " overlaps another relayed subnet ("
                    + String.join(", ", seen)
                    + "); give each relay its own subnet");
          }
        }
        seen.add(subnet(r.network(), r.prefix()));
        LeaseTable t =
            new LeaseTable(r.network(), r.prefix(), r.range(), self, config.leaseSeconds());
        rest = t.load(rest);
        relayed.add(new Scope(t, r.prefix(), Ipv4.broadcast(r.network(), r.prefix()), r.router()));
      }
    } else {
      local = null;
    }
  }

  /**
   * Takes stored rows in place of what the lease tables had for their addresses (see {@link
   * LeaseTable#adopt}): after a write of ours was refused because another daemon's client holds the
   * address.
   */
  public void adopt(List<Lease> stored) {
    for (Lease l : stored) {
      for (Scope s : scopes()) {
        if (s.table().adopt(l)) {
          break;
        }
      }
    }
  }

  /**
   * Starts noting which addresses the tables change until the next {@link #merge} (see {@link
   * LeaseTable#markForMerge}): call it before the store is read for that merge.
   */
  public void markForMerge() {
    for (Scope s : scopes()) {
      s.table().markForMerge();
    }
  }

  /** Brings the lease tables up to date with the store's rows (see {@link LeaseTable#merge}). */
  public void merge(List<Lease> stored, long nowMillis) {
    for (Scope s : scopes()) {
      s.table().merge(stored, nowMillis);
    }
  }

  private List<Scope> scopes() {
    List<Scope> all = new ArrayList<>();
    if (local != null) {
      all.add(local);
    }
    all.addAll(relayed);
    return all;
  }

  private static String subnet(Inet4Address a, int prefix) {
    return Ipv4.fromInt(Ipv4.toInt(a) & (prefix == 0 ? 0 : -1 << (32 - prefix))).getHostAddress()
        + "/"
        + prefix;
  }

  /**
   * Checks an address an operator wants to reserve.
   *
   * @return the problem, or empty when it is an assignable address of a served subnet
   */
  public static Optional<String> reservationProblem(
      DhcpConfig config, Inet4Address self, int prefix, Inet4Address ip) {
    List<String> subnets = new ArrayList<>();
    subnets.add(subnet(self, prefix));
    if (Ipv4.sameSubnet(self, ip, prefix)) {
      return assignableIn(ip, self, prefix, self);
    }
    for (DhcpConfig.RelaySubnet r : config.relays()) {
      subnets.add(subnet(r.network(), r.prefix()));
      if (Ipv4.sameSubnet(r.network(), ip, r.prefix())) {
        return assignableIn(ip, r.network(), r.prefix(), self);
      }
    }
    return Optional.of(
        ip.getHostAddress()
            + " is outside the DHCP subnets "
            + String.join(", ", subnets)
            + "; reserve an address in one of them");
  }

  private static Optional<String> assignableIn(
      Inet4Address ip, Inet4Address net, int prefix, Inet4Address self) {
    int v = Ipv4.toInt(ip);
    int mask = prefix == 0 ? 0 : -1 << (32 - prefix);
    if (v == (Ipv4.toInt(net) & mask) || v == (Ipv4.toInt(net) | ~mask) || ip.equals(self)) {
      return Optional.of(
          ip.getHostAddress()
              + " is the network, broadcast or server address of "
              + subnet(net, prefix)
              + "; reserve a host address");
    }
    return Optional.empty();
  }

  /** Sets which clients' DISCOVERs this server answers (see {@link Balance}). */
  public void balance(Balance b) {
    balance = Objects.requireNonNull(b);
  }

  /**
   * Decides about one request.
   *
   * @param from the datagram's source
   * @param bootPort whether it came to the PXE boot-server port (4011)
   * @param inventory the nodes as they are now; read, never written
   */
  public Result handle(
      DhcpPacket p, InetSocketAddress from, boolean bootPort, Inventory inventory, long nowMillis) {
    if (p.op() != BOOTREQUEST) {
      return Result.ignore("op " + p.op() + " is not BOOTREQUEST");
    }
    Optional<DhcpMessageType> type = p.messageType();
    if (type.isEmpty()) {
      return Result.ignore("no DHCP message type (plain BOOTP is not served)");
    }
    Optional<MacAddress> mac = p.mac();
    if (mac.isEmpty()) {
      return Result.ignore(
          "chaddr is not an Ethernet MAC (htype " + p.htype() + ", hlen " + p.hlen() + ")");
    }
    boolean bootClient = Pxe.isBootClient(p);
    if (bootPort) {
      if (type.get() != DhcpMessageType.REQUEST && type.get() != DhcpMessageType.INFORM
          || !bootClient) {
        return Result.ignore("port " + PXE_PORT + " serves only REQUESTs of network-boot clients");
      }
      if (Ipv4.toInt(p.ciaddr()) != 0 && !p.ciaddr().equals(from.getAddress())) {
        // Every real client sends this request from its own address (EDK2 from ciaddr:4011, iPXE
        // from ciaddr:68), also across routers. One naming another host's ciaddr would make us
        // send that host an ACK it never asked for and record its address for this MAC.
        return Result.ignore(
            "port "
                + PXE_PORT
                + " request with ciaddr "
                + p.ciaddr().getHostAddress()
                + " from "
                + from.getAddress().getHostAddress()
                + ": answered only when ciaddr is the sender's own address");
      }
      return bootAck(p, mac.get(), from, true, inventory);
    }
    if (config.mode() == DhcpConfig.Mode.PROXY) {
      return proxy(p, type.get(), mac.get(), from, bootClient, inventory);
    }
    Optional<Scope> scope = scope(p);
    if (scope.isEmpty()) {
      return Result.ignore(
          "relay " + p.giaddr().getHostAddress() + " is on no configured subnet (dhcp.relay.*)");
    }
    refreshReservations(inventory);
    LeaseTable t = scope.get().table();
    MacAddress m = mac.get();
    return switch (type.get()) {
      case DISCOVER -> {
        Balance b = balance;
        t.share(b.index(), b.of());
        if (!b.answers(m, p.secs())) {
          yield Result.ignore(
              "bucket "
                  + Balance.bucket(m)
                  + " is another daemon's of the "
                  + b.of()
                  + " serving this segment (load balancing)");
        }
        LeaseTable.Decision d = t.discover(m, p.address(OPT_REQUESTED_IP), nowMillis);
        if (d instanceof LeaseTable.Decision.Offer o) {
          yield addressReply(
              p, m, DhcpMessageType.OFFER, o.ip(), o.changes(), scope.get(), bootClient, inventory);
        }
        yield ignored(d);
      }
      case REQUEST -> {
        Optional<Inet4Address> sid = p.address(OPT_SERVER_ID);
        LeaseTable.Decision d =
            t.request(
                m,
                sid,
                sid.map(self::equals).orElse(false),
                p.address(OPT_REQUESTED_IP),
                p.ciaddr(),
                nowMillis);
        if (d instanceof LeaseTable.Decision.Ack a) {
          yield addressReply(
              p, m, DhcpMessageType.ACK, a.ip(), a.changes(), scope.get(), bootClient, inventory);
        }
        if (d instanceof LeaseTable.Decision.Nak n) {
          yield nak(p, m, n.reason());
        }
        yield ignored(d);
      }
      case DECLINE ->
          noted(
              m,
              p.address(OPT_REQUESTED_IP)
                  .map(ip -> t.decline(m, ip, nowMillis))
                  .orElse(new LeaseTable.Decision.Ignore("DECLINE without option 50")));
      case RELEASE -> noted(m, t.release(m, p.ciaddr(), nowMillis));
      case INFORM -> inform(p, m, scope.get(), bootClient, inventory);
      default -> Result.ignore(type.get() + " is a server message");
    };
  }

  private Optional<Scope> scope(DhcpPacket p) {
    if (Ipv4.toInt(p.giaddr()) == 0 || Ipv4.sameSubnet(p.giaddr(), self, selfPrefix)) {
      return Optional.of(local);
    }
    for (Scope s : relayed) {
      if (s.table().onSubnet(p.giaddr())) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }

  private void refreshReservations(Inventory inventory) {
    long version = inventory.reservationsVersion();
    if (version == reservationsVersion) {
      return;
    }
    reservationsVersion = version;
    var r = inventory.reservations();
    local.table().reservations(r);
    for (Scope s : relayed) {
      s.table().reservations(r);
    }
  }

  private static Result ignored(LeaseTable.Decision d) {
    return Result.ignore(d instanceof LeaseTable.Decision.Ignore i ? i.reason() : d.toString());
  }

  private static Result noted(MacAddress mac, LeaseTable.Decision d) {
    if (d instanceof LeaseTable.Decision.Noted n) {
      return new Result(
          Optional.empty(),
          n.changes(),
          List.of(),
          Optional.of(new Milestone(mac, n.event())),
          Optional.empty());
    }
    return ignored(d);
  }

  /** Proxy mode: boot information for network-boot clients, no address. */
  private Result proxy(
      DhcpPacket p,
      DhcpMessageType type,
      MacAddress mac,
      InetSocketAddress from,
      boolean bootClient,
      Inventory inventory) {
    if (!bootClient) {
      return Result.ignore(
          "proxy mode answers only network-boot clients (option 60 PXEClient/HTTPClient or 93)");
    }
    if (type == DhcpMessageType.DISCOVER) {
      List<Seen> seen = List.of(seen(p, mac, DhcpPacket.ZERO));
      Optional<BootFile> f = bootFile(p, mac, inventory);
      if (f.isEmpty()) {
        return Result.ignore("nothing to boot for " + Pxe.arch(p).id(), seen);
      }
      DhcpPacketBuilder b =
          DhcpPacketBuilder.replyTo(p)
              .type(DhcpMessageType.OFFER)
              .option(new DhcpOption.Address(OPT_SERVER_ID, self));
      bootOptions(b, p, f.get(), true);
      return send(
          b.build(),
          destination(p, DhcpMessageType.OFFER, false, from),
          List.of(),
          seen,
          new Milestone(mac, "proxy offer: " + f.get().file() + " (" + f.get().reason() + ")"));
    }
    if (type == DhcpMessageType.REQUEST
        && p.address(OPT_SERVER_ID).map(self::equals).orElse(false)) {
      // Some ROMs send their REQUEST to the proxy on port 67 instead of 4011; answer it the same
      // way.
      return bootAck(p, mac, from, false, inventory);
    }
    return Result.ignore("proxy mode: " + type + " is for the site's DHCP server");
  }

  /** PXE boot-server ACK (PXE 2.1 §2.2.5): boot file, next server, 54, 60, 97; no address. */
  private Result bootAck(
      DhcpPacket p, MacAddress mac, InetSocketAddress from, boolean bootPort, Inventory inventory) {
    List<Seen> seen = List.of(seen(p, mac, p.ciaddr()));
    Optional<BootFile> f = bootFile(p, mac, inventory);
    if (f.isEmpty()) {
      return Result.ignore("nothing to boot for " + Pxe.arch(p).id(), seen);
    }
    DhcpPacketBuilder b =
        DhcpPacketBuilder.replyTo(p)
            .type(DhcpMessageType.ACK)
            .ciaddr(p.ciaddr())
            .option(new DhcpOption.Address(OPT_SERVER_ID, self))
            .sname(self.getHostAddress());
    bootOptions(b, p, f.get(), true);
    return send(
        b.build(),
        destination(p, DhcpMessageType.ACK, bootPort, from),
        List.of(),
        seen,
        new Milestone(
            mac, "boot server ACK" + (bootPort ? " on " + PXE_PORT : "") + ": " + f.get().file()));
  }

  /** OFFER or ACK of an address, with the subnet's options and, for boot clients, the boot file. */
  private Result addressReply(
      DhcpPacket p,
      MacAddress mac,
      DhcpMessageType type,
      Inet4Address ip,
      List<Lease> changes,
      Scope scope,
      boolean bootClient,
      Inventory inventory) {
    DhcpPacketBuilder b =
        DhcpPacketBuilder.replyTo(p)
            .type(type)
            .yiaddr(ip)
            .option(new DhcpOption.Address(OPT_SERVER_ID, self))
            .option(new DhcpOption.Seconds(OPT_LEASE_TIME, config.leaseSeconds()))
            .option(new DhcpOption.Seconds(OPT_RENEWAL_TIME, config.leaseSeconds() / 2L))
            .option(new DhcpOption.Seconds(OPT_REBINDING_TIME, config.leaseSeconds() * 7L / 8L));
    if (type == DhcpMessageType.ACK && Ipv4.toInt(p.ciaddr()) != 0) {
      b.ciaddr(p.ciaddr());
    }
    Optional<Node> node = inventory.find(mac);
    subnetOptions(b, p, scope, node);
    String what = type.name().toLowerCase(Locale.ROOT) + " " + ip.getHostAddress();
    List<Seen> seen = new ArrayList<>();
    boolean bound = type == DhcpMessageType.ACK;
    if (bootClient) {
      // The inventory records the address once it is the node's (ACK), not when merely offered.
      seen.add(seen(p, mac, bound ? ip : DhcpPacket.ZERO));
      Optional<BootFile> f = bootFile(p, mac, inventory);
      if (f.isPresent()) {
        bootOptions(b, p, f.get(), false);
        what += ", boot " + f.get().file() + " (" + f.get().reason() + ")";
      } else {
        what += ", nothing to boot for " + Pxe.arch(p).id();
      }
    } else if (bound
        && node.filter(Node::enrolled)
            .filter(n -> !n.ip().equals(Optional.of(ip.getHostAddress())))
            .isPresent()) {
      // An enrolled node whose bound address changed gets it in the inventory, which the cluster
      // DNS answers from (so NAME.zone follows the lease). Only on a change, so renewals and load
      // tests add no writes; unenrolled MACs are not recorded here.
      seen.add(new Seen(mac, Optional.empty(), Optional.of(ip)));
    }
    return send(
        b.build(), destination(p, type, false, null), changes, seen, new Milestone(mac, what));
  }

  /** DHCPINFORM (RFC 2131 §3.4): configuration without an address or lease time. */
  private Result inform(
      DhcpPacket p, MacAddress mac, Scope scope, boolean bootClient, Inventory inventory) {
    if (Ipv4.toInt(p.ciaddr()) == 0) {
      return Result.ignore("INFORM without ciaddr");
    }
    DhcpPacketBuilder b =
        DhcpPacketBuilder.replyTo(p)
            .type(DhcpMessageType.ACK)
            .ciaddr(p.ciaddr())
            .option(new DhcpOption.Address(OPT_SERVER_ID, self));
    subnetOptions(b, p, scope, inventory.find(mac));
    List<Seen> seen = new ArrayList<>();
    if (bootClient) {
      seen.add(seen(p, mac, p.ciaddr()));
      bootFile(p, mac, inventory).ifPresent(f -> bootOptions(b, p, f, false));
    }
    return send(b.build(), destination(p, DhcpMessageType.ACK, false, null), List.of(), seen, null);
  }

  private Result nak(DhcpPacket p, MacAddress mac, String reason) {
    DhcpPacketBuilder b = DhcpPacketBuilder.replyTo(p);
    if (Ipv4.toInt(p.giaddr()) != 0) {
      // RFC 2131 §4.3.2: so that the relay broadcasts it (the client may no longer have its
      // address).
      b.flags(p.flags() | FLAG_BROADCAST);
    }
    DhcpPacket n =
        b.type(DhcpMessageType.NAK)
            .option(new DhcpOption.Address(OPT_SERVER_ID, self))
            .option(
                new DhcpOption.Text(
                    OPT_MESSAGE, reason.length() > 200 ? reason.substring(0, 200) : reason))
            .build();
    return send(
        n,
        destination(p, DhcpMessageType.NAK, false, null),
        List.of(),
        List.of(),
        new Milestone(mac, "nak: " + reason));
  }

  private static Result send(
      DhcpPacket reply,
      InetSocketAddress to,
      List<Lease> changes,
      List<Seen> seen,
      Milestone event) {
    return new Result(
        Optional.of(new Outgoing(reply, to)),
        changes,
        seen,
        Optional.ofNullable(event),
        Optional.empty());
  }

  private void subnetOptions(DhcpPacketBuilder b, DhcpPacket p, Scope scope, Optional<Node> node) {
    int mask = scope.prefix() == 0 ? 0 : -1 << (32 - scope.prefix());
    b.option(new DhcpOption.Address(OPT_SUBNET_MASK, Ipv4.fromInt(mask)));
    b.option(new DhcpOption.Address(OPT_BROADCAST_ADDRESS, scope.broadcast()));
    Optional<Inet4Address> router =
        scope == local
            ? scope.router()
            // Behind a relay the relay is the usual gateway (dnsmasq does the same).
            : scope.router().or(() -> Optional.of(p.giaddr()));
    router.ifPresent(r -> b.option(new DhcpOption.Addresses(OPT_ROUTER, List.of(r))));
    if (!config.dns().isEmpty()) {
      b.option(new DhcpOption.Addresses(OPT_DNS_SERVERS, config.dns()));
    }
    config.domain().ifPresent(d -> b.option(new DhcpOption.Text(OPT_DOMAIN_NAME, d)));
    node.flatMap(Node::name).ifPresent(n -> b.option(new DhcpOption.Text(OPT_HOST_NAME, n)));
  }

  /**
   * That a network-boot client asked, with its architecture and the address now its own (0: none).
   */
  private static Seen seen(DhcpPacket p, MacAddress mac, Inet4Address ip) {
    return new Seen(
        mac,
        Optional.of(Pxe.arch(p).id()),
        Ipv4.toInt(ip) == 0 ? Optional.empty() : Optional.of(ip));
  }

  /**
   * The boot file for a network-boot client; a MAC the inventory does not know boots its local
   * disk.
   */
  private Optional<BootFile> bootFile(DhcpPacket p, MacAddress mac, Inventory inventory) {
    Optional<Node> node = inventory.find(mac);
    return boot.select(
        Pxe.arch(p),
        Pxe.vendorClass(p),
        Pxe.isIpxe(p),
        mac,
        BootPolicy.action(node),
        boot.secureBoot(node));
  }

  /**
   * siaddr, sname/file, 60, and when asked 66/67; for proxy and boot-server replies also 97 echoed
   * and, for BIOS ROMs, 43 telling them to boot this file without discovery.
   */
  private void bootOptions(DhcpPacketBuilder b, DhcpPacket p, BootFile f, boolean proxyStyle) {
    b.siaddr(f.nextServer());
    if (f.file().length() < FILE_LENGTH) {
      b.file(f.file());
    } // else: only option 67 can carry it (some URLs are long)
    b.option(new DhcpOption.Text(OPT_VENDOR_CLASS_ID, f.vendorClass()));
    if (!f.isUrl() && p.requests(OPT_TFTP_SERVER_NAME)) {
      b.option(new DhcpOption.Text(OPT_TFTP_SERVER_NAME, f.nextServer().getHostAddress()));
    }
    // HTTP boot reads its URL from option 67 only; everyone else gets it there when asking for it.
    if (p.requests(OPT_BOOTFILE_NAME) || f.isUrl() || f.file().length() >= FILE_LENGTH) {
      b.option(new DhcpOption.Text(OPT_BOOTFILE_NAME, f.file()));
    }
    if (proxyStyle) {
      p.octets(OPT_CLIENT_GUID)
          .ifPresent(g -> b.option(new DhcpOption.Unknown(OPT_CLIENT_GUID, g)));
      if (Pxe.arch(p) == Pxe.Arch.BIOS && !Pxe.isIpxe(p)) {
        b.option(Pxe.useBootFile());
      }
    }
  }

  /**
   * Where a reply goes (RFC 2131 §4.1): the boot-server port answers the sender; a relayed request
   * goes to the relay's server port; a renewal (ciaddr set) to the client's address; everything
   * else is broadcast. Deliberate deviation: RFC 2131 says a client without the broadcast flag
   * SHOULD get its OFFER/ACK unicast to chaddr and yiaddr, which needs raw sockets or ARP-table
   * injection; every PXE client tried (iPXE BIOS and EFI, EDK2) and udhcpc and dhclient accept the
   * broadcast.
   */
  InetSocketAddress destination(
      DhcpPacket p, DhcpMessageType type, boolean bootPort, InetSocketAddress from) {
    if (bootPort) {
      // PXE 2.1 §2.2.5: the ACK goes to ciaddr at the port the request came from (EDK2: 4011, iPXE:
      // 68). We send it to the source address and port themselves: the same place for every real
      // client, since handle() takes only requests whose ciaddr is empty or the source address, so
      // the answer never goes to a host that did not ask.
      return from;
    }
    if (Ipv4.toInt(p.giaddr()) != 0) {
      return new InetSocketAddress(p.giaddr(), config.port() == 0 ? SERVER_PORT : config.port());
    }
    if (type != DhcpMessageType.NAK && Ipv4.toInt(p.ciaddr()) != 0) {
      return new InetSocketAddress(p.ciaddr(), CLIENT_PORT);
    }
    return new InetSocketAddress(Ipv4.fromInt(-1), CLIENT_PORT);
  }
}

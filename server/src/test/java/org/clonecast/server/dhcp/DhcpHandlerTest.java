package org.clonecast.server.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.protocol.dhcp.DhcpOption;
import org.clonecast.protocol.dhcp.DhcpPacket;
import org.clonecast.protocol.dhcp.DhcpPacketBuilder;
import org.clonecast.protocol.dhcp.Pxe;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.BootFileSelector;
import org.clonecast.server.config.BootConfig;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.config.SecureBootNodes;
import org.clonecast.server.config.StoreConfig;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeState;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.TestStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/** The responder behind its Netty handler, on EmbeddedChannel, with a real SQLite store. */
@ParameterizedClass
@EnumSource(TestStore.class)
class DhcpHandlerTest {
  @Parameter TestStore kind;
  StoreConfig store;

  static final Inet4Address SELF = Ipv4.parse("10.77.0.1");
  static final MacAddress MAC = MacAddress.parse("52:54:00:88:00:10");
  static final InetSocketAddress CLIENT = new InetSocketAddress(Ipv4.fromInt(0), CLIENT_PORT);
  static final InetSocketAddress BROADCAST = new InetSocketAddress(Ipv4.fromInt(-1), CLIENT_PORT);
  static final byte[] GUID = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

  @TempDir Path dir;
  Database db;
  NodeStore nodes;
  Inventory inventory;
  EventLog events;
  DhcpStats stats;
  long now = 1_700_000_000_000L;
  final Clock clock =
      new Clock() {
        @Override
        public ZoneId getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return Instant.ofEpochMilli(now);
        }
      };

  @BeforeEach
  void open() {
    store = kind.config();
    db = Database.open(dir, store);
    nodes = new NodeStore(db, clock);
    inventory = Inventory.following(nodes);
    events = new EventLog(db, clock);
    stats = new DhcpStats();
  }

  @AfterEach
  void close() {
    db.close();
  }

  static DhcpConfig config(DhcpConfig.Mode mode) {
    return new DhcpConfig(
        mode,
        Optional.of(new DhcpConfig.Range(Ipv4.parse("10.77.0.100"), Ipv4.parse("10.77.0.150"))),
        600,
        Optional.of(Ipv4.parse("10.77.0.254")),
        List.of(Ipv4.parse("10.77.0.1")),
        Optional.of("cluster.lan"),
        67,
        4011,
        List.of(
            new DhcpConfig.RelaySubnet(
                "rack2",
                Ipv4.parse("10.78.0.0"),
                24,
                new DhcpConfig.Range(Ipv4.parse("10.78.0.10"), Ipv4.parse("10.78.0.20")),
                Optional.empty())));
  }

  DhcpResponder responder(DhcpConfig.Mode mode) {
    return responder(mode, SecureBootNodes.OFF);
  }

  DhcpResponder responder(DhcpConfig.Mode mode, SecureBootNodes secureBoot) {
    return responder(mode, secureBoot, new LeaseStore(db).loadAll());
  }

  /** A responder of {@link #config} with {@code leases} in its tables. */
  static DhcpResponder responder(
      DhcpConfig.Mode mode, SecureBootNodes secureBoot, List<Lease> leases) {
    BootConfig boot =
        new BootConfig(
            Path.of("/usr/lib/ipxe"),
            "ipxe.efi",
            "",
            true,
            "undionly.kpxe",
            "snp-arm64.efi",
            secureBoot);
    return new DhcpResponder(
        config(mode), SELF, 24, new BootFileSelector(boot, SELF, () -> 8080), leases);
  }

  /** Another daemon's handler on {@code other}, a second connection to the test's store. */
  EmbeddedChannel otherDaemon(Database other, DhcpStats otherStats) {
    return new EmbeddedChannel(
        new DhcpHandler(
            responder(DhcpConfig.Mode.FULL),
            false,
            otherStats,
            other,
            new EventLog(other, clock),
            new NodeStore(other, clock),
            inventory,
            clock));
  }

  /** A SELECTING REQUEST of {@code mac} for {@code ip}, offered by this server. */
  static DhcpPacket selecting(MacAddress mac, Inet4Address ip) {
    return plain(DhcpMessageType.REQUEST, mac)
        .option(new DhcpOption.Address(OPT_SERVER_ID, SELF))
        .option(new DhcpOption.Address(OPT_REQUESTED_IP, ip))
        .build();
  }

  EmbeddedChannel channel(DhcpResponder r, boolean bootPort) {
    return new EmbeddedChannel(
        new DhcpHandler(r, bootPort, stats, db, events, nodes, inventory, clock));
  }

  static DatagramPacket datagram(DhcpPacket p, InetSocketAddress from) {
    ByteBuf b = Unpooled.buffer();
    p.encode(b);
    return new DatagramPacket(b, new InetSocketAddress(SELF, SERVER_PORT), from);
  }

  /** Sends one request and returns the decoded reply with its destination (null if none). */
  static Map.Entry<DhcpPacket, InetSocketAddress> exchange(
      EmbeddedChannel ch, DhcpPacket p, InetSocketAddress from) {
    ch.writeInbound(datagram(p, from));
    DatagramPacket out = ch.readOutbound();
    if (out == null) {
      return null;
    }
    try {
      return Map.entry(DhcpPacket.decode(out.content()), out.recipient());
    } finally {
      out.release();
    }
  }

  static DhcpPacketBuilder pxe(DhcpMessageType type, int arch) {
    return new DhcpPacketBuilder()
        .xid(0x1234)
        .mac(MAC)
        .type(type)
        .option(new DhcpOption.ParameterRequestList(List.of(1, 3, 6, 12, 15, 43, 60, 66, 67)))
        .option(new DhcpOption.ClientArch(List.of(arch)))
        .option(new DhcpOption.Unknown(OPT_CLIENT_GUID, GUID))
        .option(
            new DhcpOption.Text(
                OPT_VENDOR_CLASS_ID, String.format("PXEClient:Arch:%05d:UNDI:002001", arch)));
  }

  static DhcpPacketBuilder ipxe(DhcpMessageType type) {
    return pxe(type, 0)
        .option(new DhcpOption.Unknown(OPT_USER_CLASS, "iPXE".getBytes(StandardCharsets.US_ASCII)))
        .option(new DhcpOption.Unknown(OPT_IPXE_ENCAP, new byte[] {1, 1, 1}));
  }

  static DhcpPacketBuilder plain(DhcpMessageType type, MacAddress mac) {
    return new DhcpPacketBuilder().xid(7).mac(mac).type(type);
  }

  @Test
  void fullModeBootsBiosFirmwareThenIpxeOnTheSameAddress() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    var offer = exchange(ch, pxe(DhcpMessageType.DISCOVER, 0).build(), CLIENT);
    assertNotNull(offer);
    DhcpPacket o = offer.getKey();
    assertEquals(BROADCAST, offer.getValue());
    assertEquals(Optional.of(DhcpMessageType.OFFER), o.messageType());
    assertEquals(Ipv4.parse("10.77.0.100"), o.yiaddr());
    assertEquals(SELF, o.siaddr());
    assertEquals("undionly.kpxe", o.fileText());
    assertEquals(Optional.of("undionly.kpxe"), o.text(OPT_BOOTFILE_NAME));
    assertEquals(Optional.of("PXEClient"), o.text(OPT_VENDOR_CLASS_ID));
    assertEquals(Optional.of("10.77.0.1"), o.text(OPT_TFTP_SERVER_NAME));
    assertEquals(Optional.of(SELF), o.address(OPT_SERVER_ID));
    assertEquals(Optional.of(Ipv4.parse("255.255.255.0")), o.address(OPT_SUBNET_MASK));
    assertEquals(Optional.of(Ipv4.parse("10.77.0.255")), o.address(OPT_BROADCAST_ADDRESS));
    assertEquals(Optional.of("cluster.lan"), o.text(OPT_DOMAIN_NAME));
    assertEquals(
        List.of(600L, 300L, 525L),
        o.options().stream()
            .filter(DhcpOption.Seconds.class::isInstance)
            .map(x -> ((DhcpOption.Seconds) x).seconds())
            .toList());
    assertEquals(
        Ipv4.parse("10.77.0.254"),
        o.option(DhcpOption.Addresses.class).orElseThrow().addresses().get(0));
    assertEquals(
        NodeState.DISCOVERED, nodes.find(MAC).orElseThrow().state(), "a new MAC is discovered");
    assertEquals(Optional.of("bios"), nodes.find(MAC).orElseThrow().arch());
    assertEquals(
        Optional.empty(),
        nodes.find(MAC).orElseThrow().ip(),
        "an offered address is not the node's yet");

    var ack =
        exchange(
            ch,
            pxe(DhcpMessageType.REQUEST, 0)
                .option(new DhcpOption.Address(OPT_SERVER_ID, SELF))
                .option(new DhcpOption.Address(OPT_REQUESTED_IP, o.yiaddr()))
                .build(),
            CLIENT);
    assertEquals(Optional.of(DhcpMessageType.ACK), ack.getKey().messageType());
    assertEquals(o.yiaddr(), ack.getKey().yiaddr());
    assertEquals(
        List.of(new Lease(o.yiaddr(), Optional.of(MAC), Lease.State.BOUND, now + 600_000)),
        new LeaseStore(db).loadAll(),
        "stored before the ACK left");
    assertEquals(Optional.of(o.yiaddr().getHostAddress()), nodes.find(MAC).orElseThrow().ip());

    now += 5000;
    var ipxeOffer = exchange(ch, ipxe(DhcpMessageType.DISCOVER).build(), CLIENT);
    assertEquals(o.yiaddr(), ipxeOffer.getKey().yiaddr(), "same address for iPXE's round");
    assertEquals(
        "http://10.77.0.1:8080/boot/52:54:00:88:00:10.ipxe", ipxeOffer.getKey().fileText());
    assertEquals(Optional.of("PXEClient"), ipxeOffer.getKey().text(OPT_VENDOR_CLASS_ID));

    assertEquals(1, stats.tx(DhcpMessageType.ACK));
    assertEquals(2, stats.tx(DhcpMessageType.OFFER));
    assertTrue(
        events.recent(10).stream()
            .anyMatch(e -> e.kind().equals("dhcp") && e.message().startsWith("ack 10.77.0.100")));
  }

  /**
   * One burst of REQUESTs at a daemon whose table does not know the other daemon's lease: the store
   * refuses the one whose address the other daemon's client holds (NAKed, nothing of it stored),
   * and the rest of the burst, written again without it, is stored and ACKed.
   */
  @Test
  void aRefusedDecisionLeavesTheRestOfItsBurstStored() {
    MacAddress x = MacAddress.parse("02:00:00:00:00:0a");
    MacAddress y = MacAddress.parse("02:00:00:00:00:0b");
    MacAddress z = MacAddress.parse("02:00:00:00:00:0c");
    try (Database other = Database.open(dir, store)) {
      EmbeddedChannel a = channel(responder(DhcpConfig.Mode.FULL), false);
      DhcpStats otherStats = new DhcpStats();
      EmbeddedChannel b = otherDaemon(other, otherStats);
      DhcpPacket oy = exchange(b, plain(DhcpMessageType.DISCOVER, y).build(), CLIENT).getKey();
      DhcpPacket oz = exchange(b, plain(DhcpMessageType.DISCOVER, z).build(), CLIENT).getKey();
      DhcpPacket ox = exchange(a, plain(DhcpMessageType.DISCOVER, x).build(), CLIENT).getKey();
      assertEquals(ox.yiaddr(), oy.yiaddr(), "neither table knows the other's offer");
      var ackX = exchange(a, selecting(x, ox.yiaddr()), CLIENT);
      assertEquals(Optional.of(DhcpMessageType.ACK), ackX.getKey().messageType());

      b.writeInbound(
          datagram(selecting(y, oy.yiaddr()), CLIENT), datagram(selecting(z, oz.yiaddr()), CLIENT));
      Map<MacAddress, DhcpMessageType> replies = new HashMap<>();
      for (DatagramPacket out; (out = b.readOutbound()) != null; ) {
        try {
          DhcpPacket p = DhcpPacket.decode(out.content());
          replies.put(p.mac().orElseThrow(), p.messageType().orElseThrow());
        } finally {
          out.release();
        }
      }
      assertEquals(Map.of(y, DhcpMessageType.NAK, z, DhcpMessageType.ACK), replies);
      assertEquals(1, otherStats.conflicts());
      assertEquals(
          Set.of(
              new Lease(ox.yiaddr(), Optional.of(x), Lease.State.BOUND, now + 600_000),
              new Lease(oz.yiaddr(), Optional.of(z), Lease.State.BOUND, now + 600_000)),
          Set.copyOf(new LeaseStore(other).loadAll()),
          "x's lease, and z's from the burst; nothing of y's");
      assertEquals(
          List.of("ack " + oz.yiaddr().getHostAddress()),
          new EventLog(other, clock)
              .after(0, 100).stream()
                  .filter(
                      e ->
                          e.mac().equals(Optional.of(z.toString()))
                              || e.mac().equals(Optional.of(y.toString())))
                  .filter(e -> e.message().startsWith("ack"))
                  .map(e -> e.message())
                  .toList(),
          "the burst's events: z's ACK, no event of y's refused one");
    }
  }

  /**
   * Two daemons share the store (docs/scale.md), each with its own lease table: both offer the
   * first pool address to different clients; the first REQUEST binds it, the second daemon's write
   * is refused by the store, and it NAKs at once; its table then holds the other's lease, so its
   * next offer is another address. The store holds one lease per address.
   */
  @Test
  void twoDaemonsOnOneStoreNeverBindOneAddressTwice() {
    MacAddress x = MacAddress.parse("02:00:00:00:00:0a");
    MacAddress y = MacAddress.parse("02:00:00:00:00:0b");
    try (Database other = Database.open(dir, store)) {
      EmbeddedChannel a = channel(responder(DhcpConfig.Mode.FULL), false);
      DhcpStats otherStats = new DhcpStats();
      EmbeddedChannel b = otherDaemon(other, otherStats);
      DhcpPacket ox = exchange(a, plain(DhcpMessageType.DISCOVER, x).build(), CLIENT).getKey();
      DhcpPacket oy = exchange(b, plain(DhcpMessageType.DISCOVER, y).build(), CLIENT).getKey();
      assertEquals(ox.yiaddr(), oy.yiaddr(), "neither table knows the other's offer");
      var ackX = exchange(a, selecting(x, ox.yiaddr()), CLIENT);
      assertEquals(Optional.of(DhcpMessageType.ACK), ackX.getKey().messageType());
      var nakY = exchange(b, selecting(y, oy.yiaddr()), CLIENT);
      assertEquals(
          Optional.of(DhcpMessageType.NAK),
          nakY.getKey().messageType(),
          "the store refused the second binding; the client starts over at once");
      assertEquals(1, otherStats.conflicts());
      assertEquals(0, otherStats.tx(DhcpMessageType.ACK));
      assertEquals(
          List.of(new Lease(ox.yiaddr(), Optional.of(x), Lease.State.BOUND, now + 600_000)),
          new LeaseStore(other).loadAll(),
          "one lease, the first client's");

      DhcpPacket again = exchange(b, plain(DhcpMessageType.DISCOVER, y).build(), CLIENT).getKey();
      assertNotEquals(ox.yiaddr(), again.yiaddr(), "the refused daemon learnt the lease");
      var ackY = exchange(b, selecting(y, again.yiaddr()), CLIENT);
      assertEquals(Optional.of(DhcpMessageType.ACK), ackY.getKey().messageType());
      assertEquals(2, new LeaseStore(db).loadAll().size());
    }
  }

  @Test
  void plainClientsGetAnAddressWithoutBootOptionsAndRenewByUnicast() {
    MacAddress m = MacAddress.parse("02:00:00:00:00:01");
    nodes.enroll(m, "node07", Optional.empty());
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    DhcpPacket o = exchange(ch, plain(DhcpMessageType.DISCOVER, m).build(), CLIENT).getKey();
    assertEquals("", o.fileText());
    assertEquals(Optional.empty(), o.text(OPT_VENDOR_CLASS_ID));
    assertEquals(Optional.of("node07"), o.text(OPT_HOST_NAME), "12 = the inventory name");
    exchange(ch, selecting(m, o.yiaddr()), CLIENT);
    var renew =
        exchange(
            ch,
            plain(DhcpMessageType.REQUEST, m).ciaddr(o.yiaddr()).build(),
            new InetSocketAddress(o.yiaddr(), CLIENT_PORT));
    assertEquals(Optional.of(DhcpMessageType.ACK), renew.getKey().messageType());
    assertEquals(
        new InetSocketAddress(o.yiaddr(), CLIENT_PORT),
        renew.getValue(),
        "renewals are unicast to ciaddr");
    assertEquals(o.yiaddr(), renew.getKey().ciaddr());
  }

  @Test
  void wrongInitRebootIsNakedByBroadcast() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    var nak =
        exchange(
            ch,
            plain(DhcpMessageType.REQUEST, MAC)
                .option(new DhcpOption.Address(OPT_REQUESTED_IP, Ipv4.parse("192.168.9.9")))
                .build(),
            CLIENT);
    assertEquals(Optional.of(DhcpMessageType.NAK), nak.getKey().messageType());
    assertEquals(BROADCAST, nak.getValue());
    assertEquals(Ipv4.fromInt(0), nak.getKey().yiaddr());
  }

  @Test
  void relayedRequestsUseTheRelaysSubnetAndGoBackToTheRelay() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    Inet4Address relay = Ipv4.parse("10.78.0.1");
    var offer =
        exchange(
            ch,
            plain(DhcpMessageType.DISCOVER, MAC).giaddr(relay).hops(1).build(),
            new InetSocketAddress(relay, 67));
    assertEquals(new InetSocketAddress(relay, 67), offer.getValue());
    assertEquals(Ipv4.parse("10.78.0.10"), offer.getKey().yiaddr());
    assertEquals(relay, offer.getKey().giaddr());
    assertEquals(
        relay,
        offer.getKey().option(DhcpOption.Addresses.class).orElseThrow().addresses().get(0),
        "router = relay");
    // a relay on the server's own subnet (perfdhcp) uses the main pool
    Inet4Address local = Ipv4.parse("10.77.0.11");
    var o2 =
        exchange(
            ch,
            plain(DhcpMessageType.DISCOVER, MacAddress.parse("02:00:00:00:00:02"))
                .giaddr(local)
                .build(),
            new InetSocketAddress(local, 67));
    assertEquals(Ipv4.parse("10.77.0.100"), o2.getKey().yiaddr());
    assertNull(
        exchange(
            ch,
            plain(DhcpMessageType.DISCOVER, MAC).giaddr(Ipv4.parse("10.99.0.1")).build(),
            CLIENT),
        "unknown subnet");
    // a NAK through the relay asks it to broadcast
    var nak =
        exchange(
            ch,
            plain(DhcpMessageType.REQUEST, MAC)
                .giaddr(relay)
                .option(new DhcpOption.Address(OPT_REQUESTED_IP, Ipv4.parse("10.77.0.120")))
                .build(),
            new InetSocketAddress(relay, 67));
    assertEquals(Optional.of(DhcpMessageType.NAK), nak.getKey().messageType());
    assertEquals(new InetSocketAddress(relay, 67), nak.getValue());
    assertTrue(nak.getKey().broadcastFlag());
  }

  /** The message of the start-up error {@code c} causes. */
  String rejected(DhcpConfig c) {
    BootConfig boot =
        new BootConfig(
            Path.of("/usr/lib/ipxe"), "ipxe.efi", "", true, "undionly.kpxe", "snp-arm64.efi");
    return Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                new DhcpResponder(
                    c, SELF, 24, new BootFileSelector(boot, SELF, () -> 8080), List.of()))
        .getMessage();
  }

  static DhcpConfig full(Optional<DhcpConfig.Range> range, DhcpConfig.RelaySubnet... relays) {
    return new DhcpConfig(
        DhcpConfig.Mode.FULL,
        range,
        600,
        Optional.empty(),
        List.of(),
        Optional.empty(),
        67,
        4011,
        List.of(relays));
  }

  @Test
  void poolsMustLieOnTheirSubnets() {
    Optional<DhcpConfig.Range> good = config(DhcpConfig.Mode.FULL).range();
    String e =
        rejected(
            full(
                Optional.of(
                    new DhcpConfig.Range(Ipv4.parse("10.9.0.100"), Ipv4.parse("10.9.0.150")))));
    assertTrue(e.contains("outside the provisioning subnet 10.77.0.0/24"), e);
    e =
        rejected(
            full(
                good,
                new DhcpConfig.RelaySubnet(
                    "bad",
                    Ipv4.parse("10.77.0.0"),
                    25,
                    new DhcpConfig.Range(Ipv4.parse("10.77.0.10"), Ipv4.parse("10.77.0.20")),
                    Optional.empty())));
    assertTrue(e.contains("overlaps the provisioning subnet"), e);
    e =
        rejected(
            full(
                good,
                config(DhcpConfig.Mode.FULL).relays().get(0),
                new DhcpConfig.RelaySubnet(
                    "b",
                    Ipv4.parse("10.78.0.128"),
                    25,
                    new DhcpConfig.Range(Ipv4.parse("10.78.0.130"), Ipv4.parse("10.78.0.140")),
                    Optional.empty())));
    assertTrue(e.contains("overlaps another relayed subnet"), e);
  }

  @Test
  void reservedMacGetsItsAddress() {
    nodes.enroll(MAC, "node01", Optional.empty(), Optional.of("10.77.0.20"));
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    assertEquals(
        Ipv4.parse("10.77.0.20"),
        exchange(ch, plain(DhcpMessageType.DISCOVER, MAC).build(), CLIENT).getKey().yiaddr());
  }

  @Test
  void proxyModeAnswersOnlyBootClientsWithoutAnAddress() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.PROXY), false);
    assertNull(
        exchange(ch, plain(DhcpMessageType.DISCOVER, MAC).build(), CLIENT), "not a PXE client");
    var offer = exchange(ch, pxe(DhcpMessageType.DISCOVER, 7).build(), CLIENT);
    DhcpPacket o = offer.getKey();
    assertEquals(BROADCAST, offer.getValue());
    assertEquals(Ipv4.fromInt(0), o.yiaddr());
    assertEquals(SELF, o.siaddr());
    assertEquals("ipxe.efi", o.fileText());
    assertEquals(Optional.of(SELF), o.address(OPT_SERVER_ID));
    assertEquals(Optional.of("PXEClient"), o.text(OPT_VENDOR_CLASS_ID));
    assertEquals(List.of(), o.options().stream().filter(x -> x.code() == OPT_LEASE_TIME).toList());
    assertTrue(Arrays.equals(GUID, o.octets(OPT_CLIENT_GUID).orElseThrow()), "97 echoed");
    assertFalse(o.octets(OPT_VENDOR_SPECIFIC).isPresent(), "43 only for BIOS ROMs");
    DhcpPacket bios = exchange(ch, pxe(DhcpMessageType.DISCOVER, 0).build(), CLIENT).getKey();
    assertEquals(8, Pxe.discoveryControl(bios).getAsInt());
    assertNull(
        exchange(
            ch,
            pxe(DhcpMessageType.REQUEST, 7)
                .option(new DhcpOption.Address(OPT_SERVER_ID, Ipv4.parse("10.77.0.2")))
                .option(new DhcpOption.Address(OPT_REQUESTED_IP, Ipv4.parse("10.77.0.50")))
                .build(),
            CLIENT),
        "for the site's server");
  }

  @Test
  void bootServerPortAcksEdk2AtItsSourceAddress() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.PROXY), true);
    InetSocketAddress from = new InetSocketAddress(Ipv4.parse("10.77.0.50"), PXE_PORT);
    var ack =
        exchange(
            ch, pxe(DhcpMessageType.REQUEST, 7).ciaddr(Ipv4.parse("10.77.0.50")).build(), from);
    assertEquals(from, ack.getValue());
    DhcpPacket a = ack.getKey();
    assertEquals(Optional.of(DhcpMessageType.ACK), a.messageType());
    assertEquals("ipxe.efi", a.fileText());
    assertEquals("10.77.0.1", a.snameText());
    assertEquals(SELF, a.siaddr());
    assertEquals(Optional.of(SELF), a.address(OPT_SERVER_ID));
    assertEquals(Optional.of("PXEClient"), a.text(OPT_VENDOR_CLASS_ID));
    assertTrue(a.octets(OPT_CLIENT_GUID).isPresent());
    assertNull(
        exchange(
            ch,
            plain(DhcpMessageType.REQUEST, MAC).ciaddr(Ipv4.parse("10.77.0.50")).build(),
            from));
  }

  /**
   * A 4011 request naming another host's ciaddr (a rogue making us ACK its victim) gets no reply at
   * all and moves nothing; iPXE's (from ciaddr:68) and a request without ciaddr are answered at
   * their source.
   */
  @Test
  void bootServerPortAnswersOnlyTheRequestersOwnAddress() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.PROXY), true);
    nodes.enroll(MAC, "node01", Optional.empty());
    InetSocketAddress victim = new InetSocketAddress(Ipv4.parse("10.77.0.50"), PXE_PORT);
    InetSocketAddress rogue = new InetSocketAddress(Ipv4.parse("10.77.0.66"), PXE_PORT);
    long ignored = stats.ignored();
    assertNull(
        exchange(
            ch,
            pxe(DhcpMessageType.REQUEST, 7).ciaddr((Inet4Address) victim.getAddress()).build(),
            rogue),
        "no ACK towards 10.77.0.50 for a request from 10.77.0.66");
    assertEquals(ignored + 1, stats.ignored(), "counted");
    assertEquals(
        Optional.empty(), nodes.find(MAC).orElseThrow().ip(), "the node's address is not moved");

    var ok =
        exchange(
            ch,
            pxe(DhcpMessageType.REQUEST, 7).ciaddr((Inet4Address) victim.getAddress()).build(),
            victim);
    assertEquals(victim, ok.getValue());
    assertEquals(Optional.of("10.77.0.50"), nodes.find(MAC).orElseThrow().ip());
    InetSocketAddress ipxe = new InetSocketAddress(Ipv4.parse("10.77.0.51"), CLIENT_PORT);
    assertEquals(
        ipxe,
        exchange(
                ch,
                ipxe(DhcpMessageType.REQUEST).ciaddr((Inet4Address) ipxe.getAddress()).build(),
                ipxe)
            .getValue(),
        "iPXE asks from ciaddr:68 and hears back there");
    assertEquals(
        rogue,
        exchange(ch, pxe(DhcpMessageType.REQUEST, 7).build(), rogue).getValue(),
        "no ciaddr: the answer goes back to the sender");
    assertEquals(
        Optional.of("10.77.0.51"),
        nodes.find(MAC).orElseThrow().ip(),
        "a request without ciaddr records nothing");
  }

  /**
   * boot.secure-boot = rack1: an EFI x64 firmware of a rack1 node gets Debian's signed shim (full
   * mode's OFFER, proxy mode's OFFER and port 4011 ACK); other nodes, BIOS and UEFI HTTP boot keep
   * iPXE.
   */
  @Test
  void secureBootNodesGetShimInFullAndProxyMode() {
    nodes.enroll(MAC, "node01", Optional.of("rack1"));
    SecureBootNodes rack1 = SecureBootNodes.parse("rack1");
    DhcpPacket full =
        exchange(
                channel(responder(DhcpConfig.Mode.FULL, rack1), false),
                pxe(DhcpMessageType.DISCOVER, 7).build(),
                CLIENT)
            .getKey();
    assertEquals("shimx64.efi", full.fileText());
    assertEquals(SELF, full.siaddr());
    assertEquals(Optional.of("PXEClient"), full.text(OPT_VENDOR_CLASS_ID));
    assertEquals(
        "shimx64.efi",
        exchange(
                channel(responder(DhcpConfig.Mode.PROXY, rack1), false),
                pxe(DhcpMessageType.DISCOVER, 9).build(),
                CLIENT)
            .getKey()
            .fileText(),
        "proxy OFFER, arch 9 (EFI BC)");
    InetSocketAddress from = new InetSocketAddress(Ipv4.parse("10.77.0.50"), PXE_PORT);
    DhcpPacket ack =
        exchange(
                channel(responder(DhcpConfig.Mode.PROXY, rack1), true),
                pxe(DhcpMessageType.REQUEST, 7).ciaddr(Ipv4.parse("10.77.0.50")).build(),
                from)
            .getKey();
    assertEquals("shimx64.efi", ack.fileText(), "proxy port 4011 ACK");
    assertEquals(SELF, ack.siaddr());
    assertEquals(
        "undionly.kpxe",
        exchange(
                channel(responder(DhcpConfig.Mode.FULL, rack1), false),
                pxe(DhcpMessageType.DISCOVER, 0).build(),
                CLIENT)
            .getKey()
            .fileText(),
        "BIOS has no Secure Boot");

    nodes.update(
        MAC,
        new NodeStore.Change(
            Optional.empty(), Optional.of(Optional.of("rack2")), Optional.empty()));
    assertEquals(
        "ipxe.efi",
        exchange(
                channel(responder(DhcpConfig.Mode.FULL, rack1), false),
                pxe(DhcpMessageType.DISCOVER, 7).build(),
                CLIENT)
            .getKey()
            .fileText(),
        "a node of another group gets iPXE");
    assertEquals(
        "shimx64.efi",
        exchange(
                channel(responder(DhcpConfig.Mode.FULL, SecureBootNodes.parse("all")), false),
                pxe(DhcpMessageType.DISCOVER, 7).build(),
                CLIENT)
            .getKey()
            .fileText(),
        "all");
  }

  @Test
  void httpBootGetsAUrlInOption67AndHttpClient() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    DhcpPacket o =
        exchange(
                ch,
                new DhcpPacketBuilder()
                    .xid(1)
                    .mac(MAC)
                    .type(DhcpMessageType.DISCOVER)
                    .option(new DhcpOption.ClientArch(List.of(16)))
                    .option(
                        new DhcpOption.Text(
                            OPT_VENDOR_CLASS_ID, "HTTPClient:Arch:00016:UNDI:003000"))
                    .build(),
                CLIENT)
            .getKey();
    assertEquals(
        Optional.of("http://10.77.0.1:8080/boot/files/ipxe.efi"), o.text(OPT_BOOTFILE_NAME));
    assertEquals(Optional.of("HTTPClient"), o.text(OPT_VENDOR_CLASS_ID));
  }

  @Test
  void malformedDatagramsAreCountedAndTheChannelKeepsServing() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    ch.writeInbound(
        new DatagramPacket(
            Unpooled.wrappedBuffer(new byte[] {1, 2, 3}), new InetSocketAddress(SELF, 67), CLIENT));
    ByteBuf bad = Unpooled.buffer();
    pxe(DhcpMessageType.DISCOVER, 0).build().encode(bad);
    bad.setByte(236, 0); // magic cookie
    ch.writeInbound(new DatagramPacket(bad, new InetSocketAddress(SELF, 67), CLIENT));
    assertNull(ch.readOutbound());
    assertEquals(2, stats.malformed());
    assertTrue(ch.isOpen());
    assertNotNull(exchange(ch, pxe(DhcpMessageType.DISCOVER, 0).build(), CLIENT));
  }

  @Test
  void aBurstOfRequestsIsStoredTogetherAndAllAnswered() {
    EmbeddedChannel ch = channel(responder(DhcpConfig.Mode.FULL), false);
    DatagramPacket[] burst = new DatagramPacket[20];
    for (int i = 0; i < burst.length; i++) {
      burst[i] =
          datagram(
              plain(DhcpMessageType.DISCOVER, new MacAddress(0x020000000100L + i)).build(), CLIENT);
    }
    ch.writeInbound((Object[]) burst);
    for (int i = 0; i < burst.length; i++) {
      DatagramPacket out = ch.readOutbound();
      assertNotNull(out, "reply " + i);
      out.release();
    }
    assertEquals(20, stats.tx(DhcpMessageType.OFFER));
    assertEquals(
        20, events.recent(100).stream().filter(e -> e.message().startsWith("offer")).count());
    assertEquals(1, stats.commits(), "one transaction for the burst");
    DatagramPacket[] acks = new DatagramPacket[20];
    for (int i = 0; i < acks.length; i++) {
      MacAddress m = new MacAddress(0x020000000100L + i);
      acks[i] =
          datagram(
              plain(DhcpMessageType.REQUEST, m)
                  .option(new DhcpOption.Address(OPT_SERVER_ID, SELF))
                  .option(
                      new DhcpOption.Address(OPT_REQUESTED_IP, Ipv4.parse("10.77.0." + (100 + i))))
                  .build(),
              CLIENT);
    }
    ch.writeInbound((Object[]) acks);
    for (int i = 0; i < acks.length; i++) {
      DatagramPacket out = ch.readOutbound();
      assertEquals(
          Optional.of(DhcpMessageType.ACK),
          DhcpPacket.decode(out.content()).messageType(),
          "reply " + i);
      out.release();
    }
    assertEquals(2, stats.commits(), "20 leases in one transaction");
    assertEquals(20, new LeaseStore(db).loadAll().size());
  }

  @Test
  void anAckWhoseLeaseCannotBeStoredIsNotSent() {
    DhcpResponder r = responder(DhcpConfig.Mode.FULL);
    EmbeddedChannel ch = channel(r, false);
    DhcpPacket o = exchange(ch, plain(DhcpMessageType.DISCOVER, MAC).build(), CLIENT).getKey();
    db.write(
        c -> c.createStatement().execute("DROP TABLE leases")); // storing leases fails from now on
    assertNull(exchange(ch, selecting(MAC, o.yiaddr()), CLIENT));
    assertEquals(1, stats.dropped());
    assertTrue(ch.isOpen());
  }
}

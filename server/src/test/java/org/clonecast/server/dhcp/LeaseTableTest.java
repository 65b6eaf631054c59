package org.clonecast.server.dhcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.dhcp.LeaseTable.Decision;
import org.junit.jupiter.api.Test;

class LeaseTableTest {
  static final Inet4Address SELF = Ipv4.parse("10.77.0.1");
  static final Inet4Address OTHER_SERVER = Ipv4.parse("10.77.0.2");
  static final Inet4Address ZERO = Ipv4.fromInt(0);
  static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");
  static final MacAddress B = MacAddress.parse("52:54:00:00:00:0b");
  static final MacAddress C = MacAddress.parse("52:54:00:00:00:0c");
  static final long T0 = 1_700_000_000_000L;

  static LeaseTable table(String first, String last) {
    return new LeaseTable(
        SELF, 24, new DhcpConfig.Range(Ipv4.parse(first), Ipv4.parse(last)), SELF, 600);
  }

  static Inet4Address offered(Decision d) {
    return assertInstanceOf(Decision.Offer.class, d).ip();
  }

  static Inet4Address select(LeaseTable t, MacAddress mac, long now) {
    Inet4Address ip = offered(t.discover(mac, Optional.empty(), now));
    Decision.Ack ack =
        assertInstanceOf(
            Decision.Ack.class,
            t.request(mac, Optional.of(SELF), true, Optional.of(ip), ZERO, now));
    assertEquals(ip, ack.ip());
    return ip;
  }

  /**
   * Two daemons sharing a pool, neither yet knowing the other's leases, offer new addresses from
   * their own shares: never one address to two clients; one whose share is used up takes the
   * other's never-used addresses.
   */
  @Test
  void daemonsSharingAPoolOfferNewAddressesFromTheirOwnShares() {
    LeaseTable a = table("10.77.0.100", "10.77.0.107");
    LeaseTable b = table("10.77.0.100", "10.77.0.107");
    a.share(0, 2);
    b.share(1, 2);
    Set<Inet4Address> given = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      MacAddress ma = MacAddress.parse(String.format("52:54:00:00:0a:%02x", i));
      MacAddress mb = MacAddress.parse(String.format("52:54:00:00:0b:%02x", i));
      Inet4Address ia = select(a, ma, T0);
      Inet4Address ib = select(b, mb, T0);
      assertEquals(0, (Ipv4.toInt(ia) - Ipv4.toInt(Ipv4.parse("10.77.0.100"))) % 2, "a's: " + ia);
      assertEquals(1, (Ipv4.toInt(ib) - Ipv4.toInt(Ipv4.parse("10.77.0.100"))) % 2, "b's: " + ib);
      assertTrue(given.add(ia) && given.add(ib), "one address, two clients: " + ia + " " + ib);
    }
    // a's share is used up: its next client gets a never-used address of b's share (here one b
    // gave away, which a's table has not learnt: the store refuses that binding, as before shares).
    Inet4Address next = select(a, MacAddress.parse("52:54:00:00:0a:ff"), T0);
    assertEquals(
        1, (Ipv4.toInt(next) - Ipv4.toInt(Ipv4.parse("10.77.0.100"))) % 2, next.toString());
  }

  /**
   * Another daemon sharing the store bound an address: merged in, it is neither offered nor given
   * here, and its client renewing here (its own daemon died) is known; our own running offer of an
   * address the store leaves free stays.
   */
  @Test
  void mergedRowsOfAnotherDaemonAreRespectedAndItsClientsServed() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address ours = offered(t.discover(C, Optional.empty(), T0));
    assertEquals(Ipv4.parse("10.77.0.100"), ours);
    Inet4Address theirs = Ipv4.parse("10.77.0.101");
    t.merge(
        List.of(
            new Lease(theirs, Optional.of(B), Lease.State.BOUND, T0 + 600_000),
            new Lease(ours, Optional.of(A), Lease.State.RELEASED, T0 - 1)),
        T0);
    assertEquals(Lease.State.OFFERED, t.lease(ours).orElseThrow().state(), "our offer stays");
    assertEquals(Ipv4.parse("10.77.0.102"), offered(t.discover(A, Optional.empty(), T0)));
    assertInstanceOf(
        Decision.Nak.class,
        t.request(A, Optional.empty(), true, Optional.of(theirs), ZERO, T0),
        "B holds it");
    assertInstanceOf(
        Decision.Ack.class,
        t.request(B, Optional.empty(), true, Optional.empty(), theirs, T0 + 1000),
        "B rebinding here is known");
  }

  /**
   * The store is read for a merge while the table goes on deciding: a row read before the table
   * bound its address is older than the table's record, which stays; the rows of addresses the
   * table left alone are taken, and the next merge without a mark takes every row.
   */
  @Test
  void aMergeKeepsTheRecordsTheTableChangedSinceItsMark() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address ip = select(t, A, T0);
    t.markForMerge();
    // Read before A's lease was stored: the address still free, released by an earlier client.
    Lease stale = new Lease(ip, Optional.of(C), Lease.State.RELEASED, T0 - 1);
    Inet4Address theirs = Ipv4.parse("10.77.0.120");
    Lease other = new Lease(theirs, Optional.of(B), Lease.State.BOUND, T0 + 600_000);
    assertInstanceOf(
        Decision.Ack.class, t.request(A, Optional.empty(), true, Optional.empty(), ip, T0 + 10));
    t.merge(List.of(stale, other), T0 + 20);
    assertEquals(Optional.of(A), t.lease(ip).orElseThrow().mac(), "A's newer lease stays");
    assertEquals(Lease.State.BOUND, t.lease(ip).orElseThrow().state());
    assertEquals(Optional.of(other), t.lease(theirs), "B's lease is taken");
    t.merge(List.of(stale), T0 + 30);
    assertEquals(Optional.of(stale), t.lease(ip), "unmarked, the row is taken");
  }

  @Test
  void discoverOfferRequestAckStoresTheLease() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address ip = offered(t.discover(A, Optional.empty(), T0));
    assertEquals(Ipv4.parse("10.77.0.100"), ip);
    Decision d = t.request(A, Optional.of(SELF), true, Optional.of(ip), ZERO, T0 + 10);
    Decision.Ack ack = assertInstanceOf(Decision.Ack.class, d);
    assertEquals(600, ack.leaseSeconds());
    assertEquals(
        List.of(new Lease(ip, Optional.of(A), Lease.State.BOUND, T0 + 10 + 600_000)),
        ack.changes());
  }

  @Test
  void offersAreNotStoredAndHoldTheirAddress() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Decision d = t.discover(A, Optional.empty(), T0);
    assertEquals(List.of(), d.changes());
    assertNotEquals(offered(d), offered(t.discover(B, Optional.empty(), T0 + 1)), "held for A");
    assertEquals(
        offered(d), offered(t.discover(A, Optional.empty(), T0 + 2)), "A asks again: same offer");
  }

  @Test
  void sameAddressAcrossFirmwareIpxeAndLinuxRounds() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address fw = select(t, A, T0);
    select(t, B, T0);
    // iPXE: a fresh DISCOVER (another client id, same chaddr) gets the same address
    assertEquals(fw, select(t, A, T0 + 5_000));
    // Linux: INIT-REBOOT with option 50 and no server id
    Decision linux = t.request(A, Optional.empty(), false, Optional.of(fw), ZERO, T0 + 30_000);
    assertEquals(fw, assertInstanceOf(Decision.Ack.class, linux).ip());
  }

  @Test
  void requestNamingAnotherServerForgetsOurOfferSilently() {
    LeaseTable t = table("10.77.0.100", "10.77.0.100");
    Inet4Address ip = offered(t.discover(A, Optional.empty(), T0));
    assertInstanceOf(
        Decision.Ignore.class,
        t.request(
            A,
            Optional.of(OTHER_SERVER),
            false,
            Optional.of(Ipv4.parse("10.77.0.200")),
            ZERO,
            T0 + 1));
    assertEquals(
        ip,
        offered(t.discover(B, Optional.empty(), T0 + 2)),
        "the one-address pool is free again at once");
  }

  @Test
  void selectingAnAddressWeDidNotOfferIsNaked() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    offered(t.discover(A, Optional.empty(), T0));
    assertInstanceOf(
        Decision.Nak.class,
        t.request(A, Optional.of(SELF), true, Optional.of(Ipv4.parse("10.77.0.120")), ZERO, T0));
  }

  @Test
  void initRebootOfAnotherMacsAddressOrAForeignNetworkIsNaked() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address a = select(t, A, T0);
    assertInstanceOf(
        Decision.Nak.class, t.request(B, Optional.empty(), false, Optional.of(a), ZERO, T0 + 1));
    Decision.Nak nak =
        assertInstanceOf(
            Decision.Nak.class,
            t.request(
                B, Optional.empty(), false, Optional.of(Ipv4.parse("192.168.1.50")), ZERO, T0 + 1));
    assertTrue(nak.reason().contains("not an address of this network"), nak.reason());
    assertInstanceOf(
        Decision.Nak.class, t.request(B, Optional.empty(), false, Optional.of(SELF), ZERO, T0 + 1));
  }

  @Test
  void initRebootWithoutAnyRecordIsIgnored() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    assertInstanceOf(
        Decision.Ignore.class,
        t.request(A, Optional.empty(), false, Optional.of(Ipv4.parse("10.77.0.120")), ZERO, T0));
  }

  @Test
  void renewalExtendsAndWrongRenewalIsNaked() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address a = select(t, A, T0);
    Decision.Ack renew =
        assertInstanceOf(
            Decision.Ack.class,
            t.request(A, Optional.empty(), false, Optional.empty(), a, T0 + 300_000));
    assertEquals(T0 + 900_000, renew.changes().get(0).expiresMillis());
    Inet4Address b = select(t, B, T0);
    assertInstanceOf(
        Decision.Nak.class,
        t.request(A, Optional.empty(), false, Optional.empty(), b, T0 + 300_000));
  }

  @Test
  void expiredLeasesAreReclaimedOldestFirst() {
    LeaseTable t = table("10.77.0.100", "10.77.0.101");
    Inet4Address a = select(t, A, T0);
    Inet4Address b = select(t, B, T0 + 1000);
    assertInstanceOf(
        Decision.Ignore.class,
        t.discover(C, Optional.empty(), T0 + 2000),
        "pool exhausted while both leases run");
    Inet4Address c = offered(t.discover(C, Optional.empty(), T0 + 10 * 600_000));
    assertEquals(a, c, "A's lease ended first");
    // A comes back: its old address is C's now, so it gets B's expired one, and B is NAKed on
    // renewal
    assertEquals(b, select(t, A, T0 + 10 * 600_000));
    assertInstanceOf(
        Decision.Nak.class,
        t.request(B, Optional.empty(), false, Optional.empty(), b, T0 + 10 * 600_000));
  }

  @Test
  void declineQuarantinesTheAddress() {
    LeaseTable t = table("10.77.0.100", "10.77.0.101");
    Inet4Address a = select(t, A, T0);
    Decision.Noted n = assertInstanceOf(Decision.Noted.class, t.decline(A, a, T0 + 1));
    assertEquals(Optional.empty(), n.changes().get(0).mac());
    assertNotEquals(a, select(t, A, T0 + 2));
    assertInstanceOf(
        Decision.Ignore.class,
        t.discover(B, Optional.empty(), T0 + 3),
        "one address left, held for A");
    assertInstanceOf(
        Decision.Nak.class, t.request(C, Optional.empty(), false, Optional.of(a), ZERO, T0 + 4));
    assertEquals(
        a,
        offered(t.discover(C, Optional.empty(), T0 + 1 + LeaseTable.QUARANTINE_MILLIS)),
        "quarantine over");
    assertInstanceOf(Decision.Ignore.class, t.decline(B, a, T0), "B never held it");
  }

  @Test
  void releaseFreesTheAddressButTheSameMacGetsItBack() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address a = select(t, A, T0);
    Decision.Noted n = assertInstanceOf(Decision.Noted.class, t.release(A, a, T0 + 1));
    assertEquals(Lease.State.RELEASED, n.changes().get(0).state());
    assertNotEquals(
        a, offered(t.discover(B, Optional.empty(), T0 + 2)), "never-used addresses go first");
    assertEquals(a, select(t, A, T0 + 3));
    assertInstanceOf(Decision.Ignore.class, t.release(B, a, T0 + 4));
  }

  @Test
  void reservationsWinAndAreNeverGivenToOthers() {
    LeaseTable t = table("10.77.0.100", "10.77.0.101");
    Inet4Address r = Ipv4.parse("10.77.0.20");
    t.reservations(Map.of(A, r, C, Ipv4.parse("10.99.0.1")));
    assertEquals(r, select(t, A, T0), "outside the pool but reserved");
    assertInstanceOf(
        Decision.Nak.class, t.request(B, Optional.empty(), false, Optional.of(r), ZERO, T0));
    assertInstanceOf(
        Decision.Nak.class,
        t.request(A, Optional.empty(), false, Optional.of(Ipv4.parse("10.77.0.100")), ZERO, T0),
        "A must use its reservation");
    assertNotEquals(r, offered(t.discover(B, Optional.of(r), T0)));
  }

  @Test
  void aNewReservationMovesTheNodeAndReleasesItsOldLease() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address old = select(t, A, T0);
    Inet4Address r = Ipv4.parse("10.77.0.30");
    t.reservations(Map.of(A, r));
    assertInstanceOf(
        Decision.Nak.class,
        t.request(A, Optional.empty(), false, Optional.empty(), old, T0 + 1),
        "renewal of the old one");
    Decision d = t.discover(A, Optional.empty(), T0 + 2);
    assertEquals(r, offered(d));
    assertEquals(
        List.of(new Lease(old, Optional.of(A), Lease.State.RELEASED, T0 + 2)), d.changes());
  }

  @Test
  void storedLeasesAreHonouredAfterARestart() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    Inet4Address a = select(t, A, T0);
    LeaseTable restarted = table("10.77.0.100", "10.77.0.150");
    assertEquals(List.of(), restarted.load(t.leases()));
    assertNotEquals(a, offered(restarted.discover(B, Optional.of(a), T0 + 1)));
    assertEquals(a, offered(restarted.discover(A, Optional.empty(), T0 + 2)));
    assertEquals(
        a,
        assertInstanceOf(
                Decision.Ack.class,
                restarted.request(A, Optional.empty(), false, Optional.empty(), a, T0 + 3))
            .ip());
  }

  @Test
  void requestedAddressIsOfferedWhenFree() {
    LeaseTable t = table("10.77.0.100", "10.77.0.150");
    assertEquals(
        Ipv4.parse("10.77.0.140"),
        offered(t.discover(A, Optional.of(Ipv4.parse("10.77.0.140")), T0)));
    assertNotEquals(
        Ipv4.parse("10.77.0.9"),
        offered(t.discover(B, Optional.of(Ipv4.parse("10.77.0.9")), T0)),
        "outside the pool");
  }

  // ---- property: whatever happens, no address is held by two MACs and stored changes agree with
  // the table

  record Op(int kind, int mac, int ip, long dt) {}

  @Provide
  Arbitrary<List<Op>> ops() {
    return Combinators.combine(
            Arbitraries.integers().between(0, 6),
            Arbitraries.integers().between(0, 7),
            Arbitraries.integers().between(95, 105),
            Arbitraries.longs().between(0, 400_000))
        .as(Op::new)
        .list()
        .ofMaxSize(200);
  }

  @Property(tries = 300)
  void neverOneAddressForTwoMacs(@ForAll("ops") List<Op> ops) {
    LeaseTable t = table("10.77.0.100", "10.77.0.103");
    t.reservations(Map.of(mac(0), Ipv4.parse("10.77.0.101")));
    long now = T0;
    Map<Integer, MacAddress> acked = new HashMap<>();
    Map<Inet4Address, Lease> stored = new HashMap<>();
    for (Op op : ops) {
      now += op.dt();
      MacAddress m = mac(op.mac());
      Inet4Address ip = Ipv4.parse("10.77.0." + op.ip());
      Decision d =
          switch (op.kind()) {
            case 0 -> t.discover(m, Optional.empty(), now);
            case 1 -> t.discover(m, Optional.of(ip), now);
            case 2 -> t.request(m, Optional.of(SELF), true, Optional.of(ip), ZERO, now);
            case 3 -> t.request(m, Optional.empty(), false, Optional.of(ip), ZERO, now);
            case 4 -> t.request(m, Optional.empty(), false, Optional.empty(), ip, now);
            case 5 -> t.decline(m, ip, now);
            default -> t.release(m, ip, now);
          };
      d.changes().forEach(l -> stored.put(l.ip(), l));
      if (d instanceof Decision.Ack a) {
        assertTrue(t.assignable(a.ip()));
        int v = Ipv4.toInt(a.ip());
        // an ACKed address may change hands only once the previous lease ended or was given back
        for (Lease l : stored.values()) {
          if (!l.ip().equals(a.ip())
              && l.state() == Lease.State.BOUND
              && l.mac().equals(Optional.of(m))
              && l.activeAt(now)) {
            throw new AssertionError(m + " holds two running leases: " + l + " and " + a);
          }
        }
        acked.put(v, m);
        if (!m.equals(mac(0))) {
          assertNotEquals(Ipv4.parse("10.77.0.101"), a.ip(), "reserved address went to " + m);
        }
      }
      Set<MacAddress> holders = new HashSet<>();
      for (Lease l : t.leases()) {
        if (l.activeAt(now) && l.mac().isPresent()) {
          assertTrue(holders.add(l.mac().get()), l.mac().get() + " holds two addresses");
        }
      }
      for (Lease l : stored.values()) {
        Lease live = t.lease(l.ip()).orElse(null);
        if (l.state() == Lease.State.BOUND && l.activeAt(now)) {
          assertEquals(l, live, "a stored running lease is what the table holds");
        }
      }
    }
  }

  static MacAddress mac(int i) {
    return new MacAddress(0x525400000000L + i);
  }
}

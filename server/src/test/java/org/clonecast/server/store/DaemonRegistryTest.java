package org.clonecast.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.clonecast.common.testing.MutableClock;
import org.clonecast.server.config.StoreConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Daemons on one PostgreSQL store announce themselves, beat, stop cleanly or die, and know each
 * other; the one daemon of a SQLite store knows itself.
 */
class DaemonRegistryTest {
  private static final String SECRET_A = "a".repeat(64);
  private static final String SECRET_B = "b".repeat(64);

  @TempDir Path dir;
  Database a;
  Database b;
  final MutableClock clock = new MutableClock(Instant.parse("2026-12-07T09:00:00Z"));

  @BeforeEach
  void open() {
    StoreConfig store = TestStore.POSTGRESQL.config();
    a = Database.open(dir.resolve("a"), store);
    b = Database.open(dir.resolve("b"), store);
  }

  @AfterEach
  void close() {
    a.close();
    b.close();
  }

  @Test
  void daemonsOnOneStoreSeeEachOtherAndTheirSegments() throws Exception {
    DaemonRegistry ra = new DaemonRegistry(a, clock, SECRET_A);
    DaemonRegistry rb = new DaemonRegistry(b, clock, SECRET_B);
    ra.announce("http://10.77.0.1:8080", ip("10.77.0.1"), 24);
    rb.announce("http://10.78.0.1:8080", ip("10.78.0.1"), 24);

    List<DaemonRegistry.Member> seen = rb.list();
    assertEquals(2, seen.size());
    DaemonRegistry.Member ma = rb.get(a.daemon()).orElseThrow();
    assertEquals("http://10.77.0.1:8080", ma.url());
    assertEquals("10.77.0.0/24", ma.segment());
    assertEquals("10.78.0.0/24", rb.get(b.daemon()).orElseThrow().segment());
    assertTrue(ma.alive(clock.millis()));
    assertEquals(List.of(), ra.partners(), "another segment's daemon is no failover partner");

    rb.announce("http://10.77.0.2:8080", ip("10.77.0.2"), 24);
    assertEquals(List.of(b.daemon()), ra.partners().stream().map(m -> m.id()).toList());
  }

  @Test
  void aDaemonWithoutHeartbeatIsDeadAndOneThatStoppedIsStopped() throws Exception {
    DaemonRegistry ra = new DaemonRegistry(a, clock, SECRET_A);
    DaemonRegistry rb = new DaemonRegistry(b, clock, SECRET_B);
    ra.announce("http://10.77.0.1:8080", ip("10.77.0.1"), 24);
    rb.announce("http://10.77.0.2:8080", ip("10.77.0.2"), 24);

    clock.advance(DaemonRegistry.DEAD_AFTER);
    assertTrue(rb.beat());
    assertEquals("running", state(rb, a), "a heartbeat exactly DEAD_AFTER old still counts");
    clock.advance(Duration.ofMillis(1));
    assertEquals("dead", state(rb, a));
    assertEquals(List.of(), rb.partners(), "a dead daemon is nobody's partner");
    assertTrue(ra.beat());
    assertEquals("running", state(rb, a));

    rb.stopped();
    assertEquals("stopped", state(ra, b));
    assertFalse(ra.get(b.daemon()).orElseThrow().alive(clock.millis()));
    assertTrue(rb.beat(), "a beat after a stop is a restart");
    assertEquals("running", state(ra, b));
  }

  @Test
  void theDaemonsAnsweringDhcpOnASegmentShareItsClientsUntilOneDies() throws Exception {
    DaemonRegistry ra = new DaemonRegistry(a, clock, SECRET_A);
    DaemonRegistry rb = new DaemonRegistry(b, clock, SECRET_B);
    ra.announce("http://10.77.0.1:8080", ip("10.77.0.1"), 24, true);
    assertEquals(List.of(0, 1), place(ra), "alone");
    rb.announce("http://10.77.0.2:8080", ip("10.77.0.2"), 24, false);
    assertEquals(List.of(0, 1), place(ra), "a daemon without DHCP takes no share");
    assertEquals(List.of(0, 1), place(rb), "nor does it answer any");
    rb.announce("http://10.77.0.2:8080", ip("10.77.0.2"), 24, true);
    boolean aFirst = a.daemon().compareTo(b.daemon()) < 0;
    assertEquals(List.of(aFirst ? 0 : 1, 2), place(ra));
    assertEquals(List.of(aFirst ? 1 : 0, 2), place(rb));

    clock.advance(DaemonRegistry.DEAD_AFTER.plusMillis(1));
    assertTrue(ra.beat());
    assertEquals(List.of(0, 1), place(ra), "b died: a answers every client");
    rb.announce("http://10.78.0.1:8080", ip("10.78.0.1"), 24, true);
    assertEquals(List.of(0, 1), place(ra), "b came back on another segment");
  }

  private static List<Integer> place(DaemonRegistry r) {
    int[] p = r.dhcpPlace();
    return List.of(p[0], p[1]);
  }

  @Test
  void onlyADaemonsOwnSecretActsForIt() throws Exception {
    DaemonRegistry ra = new DaemonRegistry(a, clock, SECRET_A);
    DaemonRegistry rb = new DaemonRegistry(b, clock, SECRET_B);
    ra.announce("http://10.77.0.1:8080", ip("10.77.0.1"), 24);
    rb.announce("http://10.77.0.2:8080", ip("10.77.0.2"), 24);

    assertTrue(rb.verifyPeer(a.daemon(), Optional.of(SECRET_A)));
    assertFalse(rb.verifyPeer(a.daemon(), Optional.of(SECRET_B)), "b's secret is not a's");
    assertFalse(rb.verifyPeer("no-such-daemon", Optional.of(SECRET_A)));
    assertFalse(rb.verifyPeer(a.daemon(), Optional.empty()));
    assertFalse(rb.verifyPeer(a.daemon(), Optional.of("a")), "malformed");
    assertFalse(rb.verifyPeer(null, Optional.of(SECRET_A)));
    ra.stopped();
    assertFalse(rb.verifyPeer(a.daemon(), Optional.of(SECRET_A)), "a stopped daemon calls nobody");
  }

  @Test
  void theOneDaemonOfASqliteStoreKnowsItself() throws Exception {
    try (Database only = Database.open(dir.resolve("sqlite"))) {
      DaemonRegistry r = new DaemonRegistry(only, clock, SECRET_A);
      r.announce("http://10.77.0.1:8080", ip("10.77.0.1"), 24);
      assertTrue(r.beat());
      assertEquals(List.of(only.daemon()), r.list().stream().map(m -> m.id()).toList());
      assertEquals("running", state(r, only));
      assertEquals(List.of(), r.partners());
      r.stopped();
      assertEquals("stopped", state(r, only));
    }
  }

  @Test
  void aSegmentIsTheNetworkOfTheAddress() {
    assertEquals("10.77.0.0/24", DaemonRegistry.segment("10.77.0.200", 24));
    assertEquals("10.76.0.0/14", DaemonRegistry.segment("10.77.3.4", 14));
    assertEquals("10.77.3.4/32", DaemonRegistry.segment("10.77.3.4", 32));
    assertEquals("0.0.0.0/0", DaemonRegistry.segment("10.77.3.4", 0));
  }

  private String state(DaemonRegistry r, Database d) {
    return r.get(d.daemon()).orElseThrow().state(clock.millis());
  }

  private static Inet4Address ip(String s) throws Exception {
    return (Inet4Address) InetAddress.getByName(s);
  }
}

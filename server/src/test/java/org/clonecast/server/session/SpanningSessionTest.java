package org.clonecast.server.session;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.clonecast.common.api.Disk;
import org.clonecast.common.net.NetInterface;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.StoreConfig;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.clonecast.server.store.SessionStore.Member;
import org.clonecast.server.store.TestStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions across daemons on one PostgreSQL database (docs/scale.md, "Sessions across daemons"):
 * each node is served by the daemon its agent registers with, each daemon runs its own part (its
 * own sender), the session ends only when every node has its own report, and a dead daemon's
 * unfinished nodes go to exactly one partner on its segment, which a daemon coming back leaves
 * alone. The daemons are real {@link SessionManager}s with real senders on loopback, each with its
 * own state directory and daemon id; the agents' calls are made directly.
 */
class SpanningSessionTest {
  static final MacAddress N1 = MacAddress.parse("52:54:00:00:01:01");
  static final MacAddress N2 = MacAddress.parse("52:54:00:00:01:02");
  static final List<Disk> DISKS = List.of(new Disk("/dev/vda", 1L << 30, false, "", ""));

  @TempDir Path dir;
  StoreConfig config;
  final List<Daemon> daemons = new ArrayList<>();
  ExecutorService worker;

  /** One daemon: its own database connection (own id), registry and session manager. */
  final class Daemon implements AutoCloseable {
    final Database db;
    final SessionStore store;
    final NodeStore nodes;
    final EventLog events;
    final SessionManager sessions;
    final DaemonRegistry registry;

    Daemon(String name, String address, int basePort, Clock registryClock) throws IOException {
      db = Database.open(dir.resolve(name), config);
      store = new SessionStore(db, Clock.systemUTC());
      nodes = new NodeStore(db, Clock.systemUTC());
      events = new EventLog(db, Clock.systemUTC());
      // One images directory for all: this test is about sessions, not replication.
      ImageStore images =
          new ImageStore(db, dir.resolve("images"), Clock.systemUTC(), events, worker);
      registry = new DaemonRegistry(db, registryClock, "0".repeat(64));
      registry.announce(
          "http://" + address + ":8080", (Inet4Address) InetAddress.getByName(address), 24);
      sessions =
          new SessionManager(
                  store,
                  nodes,
                  images,
                  events,
                  NetInterface.byName("lo"),
                  basePort,
                  Duration.ofSeconds(30),
                  Optional.empty())
              .spanDaemons(registry, image -> {});
      daemons.add(this);
    }

    String id() {
      return db.daemon();
    }

    ImageStore images() {
      return new ImageStore(db, dir.resolve("images"), Clock.systemUTC(), events, worker);
    }

    @Override
    public void close() {
      sessions.close();
      db.close();
    }
  }

  @BeforeEach
  void setUp() throws IOException {
    Files.createDirectories(dir.resolve("images"));
    config = TestStore.POSTGRESQL.config();
    worker = Executors.newSingleThreadExecutor();
  }

  @AfterEach
  void tearDown() {
    daemons.forEach(Daemon::close);
    worker.shutdownNow();
  }

  /** Adds a small image through daemon {@code d} and enrolls N1 and N2 in group rack. */
  private void imageAndNodes(Daemon d) throws Exception {
    Path disk = dir.resolve("golden.img");
    byte[] b = new byte[2 << 20];
    new Random(7).nextBytes(b);
    Files.write(disk, b);
    ImageStore images = d.images();
    images.add("golden", disk);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> !images.find("golden").orElseThrow().state().equals("adding"));
    assertTrue(images.find("golden").orElseThrow().ready(), images.find("golden").toString());
    d.nodes.enroll(N1, "n1", Optional.of("rack"));
    d.nodes.enroll(N2, "n2", Optional.of("rack"));
  }

  private static Map<String, Optional<String>> servedBy(Daemon d, long id) {
    return d.store.members(id).stream().collect(Collectors.toMap(Member::name, Member::daemon));
  }

  private static String state(Daemon d, long id) {
    return d.store.find(id).orElseThrow().state();
  }

  @Test
  void eachNodeIsServedByTheDaemonItsAgentCallsAndTheSessionEndsWithTheLastReport()
      throws Exception {
    Daemon a = new Daemon("a", "10.77.0.1", 21000, Clock.systemUTC());
    Daemon c = new Daemon("c", "10.78.0.1", 21600, Clock.systemUTC());
    imageAndNodes(a);
    long id = a.sessions.start("golden", "rack", 0, Duration.ofSeconds(60), false).id();
    assertTrue(a.sessions.wire(id).isPresent(), "the starting daemon runs its part");
    assertTrue(c.sessions.wire(id).isEmpty(), "another daemon only when an agent comes to it");

    SessionManager.Assignment onC = c.sessions.register(N2, DISKS);
    assertEquals("reimage", onC.action());
    assertEquals(21600 + id % 500, onC.port(), "C's own sender");
    assertEquals("127.0.0.1:" + onC.port(), onC.control());
    assertTrue(c.sessions.wire(id).isPresent(), "C runs its part");
    SessionManager.Assignment onA = a.sessions.register(N1, DISKS);
    assertEquals(21000 + id % 500, onA.port());
    assertEquals(Map.of("n1", Optional.of(a.id()), "n2", Optional.of(c.id())), servedBy(a, id));

    c.sessions.result(N2, id, true, "written and verified", Optional.empty(), 0);
    assertTrue(a.store.find(id).orElseThrow().active(), "n1 has not reported");
    a.sessions.result(N1, id, true, "written and verified", Optional.empty(), 0);
    assertEquals("done", state(c, id), "the last report ends it, whichever daemon gets it");
    assertEquals(Optional.of("2 of 2 node(s) re-imaged"), a.store.find(id).orElseThrow().detail());
    assertTrue(a.sessions.wire(id).isEmpty(), "A's part stopped with the session");
    c.sessions.sweep();
    assertTrue(c.sessions.wire(id).isEmpty(), "C's part stops when it sees the session ended");
    assertEquals(
        1,
        a.events.recent(200).stream().filter(e -> e.message().startsWith("ended done")).count(),
        "ended once");
  }

  @Test
  void aDeadDaemonsNodesGoToOnePartnerAndAreDoneOnlyByTheirOwnReports() throws Exception {
    // A's heartbeat is a minute old: dead (it did not stop cleanly).
    Clock past = Clock.fixed(Instant.now().minusSeconds(60), ZoneOffset.UTC);
    Daemon a = new Daemon("a", "10.77.0.1", 22000, past);
    Daemon b = new Daemon("b", "10.77.0.2", 22600, Clock.systemUTC());
    Daemon c = new Daemon("c", "10.77.0.3", 23200, Clock.systemUTC());
    Daemon far = new Daemon("far", "10.78.0.1", 23800, Clock.systemUTC());
    imageAndNodes(a);
    long id = a.sessions.start("golden", "rack", 0, Duration.ofSeconds(60), false).id();
    a.sessions.register(N1, DISKS);
    a.sessions.register(N2, DISKS);
    a.sessions.progress(N1, id, "receiving", 1 << 20, 2 << 20, 0);
    a.sessions.close(); // killed: its sender gone, its rows as they were

    far.sessions.sweep();
    assertEquals(
        Map.of("n1", Optional.of(a.id()), "n2", Optional.of(a.id())),
        servedBy(b, id),
        "a daemon on another segment takes nothing");

    // The two partners sweep at once: every node goes to exactly one of them.
    CyclicBarrier together = new CyclicBarrier(2);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<?>> f = new ArrayList<>();
      for (Daemon d : List.of(b, c)) {
        f.add(
            pool.submit(
                () -> {
                  together.await(10, TimeUnit.SECONDS);
                  d.sessions.sweep();
                  return null;
                }));
      }
      for (Future<?> x : f) x.get(60, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    Map<String, Optional<String>> after = servedBy(b, id);
    Set<String> partners = Set.of(b.id(), c.id());
    assertTrue(
        after.values().stream().allMatch(o -> o.isPresent() && partners.contains(o.get())),
        after.toString());
    long takeovers =
        b.events.recent(200).stream()
            .filter(e -> e.message().contains(" took over "))
            .mapToLong(e -> e.message().split(",").length)
            .sum();
    assertTrue(takeovers >= 1, "recorded");
    for (Member m : b.store.members(id)) {
      assertFalse(m.finished(), m.name() + " is not done before its own report");
    }
    assertEquals("waiting", state(b, id));

    // A's own sender concluding about a node that is no longer A's changes nothing.
    assertFalse(
        a.store.updateMember(
            id,
            N1.toString(),
            "failed",
            Optional.empty(),
            Optional.empty(),
            Optional.empty(),
            Optional.of("stopped during the transfer"),
            true));

    // A comes back: it recovers only rows still its own, and there are none.
    Daemon back = new Daemon("a", "10.77.0.1", 22000, Clock.systemUTC());
    back.sessions.recover();
    for (Member m : b.store.members(id)) {
      assertFalse(m.finished(), m.name() + " left to its partner");
    }
    assertTrue(b.store.find(id).orElseThrow().active());

    // The agents come to their new daemon, register again (their disks checked: only the rest is
    // sent) and report; only their reports finish them.
    for (MacAddress mac : List.of(N1, N2)) {
      String served =
          b.store.members(id).stream()
              .filter(m -> m.mac().equals(mac.toString()))
              .findFirst()
              .orElseThrow()
              .daemon()
              .orElseThrow();
      Daemon to = served.equals(b.id()) ? b : c;
      SessionManager.Assignment re = to.sessions.register(mac, DISKS);
      assertEquals("reimage", re.action());
      assertTrue(to.sessions.wire(id).isPresent(), "the partner's part sends");
      to.sessions.result(mac, id, true, "written and verified", Optional.empty(), 0);
    }
    assertEquals("done", state(b, id));
    assertEquals(
        Set.of("done"),
        b.store.members(id).stream().map(Member::state).collect(Collectors.toSet()));
  }

  @Test
  void aDaemonRestartingFailsOnlyItsOwnNodes() throws Exception {
    Daemon a = new Daemon("a", "10.77.0.1", 24000, Clock.systemUTC());
    Daemon c = new Daemon("c", "10.78.0.1", 24600, Clock.systemUTC());
    imageAndNodes(a);
    long id = a.sessions.start("golden", "rack", 0, Duration.ofSeconds(60), false).id();
    a.sessions.register(N1, DISKS);
    c.sessions.register(N2, DISKS);
    a.sessions.close();
    Daemon back = new Daemon("a", "10.77.0.1", 24000, Clock.systemUTC());
    back.sessions.recover();
    Map<String, String> states =
        c.store.members(id).stream().collect(Collectors.toMap(Member::name, Member::state));
    assertEquals(Map.of("n1", "failed", "n2", "registered"), states);
    assertTrue(c.store.find(id).orElseThrow().active(), "C's node is still at work");
    c.sessions.result(N2, id, true, "written and verified", Optional.empty(), 0);
    assertEquals("failed", state(c, id));
    assertEquals(Optional.of("1 of 2 node(s) re-imaged"), c.store.find(id).orElseThrow().detail());
  }
}

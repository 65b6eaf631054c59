package org.clonecast.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.StoreConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

@ParameterizedClass
@EnumSource(TestStore.class)
class NodeStoreTest {
  private static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");
  private static final MacAddress B = MacAddress.parse("52:54:00:00:00:0b");

  @Parameter TestStore kind;
  @TempDir Path dir;
  StoreConfig store;
  Database db;
  NodeStore nodes;

  @BeforeEach
  void open() {
    store = kind.config();
    db = Database.open(dir, store);
    nodes = new NodeStore(db, Clock.fixed(Instant.ofEpochMilli(1000), ZoneOffset.UTC));
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void aSessionSelectsAGroupAllOrNamedNodes() {
    nodes.enroll(A, "node-a", Optional.of("rack1"));
    nodes.enroll(B, "node-b", Optional.empty());
    assertEquals(List.of(A), nodes.select("rack1").stream().map(Node::mac).toList());
    assertEquals(2, nodes.select("all").size());
    assertEquals(
        Set.of(A, B), Set.copyOf(nodes.select("Node-A, " + B).stream().map(Node::mac).toList()));
    assertEquals(List.of(B), nodes.select("node-b").stream().map(Node::mac).toList());
    assertTrue(nodes.select("rack9").isEmpty());
  }

  @Test
  void anUnknownMacIsDiscoveredAndBootsLocally() {
    Node n = nodes.recordSeen(A, Optional.of("bios"), Optional.of("10.0.0.5"));
    assertEquals(NodeState.DISCOVERED, n.state());
    assertEquals(BootAction.LOCAL, n.action());
    assertEquals(Optional.empty(), n.name());
    assertEquals(Optional.of("10.0.0.5"), n.ip());
  }

  /**
   * Forged requests for random MACs: the discovered nodes stay capped, the least recently seen go
   * first, enrolled ones stay.
   */
  @Test
  void discoveredNodesAreCappedAndTheLeastRecentlySeenForgotten() {
    long[] now = {1000};
    Clock moving =
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
            return Instant.ofEpochMilli(now[0]);
          }
        };
    NodeStore capped = new NodeStore(db, moving, 3);
    capped.enroll(A, "node01", Optional.empty());
    List<NodeStore.NodeChange> heard = new ArrayList<>();
    capped.listen(heard::add);
    for (int i = 1; i <= 10; i++) {
      now[0] += 1000;
      capped.recordBootScript(MacAddress.parse(String.format("02:00:00:00:00:%02x", i)));
      if (i == 8) {
        now[0] += 1000;
        capped.recordBootScript(MacAddress.parse("02:00:00:00:00:08")); // seen again: the newest
      }
    }
    List<Node> discovered = capped.list().stream().filter(n -> !n.enrolled()).toList();
    assertEquals(
        List.of("02:00:00:00:00:08", "02:00:00:00:00:09", "02:00:00:00:00:0a"),
        discovered.stream().map(n -> n.mac().toString()).sorted().toList());
    assertTrue(capped.find(A).orElseThrow().enrolled(), "an enrolled node is never forgotten");
    assertEquals(
        7,
        heard.stream().filter(c -> c.after().isEmpty()).count(),
        "each removal told to the listeners");
    assertThrows(IllegalArgumentException.class, () -> new NodeStore(db, moving, 0));
  }

  @Test
  void aBootScriptRequestNeverMovesANodesAddress() {
    nodes.enroll(A, "node01", Optional.empty());
    nodes.recordSeen(A, Optional.empty(), Optional.of("10.0.0.5")); // its lease
    Node n = nodes.recordBootScript(A);
    assertEquals(Optional.of("10.0.0.5"), n.ip());
    assertEquals(
        Optional.empty(),
        nodes.recordBootScript(B).ip(),
        "a new MAC is discovered without an address");
  }

  @Test
  void enrollingADiscoveredNodeKeepsItsHistoryAndStaysLocal() {
    nodes.recordSeen(A, Optional.of("efi-x64"), Optional.empty());
    Node n = nodes.enroll(A, "node01", Optional.of("rack1"));
    assertEquals(NodeState.ENROLLED, n.state());
    assertEquals(BootAction.LOCAL, n.action());
    assertEquals(Optional.of("efi-x64"), n.arch());
    assertEquals(Optional.of("rack1"), n.group());
  }

  @Test
  void namesAreUniqueAndValidated() {
    nodes.enroll(A, "node01", Optional.empty());
    assertThrows(ConflictException.class, () -> nodes.enroll(B, "node01", Optional.empty()));
    assertThrows(ConflictException.class, () -> nodes.enroll(A, "node09", Optional.empty()));
    assertThrows(IllegalArgumentException.class, () -> nodes.enroll(B, "Node_1", Optional.empty()));
    assertThrows(IllegalArgumentException.class, () -> nodes.enroll(B, "-x", Optional.empty()));
    assertThrows(IllegalArgumentException.class, () -> nodes.enroll(B, "ok", Optional.of("all")));
  }

  @Test
  void updateChangesOnlyWhatIsGiven() {
    nodes.enroll(A, "node01", Optional.of("rack1"));
    Node n = nodes.update(A, NodeStore.Change.action(BootAction.REIMAGE));
    assertEquals(BootAction.REIMAGE, n.action());
    assertEquals(Optional.of("rack1"), n.group());
    n =
        nodes.update(
            A,
            new NodeStore.Change(
                Optional.of("node02"),
                Optional.of(Optional.empty()),
                Optional.empty(),
                Optional.empty(),
                Optional.empty()));
    assertEquals(Optional.of("node02"), n.name());
    assertEquals(Optional.empty(), n.group());
    assertEquals(BootAction.REIMAGE, n.action());
    assertThrows(
        NotFoundException.class, () -> nodes.update(B, NodeStore.Change.action(BootAction.LOCAL)));
  }

  @Test
  void selectTakesGroupOrAllAndSkipsDiscovered() {
    nodes.enroll(A, "node01", Optional.of("rack1"));
    nodes.enroll(B, "node02", Optional.empty());
    nodes.recordSeen(MacAddress.parse("52:54:00:00:00:0c"), Optional.empty(), Optional.empty());
    assertEquals(List.of(A), nodes.select("rack1").stream().map(Node::mac).toList());
    assertEquals(List.of(A, B), nodes.select("all").stream().map(Node::mac).toList());
    assertEquals(3, nodes.list().size());
  }

  @Test
  void stateSurvivesReopening() {
    nodes.enroll(A, "node01", Optional.empty());
    nodes.update(A, NodeStore.Change.action(BootAction.REIMAGE));
    nodes.setState(A, NodeState.FAILED, Optional.of("disk too small"));
    db.close();
    db = Database.open(dir, store);
    Node n = new NodeStore(db, Clock.systemUTC()).find(A).orElseThrow();
    assertEquals(BootAction.REIMAGE, n.action());
    assertEquals(NodeState.FAILED, n.state());
    assertEquals(Optional.of("disk too small"), n.detail());
  }

  @Test
  void aDatabaseFromANewerVersionIsRefusedNotDamaged() {
    db.close();
    List<String> newer = new ArrayList<>(Schema.MIGRATIONS);
    newer.add("CREATE TABLE later (x INTEGER)");
    db = Database.open(dir, store, newer);
    db.close();
    StoreException e = assertThrows(StoreException.class, () -> Database.open(dir, store));
    assertTrue(
        e.getMessage().contains("schema version " + newer.size())
            && e.getMessage().contains("knows only versions up to " + Schema.MIGRATIONS.size()),
        e.getMessage());
    db = Database.open(dir, store, newer);
  }

  @Test
  void eventsArePagedByIdAndHeardByListeners() {
    EventLog log = new EventLog(db, Clock.systemUTC());
    List<Event> heard = new ArrayList<>();
    log.listen(heard::add);
    Event first = log.node("node", A.toString(), "one");
    log.node("node", A.toString(), "two");
    log.record("daemon", Optional.empty(), Optional.empty(), "three");
    assertEquals(3, heard.size());
    assertEquals(
        List.of("two", "three"), log.after(first.id(), 10).stream().map(Event::message).toList());
    assertEquals(List.of("two", "three"), log.recent(2).stream().map(Event::message).toList());
  }

  @Test
  void listenersHearEveryWriteWithBeforeAndAfter() {
    List<NodeStore.NodeChange> heard = new ArrayList<>();
    nodes.listen(heard::add);
    nodes.listen(
        c -> {
          throw new IllegalStateException("a broken listener does not break the write");
        });
    nodes.enroll(A, "node01", Optional.empty());
    nodes.recordSeen(A, Optional.empty(), Optional.of("10.0.0.5"));
    nodes.update(A, new NodeStore.Change(Optional.of("web01"), Optional.empty(), Optional.empty()));
    assertTrue(nodes.remove(A));
    assertEquals(4, heard.size());
    assertTrue(heard.get(0).before().isEmpty());
    assertEquals(Optional.of("10.0.0.5"), heard.get(1).after().orElseThrow().ip());
    assertEquals(Optional.of("node01"), heard.get(2).before().orElseThrow().name());
    assertEquals(Optional.of("web01"), heard.get(2).after().orElseThrow().name());
    assertEquals(Optional.of("web01"), heard.get(3).before().orElseThrow().name());
    assertTrue(heard.get(3).after().isEmpty());
    assertTrue(!nodes.remove(A), "removing an unknown node reports false and tells nobody");
    assertEquals(4, heard.size());
  }

  @Test
  void reservationsAreUniqueAndCanBeDropped() {
    nodes.enroll(A, "node01", Optional.empty(), Optional.of("10.77.0.20"));
    ConflictException e =
        assertThrows(
            ConflictException.class,
            () -> nodes.enroll(B, "node02", Optional.empty(), Optional.of("10.77.0.20")));
    assertTrue(e.getMessage().contains("reserved for " + A), e.getMessage());
    nodes.enroll(B, "node02", Optional.empty());
    assertThrows(
        ConflictException.class,
        () ->
            nodes.update(
                B,
                new NodeStore.Change(
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    Optional.of(Optional.of("10.77.0.20")),
                    Optional.empty())));
    assertEquals(Map.of(A, "10.77.0.20"), reservations());
    Node n =
        nodes.update(
            A,
            new NodeStore.Change(
                Optional.empty(),
                Optional.empty(),
                Optional.empty(),
                Optional.of(Optional.empty()),
                Optional.empty()));
    assertEquals(Optional.empty(), n.reservedIp());
    nodes.update(
        B,
        new NodeStore.Change(
            Optional.empty(),
            Optional.empty(),
            Optional.empty(),
            Optional.of(Optional.of("10.77.0.20")),
            Optional.empty()));
    assertEquals(Map.of(B, "10.77.0.20"), reservations());
    assertEquals(Optional.of("10.77.0.20"), nodes.find(B).orElseThrow().reservedIp());
  }

  /** Every reserved address in the inventory: MAC to dotted quad. */
  private Map<MacAddress, String> reservations() {
    Map<MacAddress, String> out = new HashMap<>();
    nodes.list().forEach(n -> n.reservedIp().ifPresent(ip -> out.put(n.mac(), ip)));
    return out;
  }
}

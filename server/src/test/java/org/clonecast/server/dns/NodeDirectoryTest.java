package org.clonecast.server.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeDirectoryTest {
  private static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");
  private static final MacAddress B = MacAddress.parse("52:54:00:00:00:0b");
  @TempDir Path dir;
  Database db;
  NodeStore nodes;

  @BeforeEach
  void open() {
    db = Database.open(dir);
    nodes = new NodeStore(db, Clock.systemUTC());
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void enrolledNodesWithAnAddressAreHostsAndTheListChangesOnlyWithThem() {
    NodeDirectory d = new NodeDirectory(nodes);
    nodes.recordSeen(
        B, Optional.empty(), Optional.of("10.77.0.12")); // discovered, no name: not in DNS
    nodes.enroll(A, "node01", Optional.empty()); // no address yet
    assertEquals(List.of(), d.hosts());
    nodes.recordSeen(A, Optional.empty(), Optional.of("10.77.0.11"));
    List<HostDirectory.Host> one = d.hosts();
    assertEquals(List.of(new HostDirectory.Host("node01", Ipv4.parse("10.77.0.11"))), one);
    nodes.recordSeen(A, Optional.of("bios"), Optional.of("10.77.0.11"));
    assertSame(one, d.hosts(), "a write that changes no name or address keeps the same list");
    nodes.update(A, new NodeStore.Change(Optional.of("web01"), Optional.empty(), Optional.empty()));
    assertEquals(List.of(new HostDirectory.Host("web01", Ipv4.parse("10.77.0.11"))), d.hosts());
    nodes.remove(A);
    assertEquals(List.of(), d.hosts());
  }
}

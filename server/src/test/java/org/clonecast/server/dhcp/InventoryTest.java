package org.clonecast.server.dhcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The in-memory inventory follows every committed change of a real node store. */
class InventoryTest {
  static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");
  static final MacAddress B = MacAddress.parse("52:54:00:00:00:0b");

  @TempDir Path dir;

  @Test
  void followsEnrollmentsReservationsSightingsAndRemovals() {
    try (Database db = Database.open(dir)) {
      NodeStore nodes = new NodeStore(db, Clock.systemUTC());
      nodes.enroll(A, "node01", Optional.empty(), Optional.of("10.77.0.20"));
      try (Inventory inventory = Inventory.following(nodes)) {
        assertEquals(
            Optional.of("node01"), inventory.find(A).orElseThrow().name(), "loaded at start");
        assertEquals(Map.of(A, Ipv4.parse("10.77.0.20")), inventory.reservations());
        long version = inventory.reservationsVersion();

        nodes.recordSeen(B, Optional.of("bios"), Optional.empty());
        assertEquals(Optional.of("bios"), inventory.find(B).orElseThrow().arch());
        assertEquals(version, inventory.reservationsVersion(), "a sighting changes no reservation");

        nodes.update(A, NodeStore.Change.action(BootAction.REIMAGE));
        assertEquals(BootAction.REIMAGE, inventory.find(A).orElseThrow().action());

        nodes.update(
            A,
            new NodeStore.Change(
                Optional.empty(),
                Optional.empty(),
                Optional.empty(),
                Optional.of(Optional.of("10.77.0.21")),
                Optional.empty()));
        assertNotEquals(version, inventory.reservationsVersion());
        assertEquals(Map.of(A, Ipv4.parse("10.77.0.21")), inventory.reservations());

        assertTrue(nodes.remove(B));
        assertEquals(Optional.empty(), inventory.find(B));
        inventory.close();
        nodes.recordSeen(B, Optional.empty(), Optional.empty());
        assertEquals(Optional.empty(), inventory.find(B), "closed: no longer following");
      }
    }
  }
}

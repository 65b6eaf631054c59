package org.clonecast.server.dhcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.Inet4Address;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LeaseExpiryTest {
  private static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");
  private static final MacAddress STRANGER = MacAddress.parse("52:54:00:00:00:0b");
  private static final Inet4Address IP_A = Ipv4.parse("10.77.0.100");
  private static final Inet4Address IP_S = Ipv4.parse("10.77.0.101");

  @TempDir Path dir;

  /** A clock the test moves. */
  private static Clock clock(AtomicLong now) {
    return new Clock() {
      @Override
      public ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(ZoneId z) {
        return this;
      }

      @Override
      public Instant instant() {
        return Instant.ofEpochMilli(now.get());
      }
    };
  }

  @Test
  void anEnrolledNodesLeaseThatExpiresOrIsReleasedIsReportedOnce() throws Exception {
    AtomicLong now = new AtomicLong(1_000_000);
    Clock clock = clock(now);
    try (Database db = Database.open(dir)) {
      NodeStore nodes = new NodeStore(db, clock);
      nodes.enroll(A, "node07", Optional.empty());
      LeaseStore leases = new LeaseStore(db);
      db.write(
          c -> {
            LeaseStore.save(
                c,
                List.of(
                    new LeaseStore.Write(
                        A, new Lease(IP_A, Optional.of(A), Lease.State.BOUND, 1_060_000)),
                    new LeaseStore.Write(
                        STRANGER,
                        new Lease(IP_S, Optional.of(STRANGER), Lease.State.BOUND, 1_060_000))),
                now.get());
            return null;
          });
      List<String> ended = new ArrayList<>();
      LeaseExpiry expiry =
          new LeaseExpiry(
              leases, nodes, clock, (name, ip) -> ended.add(name + " " + ip.getHostAddress()));
      expiry.sweep();
      assertEquals(List.of(), ended, "both leases are running");
      now.set(1_060_001);
      expiry.sweep();
      assertEquals(
          List.of("node07 10.77.0.100"),
          ended,
          "expired; the stranger is not in the inventory, so nothing for it");
      expiry.sweep();
      assertEquals(1, ended.size(), "reported once");

      db.write(
          c -> {
            LeaseStore.save(
                c,
                List.of(
                    new LeaseStore.Write(
                        A, new Lease(IP_A, Optional.of(A), Lease.State.BOUND, 2_000_000))),
                now.get());
            return null;
          });
      expiry.sweep();
      db.write(
          c -> {
            LeaseStore.save(
                c,
                List.of(
                    new LeaseStore.Write(
                        A, new Lease(IP_A, Optional.of(A), Lease.State.RELEASED, 2_000_000))),
                now.get());
            return null;
          });
      expiry.sweep();
      assertEquals(
          List.of("node07 10.77.0.100", "node07 10.77.0.100"), ended, "a RELEASE ends it too");
    }
  }
}

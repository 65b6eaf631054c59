package org.clonecast.server.dhcp;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.config.SecureBootNodes;
import org.clonecast.server.config.StoreConfig;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.TestStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The merge of the other daemons' leases on a real PostgreSQL store: while its read waits for the
 * store (the leases table locked by another session), the DHCP event loop goes on answering; once
 * the store answers, the other daemon's lease is in the tables.
 */
class LeaseMergeTest {
  static final MacAddress THEIR_CLIENT = MacAddress.parse("02:00:00:00:00:0b");
  static final Inet4Address THEIR_IP = Ipv4.parse("10.77.0.140");
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;

  @Test
  void theLoopAnswersWhileTheReadWaitsAndTheRowsArriveAfter() throws Exception {
    StoreConfig.Postgres pg = (StoreConfig.Postgres) TestStore.POSTGRESQL.config();
    Clock clock = Clock.systemUTC();
    EventLoop loop = new DefaultEventLoop();
    try (Database db = Database.open(dir, pg);
        Connection other = connect(pg);
        Connection watch = connect(pg)) {
      DhcpResponder responder =
          DhcpHandlerTest.responder(DhcpConfig.Mode.FULL, SecureBootNodes.OFF, List.of());
      // Another daemon binds an address and, before it commits, holds the table locked.
      other.setAutoCommit(false);
      try (Statement s = other.createStatement()) {
        s.execute("LOCK TABLE leases IN ACCESS EXCLUSIVE MODE");
      }
      try (PreparedStatement ps =
          other.prepareStatement(
              "INSERT INTO leases (ip, mac, state, expires) VALUES (?, ?, 'bound', ?)")) {
        ps.setString(1, THEIR_IP.getHostAddress());
        ps.setString(2, THEIR_CLIENT.toString());
        ps.setLong(3, clock.millis() + 600_000);
        ps.executeUpdate();
      }
      try (LeaseMerge merge =
          LeaseMerge.start(
              loop, responder, new LeaseStore(db)::loadAll, clock, Duration.ofMillis(100))) {
        await().atMost(WAIT).until(() -> readsWaitingForTheLock(watch) > 0);
        // With the read on the loop, this would wait until the lock goes.
        Inet4Address offered =
            loop.submit(() -> offer(responder, clock)).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(Ipv4.parse("10.77.0.100"), offered, "the pool's first address");

        other.commit();
        await()
            .atMost(WAIT)
            .until(
                () ->
                    THEIR_IP.equals(
                        loop.submit(() -> offer(responder, clock))
                            .get(WAIT.toSeconds(), TimeUnit.SECONDS)));
      }
    } finally {
      loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  /** What the other daemon's client is offered: its own lease once the tables know it. */
  private static Inet4Address offer(DhcpResponder responder, Clock clock) {
    DhcpResponder.Result r =
        responder.handle(
            DhcpHandlerTest.plain(DhcpMessageType.DISCOVER, THEIR_CLIENT).build(),
            DhcpHandlerTest.CLIENT,
            false,
            Inventory.of(List.of()),
            clock.millis());
    return r.reply().orElseThrow().packet().yiaddr();
  }

  private static Connection connect(StoreConfig.Postgres pg) throws SQLException {
    return DriverManager.getConnection(
        pg.jdbcUrl(), pg.user().orElseThrow(), pg.password().orElseThrow());
  }

  /**
   * Sessions whose read of every lease waits for a lock (on a connection outside a transaction: one
   * transaction sees one snapshot of the statistics).
   */
  private static int readsWaitingForTheLock(Connection c) throws SQLException {
    try (PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    + " AND query LIKE 'SELECT ip, mac, state, expires FROM leases%'");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getInt(1);
    }
  }
}

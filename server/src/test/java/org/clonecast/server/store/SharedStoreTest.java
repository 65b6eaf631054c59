package org.clonecast.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.testing.TestPostgres;
import org.clonecast.server.config.StoreConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several daemons (each its own state directory) on one PostgreSQL database: they migrate it once
 * when they start together, and each recovers only its own sessions.
 */
class SharedStoreTest {
  @TempDir Path dir;

  @Test
  void daemonsStartingTogetherMigrateTheDatabaseOnce() throws Exception {
    TestPostgres pg = TestStore.server();
    String name = pg.newDatabase();
    StoreConfig store = StoreConfig.parse(pg.url(name));
    int n = 4;
    ExecutorService pool = Executors.newFixedThreadPool(n);
    List<Database> opened = new ArrayList<>();
    try {
      CyclicBarrier start = new CyclicBarrier(n);
      List<Future<Database>> f = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Path state = dir.resolve("d" + i);
        f.add(
            pool.submit(
                () -> {
                  start.await(10, TimeUnit.SECONDS);
                  return Database.open(state, store);
                }));
      }
      for (Future<Database> d : f) {
        opened.add(d.get(60, TimeUnit.SECONDS));
      }
      assertEquals(
          String.valueOf(Schema.MIGRATIONS.size()),
          pg.psql(name, "SELECT version FROM schema_version").strip());
      assertEquals("1", pg.psql(name, "SELECT count(*) FROM schema_version").strip());
    } finally {
      opened.forEach(Database::close);
      pool.shutdownNow();
    }
  }

  @Test
  void eachDaemonRecoversOnlyItsOwnSessions() {
    StoreConfig store = TestStore.POSTGRESQL.config();
    try (Database a = Database.open(dir.resolve("a"), store);
        Database b = Database.open(dir.resolve("b"), store)) {
      assertNotEquals(a.daemon(), b.daemon());
      SessionStore onA = new SessionStore(a, Clock.systemUTC());
      SessionStore onB = new SessionStore(b, Clock.systemUTC());
      long id = onA.create("golden", "all", 0, 60, 9400, List.of(), false).id();
      assertEquals(Set.of(id), onA.ownActive());
      assertEquals(Set.of(), onB.ownActive(), "B leaves A's session alone when it starts");
      assertEquals(
          List.of(id), onB.active().stream().map(SessionStore.Session::id).toList(), "B sees it");
      assertEquals(Optional.of("golden"), onB.find(id).map(SessionStore.Session::image));
    }
  }
}

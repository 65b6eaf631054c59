package org.clonecast.server.store;

import java.nio.file.Path;
import org.clonecast.common.testing.TestPostgres;
import org.clonecast.server.config.StoreConfig;

/**
 * The two stores a store test runs against
 * ({@code @ParameterizedClass @EnumSource(TestStore.class)}): the SQLite file in the test's
 * directory, and a new database on one throw-away PostgreSQL server ({@link TestPostgres}) started
 * on first use and stopped and removed when the test JVM exits.
 *
 * <p>Thread-safe.
 */
public enum TestStore {
  SQLITE,
  POSTGRESQL;

  private static TestPostgres server;

  /** A new, empty database of this kind ({@code dir}: SQLite's state directory). */
  public StoreConfig config() {
    return this == SQLITE
        ? new StoreConfig.Sqlite()
        : StoreConfig.parse(server().url(server().newDatabase()));
  }

  /** Opens a new, empty database of this kind. */
  public Database open(Path dir) {
    return Database.open(dir, config());
  }

  /** The shared PostgreSQL server (skips or, in CI, fails the test when it is not installed). */
  public static synchronized TestPostgres server() {
    if (server == null) {
      TestPostgres pg = TestPostgres.start();
      Runtime.getRuntime().addShutdownHook(new Thread(pg::close, "test-postgres-stop"));
      server = pg;
    }
    return server;
  }
}

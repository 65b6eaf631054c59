package org.clonecast.server.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import org.clonecast.server.config.StoreConfig;

/**
 * The daemon's state: by default one SQLite file under the state directory, in WAL mode with {@code
 * synchronous=FULL}, so a committed transaction survives a crash or power loss; or a PostgreSQL
 * database that several daemons share (docs/scale.md). A lease written here before the DHCP ACK
 * leaves is never handed out twice. What differs between the two is in {@link Dialect} only.
 *
 * <p>Schema changes are the ordered {@link Schema#MIGRATIONS}; the database records how many have
 * run ({@code PRAGMA user_version} on SQLite, the {@code schema_version} table on PostgreSQL), so
 * an older database is brought up to date on open and a newer one (from a later clonecast) is
 * refused rather than damaged. Pending migrations run in one transaction, on PostgreSQL under an
 * advisory lock, so two daemons starting at once on one database migrate it once.
 *
 * <p>Thread-safe: one connection for writes, used under a lock (SQLite serialises writers anyway,
 * and every statement here is short), and a separate read-only connection under its own lock, so
 * that readers (the dashboard, listings) never wait behind a write's fsync: a reader sees the last
 * committed state while a writer commits.
 */
public final class Database implements AutoCloseable {
  /** The database file's name inside the state directory. */
  public static final String FILE_NAME = "clonecast.db";

  /** The file in the state directory that holds this daemon's {@link #daemon} id. */
  public static final String DAEMON_ID_FILE = "daemon-id";

  /** Runs of a transaction that lost a race (see {@link Dialect#retryable}) before giving up. */
  static final int ATTEMPTS = 5;

  private final Dialect dialect;
  private final StoreConfig store;
  private final String url;

  /** What messages call this database: its file, or its URL without the password. */
  private final String where;

  private final String daemon;

  private Connection conn;
  private final ReentrantLock lock = new ReentrantLock();

  /**
   * The read-only connection, opened once the schema is up to date; until then reads use {@link
   * #conn}.
   */
  private volatile Connection reader;

  private final ReentrantLock readLock = new ReentrantLock();

  /**
   * Work on the connection inside a transaction. On PostgreSQL a transaction that lost a race with
   * another daemon's runs again, so work must change nothing but the database (collect what to
   * publish in its result, not in variables outside).
   */
  @FunctionalInterface
  public interface Work<T> {
    T apply(Connection c) throws SQLException;
  }

  /** Makes one value of the row a result set stands on. */
  @FunctionalInterface
  interface Row<T> {
    T map(ResultSet rs) throws SQLException;
  }

  /**
   * Every row {@code sql} selects with {@code args} bound to its parameters in order, made into
   * values by {@code row}, in order.
   */
  static <T> List<T> query(Connection c, String sql, Row<T> row, Object... args)
      throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, args)) {
      return rows(ps, row);
    }
  }

  /** The first row of {@link #query}, if any. */
  static <T> Optional<T> queryFirst(Connection c, String sql, Row<T> row, Object... args)
      throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, args)) {
      return first(ps, row);
    }
  }

  private static PreparedStatement prepare(Connection c, String sql, Object... args)
      throws SQLException {
    PreparedStatement ps = c.prepareStatement(sql);
    try {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      return ps;
    } catch (SQLException | RuntimeException e) {
      ps.close();
      throw e;
    }
  }

  /** Every row {@code ps} selects, made into values by {@code row}, in order. */
  static <T> List<T> rows(PreparedStatement ps, Row<T> row) throws SQLException {
    List<T> out = new ArrayList<>();
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(row.map(rs));
      }
    }
    return out;
  }

  /** The first row {@code ps} selects, if any, made into a value by {@code row}. */
  static <T> Optional<T> first(PreparedStatement ps, Row<T> row) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      return rs.next() ? Optional.of(row.map(rs)) : Optional.empty();
    }
  }

  /**
   * Runs {@code sql}, an INSERT into a table with an {@code id} identity column, and returns the id
   * it gave the new row.
   */
  static long insertReturningId(Connection c, String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = prepare(c, sql + " RETURNING id", args);
        ResultSet rs = ps.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("no id returned by " + sql);
      }
      return rs.getLong(1);
    }
  }

  private Database(
      Dialect dialect,
      StoreConfig store,
      String url,
      String where,
      String daemon,
      Connection conn) {
    this.daemon = daemon;
    this.dialect = dialect;
    this.store = store;
    this.url = url;
    this.where = where;
    this.conn = conn;
  }

  /**
   * Opens (creating if needed) the SQLite database in {@code stateDir} and applies pending
   * migrations.
   *
   * @throws StoreException naming the file and the fix when it cannot be opened or is too new
   */
  public static Database open(Path stateDir) {
    return open(stateDir, new StoreConfig.Sqlite(), Schema.MIGRATIONS);
  }

  /**
   * Opens the database {@code store} names (SQLite: the file in {@code stateDir}, created if
   * needed) and applies pending migrations.
   *
   * @throws StoreException naming the database and the fix when it cannot be opened or is too new
   */
  public static Database open(Path stateDir, StoreConfig store) {
    return open(stateDir, store, Schema.MIGRATIONS);
  }

  static Database open(Path stateDir, StoreConfig store, List<String> migrations) {
    Dialect dialect = Dialect.of(store);
    String url;
    String where;
    // The state directory holds the API token and the images whichever store holds the rows.
    try {
      Files.createDirectories(stateDir);
    } catch (IOException e) {
      throw new StoreException(
          "cannot create state directory "
              + stateDir
              + ": "
              + e.getMessage()
              + "; create it or pass another --state-dir",
          e);
    }
    if (store instanceof StoreConfig.Postgres pg) {
      url = pg.jdbcUrl();
      where = pg.display();
    } else {
      Path file = stateDir.resolve(FILE_NAME);
      url = "jdbc:sqlite:" + file;
      where = file.toString();
    }
    Connection c;
    try {
      c = dialect.connect(url, store, false);
    } catch (SQLException e) {
      throw new StoreException(
          "cannot open "
              + where
              + ": "
              + e.getMessage()
              + (dialect == Dialect.POSTGRESQL
                  ? "; check that the server runs, the database exists and the role may log in"
                  : ""),
          e);
    }
    Database db = new Database(dialect, store, url, where, daemonId(stateDir), c);
    try {
      db.migrate(migrations);
      db.reader = dialect.connect(url, store, true);
      return db;
    } catch (SQLException | RuntimeException e) {
      db.close();
      if (e instanceof StoreException se) {
        throw se;
      }
      throw new StoreException(
          "cannot prepare "
              + where
              + ": "
              + e.getMessage()
              + (dialect == Dialect.SQLITE
                  ? "; if the file is damaged, move it aside (the daemon starts with an empty state)"
                  : ""),
          e);
    }
  }

  /**
   * This daemon's id, kept in {@code <state-dir>/daemon-id} (made once, a random UUID): it marks
   * the sessions, captures and image adds it runs, so that on a shared store a daemon starting up
   * recovers its own work and leaves the others' alone.
   */
  private static String daemonId(Path stateDir) {
    Path f = stateDir.resolve(DAEMON_ID_FILE);
    try {
      if (Files.exists(f)) {
        String id = Files.readString(f).strip();
        if (!id.isEmpty()) {
          return id;
        }
      }
      String id = UUID.randomUUID().toString();
      Path tmp = stateDir.resolve(DAEMON_ID_FILE + ".tmp");
      Files.writeString(tmp, id + "\n");
      Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return id;
    } catch (IOException e) {
      throw new StoreException(
          "cannot read or write " + f + ": " + e.getMessage() + "; check the state directory", e);
    }
  }

  /** This daemon's id (see {@link #daemonId}). */
  public String daemon() {
    return daemon;
  }

  private void migrate(List<String> migrations) {
    write(
        c -> {
          dialect.lockForMigration(c);
          int version = dialect.schemaVersion(c);
          if (version > migrations.size()) {
            throw new StoreException(
                where
                    + " has schema version "
                    + version
                    + " but this clonecast knows only versions up to "
                    + migrations.size()
                    + "; run the newer clonecast that wrote it"
                    + (dialect == Dialect.SQLITE ? ", or move the file aside" : ""));
          }
          try (Statement s = c.createStatement()) {
            for (int i = version; i < migrations.size(); i++) {
              for (String stmt : dialect.migration(migrations.get(i)).split(";")) {
                if (!stmt.isBlank()) {
                  s.execute(stmt);
                }
              }
            }
          }
          if (version < migrations.size()) {
            dialect.setSchemaVersion(c, migrations.size());
          }
          return null;
        });
  }

  /**
   * Runs {@code work} in one transaction and commits it (durably) before returning. A transaction
   * that lost a race with another writer (another daemon on PostgreSQL) runs again, up to {@link
   * #ATTEMPTS} times.
   */
  public <T> T write(Work<T> work) {
    lock.lock();
    try {
      for (int attempt = 1; ; attempt++) {
        try {
          return once(work);
        } catch (SQLException e) {
          if (dialect.retryable(e) && attempt < ATTEMPTS) {
            pause(attempt);
            continue;
          }
          if (dialect.connectionLost(e)) {
            reconnect();
          }
          throw new StoreException("write to " + where + " failed: " + e.getMessage(), e);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private <T> T once(Work<T> work) throws SQLException {
    conn.setAutoCommit(false);
    try {
      T result = work.apply(conn);
      conn.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      try {
        conn.rollback();
      } catch (SQLException r) {
        e.addSuppressed(r);
      }
      throw e;
    } finally {
      try {
        conn.setAutoCommit(true);
      } catch (SQLException e) {
        // The connection is gone; the caller's failure says why, and reconnect() replaces it.
      }
    }
  }

  /** A short, growing, randomised wait before a retry, so two racing daemons fall apart. */
  private static void pause(int attempt) {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(1, 5L << attempt));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreException("interrupted while retrying a transaction", e);
    }
  }

  /** Replaces a broken connection (PostgreSQL restarted, the network failed) for the next call. */
  private void reconnect() {
    try {
      conn.close();
    } catch (SQLException e) {
      // It is broken already.
    }
    try {
      conn = dialect.connect(url, store, false);
    } catch (SQLException e) {
      // The next write tries again through the closed connection's failure.
    }
  }

  /**
   * Runs {@code work} for reading on the read-only connection, in one transaction: it sees a
   * consistent snapshot of what was committed when it began.
   */
  public <T> T read(Work<T> work) {
    Connection r = reader;
    if (r == null) {
      return write(work);
    }
    readLock.lock();
    try {
      r.setAutoCommit(false);
      try {
        return work.apply(r);
      } finally {
        r.rollback(); // nothing to undo: ends the read transaction so the next read sees newer
        // commits
        r.setAutoCommit(true);
      }
    } catch (SQLException e) {
      if (dialect.connectionLost(e)) {
        try {
          r.close();
          reader = dialect.connect(url, store, true);
        } catch (SQLException again) {
          e.addSuppressed(again);
        }
      }
      throw new StoreException("read from " + where + " failed: " + e.getMessage(), e);
    } finally {
      readLock.unlock();
    }
  }

  /** What messages call this database: its file, or its URL without the password. */
  public String where() {
    return where;
  }

  /** Whether this is a PostgreSQL database (which other daemons may share). */
  public boolean shared() {
    return dialect == Dialect.POSTGRESQL;
  }

  @Override
  public void close() {
    lock.lock();
    readLock.lock();
    try {
      if (reader != null) {
        reader.close();
      }
      conn.close();
    } catch (SQLException e) {
      throw new StoreException("closing " + where + " failed: " + e.getMessage(), e);
    } finally {
      readLock.unlock();
      lock.unlock();
    }
  }
}

package org.clonecast.server.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import org.sqlite.SQLiteConfig;

/**
 * The daemon's state: one SQLite file under the state directory, in WAL mode with {@code
 * synchronous=FULL}, so a committed transaction survives a crash or power loss. A lease written
 * here before the DHCP ACK leaves is never handed out twice.
 *
 * <p>Schema changes are the ordered {@link Schema#MIGRATIONS}; {@code PRAGMA user_version} records
 * how many have run, so an older database is brought up to date on open and a newer one (from a
 * later clonecast) is refused rather than damaged.
 *
 * <p>Thread-safe: one connection for writes, used under a lock (SQLite serialises writers anyway,
 * and every statement here is short), and a separate read-only connection under its own lock, so
 * that readers (the dashboard, listings) never wait behind a write's fsync: in WAL mode a reader
 * sees the last committed state while a writer commits.
 */
public final class Database implements AutoCloseable {
  /** The database file's name inside the state directory. */
  public static final String FILE_NAME = "clonecast.db";

  private final Path file;
  private final Connection conn;
  private final ReentrantLock lock = new ReentrantLock();

  /**
   * The read-only connection, opened once the schema is up to date; until then reads use {@link
   * #conn}.
   */
  private volatile Connection reader;

  private final ReentrantLock readLock = new ReentrantLock();

  /** Work on the connection inside a transaction. */
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

  private Database(Path file, Connection conn) {
    this.file = file;
    this.conn = conn;
  }

  /**
   * Opens (creating if needed) the database in {@code stateDir} and applies pending migrations.
   *
   * @throws StoreException naming the file and the fix when it cannot be opened or is too new
   */
  public static Database open(Path stateDir) {
    return open(stateDir, Schema.MIGRATIONS);
  }

  static Database open(Path stateDir, List<String> migrations) {
    Path file = stateDir.resolve(FILE_NAME);
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
    Connection c;
    try {
      c = DriverManager.getConnection("jdbc:sqlite:" + file);
    } catch (SQLException e) {
      throw new StoreException("cannot open " + file + ": " + e.getMessage(), e);
    }
    Database db = new Database(file, c);
    try {
      try (Statement s = c.createStatement()) {
        s.execute("PRAGMA journal_mode=WAL");
        s.execute("PRAGMA synchronous=FULL");
        s.execute("PRAGMA foreign_keys=ON");
        s.execute("PRAGMA busy_timeout=5000");
      }
      db.migrate(migrations);
      db.reader = openReader(file);
      return db;
    } catch (SQLException | RuntimeException e) {
      db.close();
      if (e instanceof StoreException se) {
        throw se;
      }
      throw new StoreException(
          "cannot prepare "
              + file
              + ": "
              + e.getMessage()
              + "; if the file is damaged, move it aside (the daemon starts with an empty state)",
          e);
    }
  }

  private static Connection openReader(Path file) throws SQLException {
    SQLiteConfig cfg = new SQLiteConfig();
    cfg.setReadOnly(true);
    cfg.setBusyTimeout(5000);
    return DriverManager.getConnection("jdbc:sqlite:" + file, cfg.toProperties());
  }

  private void migrate(List<String> migrations) throws SQLException {
    int version;
    try (Statement s = conn.createStatement();
        var rs = s.executeQuery("PRAGMA user_version")) {
      version = rs.next() ? rs.getInt(1) : 0;
    }
    if (version > migrations.size()) {
      throw new StoreException(
          file
              + " has schema version "
              + version
              + " but this clonecast knows only "
              + migrations.size()
              + "; run the newer clonecast that wrote it, or move the file aside");
    }
    for (int i = version; i < migrations.size(); i++) {
      final int next = i + 1;
      final String sql = migrations.get(i);
      write(
          c -> {
            try (Statement s = c.createStatement()) {
              for (String stmt : sql.split(";")) {
                if (!stmt.isBlank()) {
                  s.execute(stmt);
                }
              }
              s.execute("PRAGMA user_version=" + next);
            }
            return null;
          });
    }
  }

  /** Runs {@code work} in one transaction and commits it (durably) before returning. */
  public <T> T write(Work<T> work) {
    lock.lock();
    try {
      conn.setAutoCommit(false);
      try {
        T result = work.apply(conn);
        conn.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        conn.rollback();
        throw e;
      } finally {
        conn.setAutoCommit(true);
      }
    } catch (SQLException e) {
      throw new StoreException("write to " + file + " failed: " + e.getMessage(), e);
    } finally {
      lock.unlock();
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
      throw new StoreException("read from " + file + " failed: " + e.getMessage(), e);
    } finally {
      readLock.unlock();
    }
  }

  /** The database file. */
  public Path file() {
    return file;
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
      throw new StoreException("closing " + file + " failed: " + e.getMessage(), e);
    } finally {
      readLock.unlock();
      lock.unlock();
    }
  }
}

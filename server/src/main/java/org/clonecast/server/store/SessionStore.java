package org.clonecast.server.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/** Sessions and each node's part in them. Thread-safe. */
public final class SessionStore {
  private static final String S_COLUMNS =
      "id, image, selector, min_receivers, max_wait, port, state, detail, created, started, ended, bytes_sent, packets_sent,"
          + " repair_packets, grow";
  private static final String N_COLUMNS =
      "session, mac, name, state, bytes_done, bytes_total, target, detail, updated, receiving_since,"
          + " finished, wire, unicast_bytes, daemon";

  /**
   * One session row.
   *
   * @param bytesSent multicast bytes the session sent (written when it ends)
   * @param packetsSent multicast packets it sent, and {@code repairPackets} the FEC repairs among
   *     them
   */
  public record Session(
      long id,
      String image,
      String selector,
      int minReceivers,
      int maxWaitSeconds,
      int port,
      String state,
      Optional<String> detail,
      long created,
      Optional<Long> started,
      Optional<Long> ended,
      long bytesSent,
      long packetsSent,
      long repairPackets,
      boolean grow) {
    public boolean active() {
      return state.equals("waiting") || state.equals("running");
    }
  }

  /**
   * One node's part in a session.
   *
   * @param receivingSince epoch ms of its first {@code receiving} report
   * @param finishedAt epoch ms it became done or failed
   * @param wire what the sender saw of it (loss, repairs, paced apart as slow), when its transfer
   *     ended
   * @param unicastBytes of {@code bytesDone}, those written from chunks it fetched by unicast
   *     (docs/unicast.md)
   * @param daemon the id of the daemon serving it in this session (docs/scale.md, "Sessions across
   *     daemons"): the one its agent registered with, or the partner that took it over; empty
   *     before any did
   */
  public record Member(
      long session,
      String mac,
      String name,
      String state,
      long bytesDone,
      long bytesTotal,
      Optional<String> target,
      Optional<String> detail,
      long updated,
      Optional<Long> receivingSince,
      Optional<Long> finishedAt,
      Optional<String> wire,
      long unicastBytes,
      Optional<String> daemon) {
    public boolean finished() {
      return state.equals("done") || state.equals("failed");
    }

    /**
     * The path its chunks took: {@code multicast}, {@code unicast} or {@code both}; empty before it
     * wrote anything.
     */
    public Optional<String> path() {
      if (unicastBytes > 0) return Optional.of(unicastBytes >= bytesDone ? "unicast" : "both");
      return bytesDone > 0 ? Optional.of("multicast") : Optional.empty();
    }

    /**
     * This member with live progress in place of the stored one (progress ticks are not stored).
     */
    public Member withProgress(long done, long total, long unicast) {
      return new Member(
          session,
          mac,
          name,
          state,
          done,
          total,
          target,
          detail,
          updated,
          receivingSince,
          finishedAt,
          wire,
          Math.max(unicast, unicastBytes),
          daemon);
    }

    /** Whether daemon {@code id} serves it. */
    public boolean servedBy(String id) {
      return daemon.isPresent() && daemon.get().equals(id);
    }
  }

  private final Database db;
  private final Clock clock;

  public SessionStore(Database db, Clock clock) {
    this.db = Objects.requireNonNull(db);
    this.clock = Objects.requireNonNull(clock);
  }

  /** Creates a waiting session with its members; the port is {@code basePort + id % 500}. */
  public Session create(
      String image,
      String selector,
      int minReceivers,
      int maxWaitSeconds,
      int basePort,
      List<Node> nodes,
      boolean grow) {
    return db.write(
        c -> {
          long now = clock.millis();
          long id =
              Database.insertReturningId(
                  c,
                  "INSERT INTO sessions (image, selector, min_receivers, max_wait, port, state,"
                      + " created, grow, daemon) VALUES (?, ?, ?, ?, 0, 'waiting', ?, ?, ?)",
                  image,
                  selector,
                  minReceivers,
                  maxWaitSeconds,
                  now,
                  grow ? 1 : 0,
                  db.daemon());
          NodeStore.update(
              c, "UPDATE sessions SET port = ? WHERE id = ?", basePort + (int) (id % 500), id);
          for (Node n : nodes) {
            NodeStore.update(
                c,
                "INSERT INTO session_nodes (session, mac, name, state, updated) VALUES (?, ?, ?, 'waiting', ?)",
                id,
                n.mac().toString(),
                n.name().orElse(n.mac().toString()),
                now);
          }
          return session(c, id).orElseThrow();
        });
  }

  /** The id of the daemon this store is opened by ({@link Database#daemon}). */
  public String self() {
    return db.daemon();
  }

  /**
   * Ends an active session as {@code state}: false when it had ended already (another daemon, or
   * this one, ended it first), and then nothing changes.
   */
  public boolean endIfActive(long id, String state, Optional<String> detail) {
    long now = clock.millis();
    return db.write(
            c ->
                NodeStore.update(
                    c,
                    "UPDATE sessions SET state = ?, detail = ?, ended = ? WHERE id = ?"
                        + " AND state IN ('waiting', 'running')",
                    state,
                    detail.orElse(null),
                    now,
                    id))
        > 0;
  }

  /**
   * Marks an active session running when one of its daemons' multicasts starts (the first sets
   * {@code started}); an ended session stays ended.
   */
  public void markRunning(long id) {
    long now = clock.millis();
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE sessions SET state = 'running', started = COALESCE(started, ?)"
                    + " WHERE id = ? AND state IN ('waiting', 'running')",
                now,
                id));
  }

  /**
   * This daemon takes node {@code mac} of session {@code id} for itself: its agent registered here.
   * False when the node already finished (then it stays as it is).
   */
  public boolean claim(long id, String mac) {
    return db.write(
            c ->
                NodeStore.update(
                    c,
                    "UPDATE session_nodes SET daemon = ? WHERE session = ? AND mac = ?"
                        + " AND state NOT IN ('done', 'failed')",
                    db.daemon(),
                    id,
                    mac))
        > 0;
  }

  /** A node of a session that this daemon took over from another. */
  public record Taken(long session, String mac, String name) {}

  /**
   * Takes over every unfinished node that daemon {@code dead} serves in an active session. Each row
   * moves only if it still names {@code dead}, so of several partners doing this at once each node
   * goes to exactly one, and a node finished meanwhile stays finished.
   *
   * @return the nodes this daemon took
   */
  public List<Taken> takeOver(String dead) {
    return db.write(
        c -> {
          List<Taken> seen =
              Database.query(
                  c,
                  "SELECT n.session, n.mac, n.name FROM session_nodes n JOIN sessions s ON"
                      + " s.id = n.session WHERE n.daemon = ? AND n.state NOT IN ('done', 'failed')"
                      + " AND s.state IN ('waiting', 'running') ORDER BY n.session, n.name",
                  rs -> new Taken(rs.getLong(1), rs.getString(2), rs.getString(3)),
                  dead);
          List<Taken> won = new ArrayList<>();
          for (Taken t : seen) {
            if (NodeStore.update(
                    c,
                    "UPDATE session_nodes SET daemon = ? WHERE session = ? AND mac = ?"
                        + " AND daemon = ? AND state NOT IN ('done', 'failed')",
                    db.daemon(),
                    t.session(),
                    t.mac(),
                    dead)
                > 0) {
              won.add(t);
            }
          }
          return won;
        });
  }

  public void setState(long id, String state, Optional<String> detail) {
    db.write(
        c -> {
          long now = clock.millis();
          String timeCol =
              state.equals("running") ? "started" : state.equals("waiting") ? null : "ended";
          NodeStore.update(
              c,
              "UPDATE sessions SET state = ?, detail = ?"
                  + (timeCol == null ? "" : ", " + timeCol + " = ?")
                  + " WHERE id = ?",
              timeCol == null
                  ? new Object[] {state, detail.orElse(null), id}
                  : new Object[] {state, detail.orElse(null), now, id});
          return null;
        });
  }

  /**
   * Updates a member unless it already finished; returns whether it changed. The first {@code
   * receiving} and the final {@code done} or {@code failed} are timed for the session's history.
   */
  public boolean updateMember(
      long id,
      String mac,
      String state,
      Optional<Long> bytesDone,
      Optional<Long> bytesTotal,
      Optional<String> target,
      Optional<String> detail) {
    return updateMember(id, mac, state, bytesDone, bytesTotal, target, detail, false);
  }

  /**
   * As {@link #updateMember(long, String, String, Optional, Optional, Optional, Optional)}; with
   * {@code onlyOwn} only while no other daemon serves the node (it is this daemon's or no one's):
   * what a daemon's own sender or timers conclude about a node another daemon has taken over since
   * changes nothing.
   */
  public boolean updateMember(
      long id,
      String mac,
      String state,
      Optional<Long> bytesDone,
      Optional<Long> bytesTotal,
      Optional<String> target,
      Optional<String> detail,
      boolean onlyOwn) {
    long now = clock.millis();
    boolean end = state.equals("done") || state.equals("failed");
    return db.write(
        c ->
            NodeStore.update(
                    c,
                    "UPDATE session_nodes SET state = ?,"
                        + " bytes_done = COALESCE(?, bytes_done), bytes_total = COALESCE(?, bytes_total), target = COALESCE(?, target),"
                        + " detail = COALESCE(?, detail), updated = ?, receiving_since = COALESCE(receiving_since, ?), finished = ?"
                        + " WHERE session = ? AND mac = ? AND state NOT IN ('done', 'failed')"
                        + " AND (? = 0 OR daemon IS NULL OR daemon = ?)",
                    state,
                    bytesDone.orElse(null),
                    bytesTotal.orElse(null),
                    target.orElse(null),
                    detail.orElse(null),
                    now,
                    state.equals("receiving") ? now : null,
                    end ? now : null,
                    id,
                    mac,
                    onlyOwn ? 1 : 0,
                    db.daemon())
                > 0);
  }

  /** Records what the sender saw of a member's transfer (loss, repairs, slow), one line. */
  public void setWire(long id, String mac, String wire) {
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE session_nodes SET wire = ? WHERE session = ? AND mac = ?",
                wire,
                id,
                mac));
  }

  /**
   * Records how many of a member's written bytes came by unicast (it only grows: a late report
   * never lowers it).
   */
  public void setUnicast(long id, String mac, long bytes) {
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE session_nodes SET unicast_bytes = ? WHERE session = ? AND mac = ? AND unicast_bytes < ?",
                bytes,
                id,
                mac,
                bytes));
  }

  /**
   * Adds what one daemon's multicast of a session sent, when its sender stops (a session spanning
   * daemons sums its parts).
   */
  public void addSent(long id, long bytes, long packets, long repairs) {
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE sessions SET bytes_sent = bytes_sent + ?, packets_sent = packets_sent + ?,"
                    + " repair_packets = repair_packets + ? WHERE id = ?",
                bytes,
                packets,
                repairs,
                id));
  }

  public Optional<Session> find(long id) {
    return db.read(c -> session(c, id));
  }

  /** Sessions, newest first. */
  public List<Session> list(int limit) {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT " + S_COLUMNS + " FROM sessions ORDER BY id DESC LIMIT ?",
                SessionStore::session,
                limit));
  }

  public List<Session> active() {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT "
                    + S_COLUMNS
                    + " FROM sessions"
                    + " WHERE state IN ('waiting', 'running') ORDER BY id",
                SessionStore::session));
  }

  /**
   * The ids of the waiting and running sessions this daemon runs (or that predate the daemon
   * column): those it recovers after a restart; another daemon sharing the store runs the rest.
   */
  public Set<Long> ownActive() {
    return Set.copyOf(
        db.read(
            c ->
                Database.query(
                    c,
                    "SELECT id FROM sessions WHERE state IN ('waiting', 'running')"
                        + " AND (daemon = ? OR daemon IS NULL)",
                    rs -> rs.getLong(1),
                    db.daemon())));
  }

  public List<Member> members(long id) {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT " + N_COLUMNS + " FROM session_nodes WHERE session = ? ORDER BY name",
                SessionStore::member,
                id));
  }

  /** The active session {@code mac} belongs to, if any. */
  public Optional<Session> activeFor(String mac) {
    return db.read(
        c ->
            Database.queryFirst(
                c,
                "SELECT s."
                    + S_COLUMNS.replace(", ", ", s.")
                    + " FROM sessions s"
                    + " JOIN session_nodes n ON n.session = s.id WHERE n.mac = ? AND s.state IN ('waiting', 'running')"
                    + " ORDER BY s.id DESC",
                SessionStore::session,
                mac));
  }

  private static Optional<Session> session(Connection c, long id) throws SQLException {
    return Database.queryFirst(
        c, "SELECT " + S_COLUMNS + " FROM sessions WHERE id = ?", SessionStore::session, id);
  }

  private static Session session(ResultSet rs) throws SQLException {
    long started = rs.getLong(10);
    boolean hasStarted = !rs.wasNull();
    long ended = rs.getLong(11);
    boolean hasEnded = !rs.wasNull();
    return new Session(
        rs.getLong(1),
        rs.getString(2),
        rs.getString(3),
        rs.getInt(4),
        rs.getInt(5),
        rs.getInt(6),
        rs.getString(7),
        Optional.ofNullable(rs.getString(8)),
        rs.getLong(9),
        hasStarted ? Optional.of(started) : Optional.empty(),
        hasEnded ? Optional.of(ended) : Optional.empty(),
        rs.getLong(12),
        rs.getLong(13),
        rs.getLong(14),
        rs.getInt(15) != 0);
  }

  private static Member member(ResultSet rs) throws SQLException {
    return new Member(
        rs.getLong(1),
        rs.getString(2),
        rs.getString(3),
        rs.getString(4),
        rs.getLong(5),
        rs.getLong(6),
        Optional.ofNullable(rs.getString(7)),
        Optional.ofNullable(rs.getString(8)),
        rs.getLong(9),
        optionalLong(rs, 10),
        optionalLong(rs, 11),
        Optional.ofNullable(rs.getString(12)),
        rs.getLong(13),
        Optional.ofNullable(rs.getString(14)));
  }

  private static Optional<Long> optionalLong(ResultSet rs, int column) throws SQLException {
    long v = rs.getLong(column);
    return rs.wasNull() ? Optional.empty() : Optional.of(v);
  }
}

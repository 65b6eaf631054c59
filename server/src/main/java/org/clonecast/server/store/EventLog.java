package org.clonecast.server.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The persistent event log behind the API's {@code /events}, the dashboard and {@code session
 * watch}. Each event is also logged at INFO. Listeners hear every new event (the dashboard pushes
 * them).
 *
 * <p>Thread-safe.
 */
public final class EventLog {
  private static final Logger LOG = LoggerFactory.getLogger(EventLog.class);

  /** Events kept; older ones are pruned as new ones arrive. */
  static final int KEEP = 10_000;

  private final Database db;
  private final Clock clock;
  private final List<Consumer<Event>> listeners = new CopyOnWriteArrayList<>();

  public EventLog(Database db, Clock clock) {
    this.db = Objects.requireNonNull(db);
    this.clock = Objects.requireNonNull(clock);
  }

  /** Records and logs an event; listeners hear it after it is stored. */
  public Event record(String kind, Optional<String> mac, Optional<String> session, String message) {
    Event e = db.write(c -> insert(c, kind, mac, session, message));
    publish(e);
    return e;
  }

  /**
   * Stores an event inside the caller's transaction (e.g. with the leases it reports, so a batch of
   * DHCP replies costs one commit). Call {@link #publish} after the commit.
   */
  public Event insert(
      Connection c, String kind, Optional<String> mac, Optional<String> session, String message)
      throws SQLException {
    return insertAll(c, List.of(new Draft(kind, mac, session, message))).get(0);
  }

  /** An event to store: what {@link #insert} takes. */
  public record Draft(String kind, Optional<String> mac, Optional<String> session, String message) {
    public Draft {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(mac, "mac");
      Objects.requireNonNull(session, "session");
      Objects.requireNonNull(message, "message");
    }
  }

  /** Rows per INSERT statement of {@link #insertAll} (five parameters each). */
  static final int ROWS_PER_INSERT = 100;

  /**
   * Stores {@code drafts} inside the caller's transaction, in order, with one statement per {@link
   * #ROWS_PER_INSERT} of them: on PostgreSQL each statement is a round trip to the server, which a
   * DHCP burst's events would otherwise pay one by one. Call {@link #publish} for each after the
   * commit.
   */
  public List<Event> insertAll(Connection c, List<Draft> drafts) throws SQLException {
    long now = clock.millis();
    List<Event> out = new ArrayList<>(drafts.size());
    for (int from = 0; from < drafts.size(); from += ROWS_PER_INSERT) {
      List<Draft> part = drafts.subList(from, Math.min(drafts.size(), from + ROWS_PER_INSERT));
      StringBuilder sql =
          new StringBuilder("INSERT INTO events (time, kind, mac, session, message) VALUES ");
      List<Object> args = new ArrayList<>(part.size() * 5);
      for (Draft d : part) {
        sql.append(args.isEmpty() ? "" : ", ").append("(?, ?, ?, ?, ?)");
        args.addAll(
            Arrays.asList(
                now, d.kind(), d.mac().orElse(null), d.session().orElse(null), d.message()));
      }
      List<Long> ids =
          new ArrayList<>(
              Database.query(c, sql + " RETURNING id", rs -> rs.getLong(1), args.toArray()));
      if (ids.size() != part.size()) {
        throw new SQLException(
            "inserting " + part.size() + " events returned " + ids.size() + " ids");
      }
      // Both stores number the rows of one INSERT in the order of its VALUES; neither promises
      // RETURNING's order, so the ids are matched to the rows in ascending order.
      Collections.sort(ids);
      for (int i = 0; i < part.size(); i++) {
        Draft d = part.get(i);
        out.add(new Event(ids.get(i), now, d.kind(), d.mac(), d.session(), d.message()));
      }
      long last = ids.get(ids.size() - 1);
      long thousand = last - last % 1000;
      if (thousand > 0 && thousand >= ids.get(0)) {
        // Every thousandth event prunes the log to its last KEEP.
        NodeStore.update(c, "DELETE FROM events WHERE id <= ?", thousand - KEEP);
      }
    }
    return out;
  }

  /** Logs a committed event and tells the listeners. */
  public void publish(Event e) {
    LOG.info(
        "{}{}{}: {}",
        e.kind(),
        e.mac().map(m -> " " + m).orElse(""),
        e.session().map(s -> " session " + s).orElse(""),
        e.message());
    for (Consumer<Event> l : listeners) {
      l.accept(e);
    }
  }

  /** Shorthand for a node event. */
  public Event node(String kind, String mac, String message) {
    return record(kind, Optional.of(mac), Optional.empty(), message);
  }

  /** Events with an id above {@code afterId}, oldest first, at most {@code limit}. */
  public List<Event> after(long afterId, int limit) {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT id, time, kind, mac, session, message FROM events WHERE id > ? ORDER BY id LIMIT ?",
                EventLog::event,
                afterId,
                limit));
  }

  /** The newest {@code limit} events, oldest first. */
  public List<Event> recent(int limit) {
    List<Event> out =
        db.read(
            c ->
                Database.query(
                    c,
                    "SELECT id, time, kind, mac, session, message FROM events ORDER BY id DESC LIMIT ?",
                    EventLog::event,
                    limit));
    Collections.reverse(out);
    return out;
  }

  /** Adds a listener called (on the recording thread) for each new event. */
  public void listen(Consumer<Event> listener) {
    listeners.add(listener);
  }

  public void unlisten(Consumer<Event> listener) {
    listeners.remove(listener);
  }

  private static Event event(ResultSet rs) throws SQLException {
    return new Event(
        rs.getLong(1),
        rs.getLong(2),
        rs.getString(3),
        Optional.ofNullable(rs.getString(4)),
        Optional.ofNullable(rs.getString(5)),
        rs.getString(6));
  }
}

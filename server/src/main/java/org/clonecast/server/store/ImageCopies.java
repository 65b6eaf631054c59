package org.clonecast.server.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Which daemons hold an image's bytes (schema migration 12, docs/scale.md "Replication"): the
 * images' metadata is shared by every daemon on the store, their manifests and chunks are not. A
 * daemon that adds, captures or replicates an image records its copy {@code ready}; one fetching it
 * from another records {@code copying} with its progress, or {@code failed} with why. Removing an
 * image removes every daemon's row.
 *
 * <p>Thread-safe (every call is one transaction of the {@link Database}).
 */
public final class ImageCopies {
  /** What one daemon holds of one image. */
  public enum State {
    COPYING,
    READY,
    FAILED;

    /** The word stored and shown. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    static State of(String id) {
      return valueOf(id.toUpperCase(Locale.ROOT));
    }
  }

  /**
   * One daemon's copy of one image.
   *
   * @param done stored bytes it holds (while copying: fetched or found in its pool)
   * @param total stored bytes of the image
   * @param detail why its last fetch failed
   * @param updated epoch ms of the last change
   */
  public record Copy(
      String image,
      String daemon,
      State state,
      long done,
      long total,
      Optional<String> detail,
      long updated) {
    public Copy {
      Objects.requireNonNull(image);
      Objects.requireNonNull(daemon);
      Objects.requireNonNull(state);
      Objects.requireNonNull(detail);
    }
  }

  private static final String COLUMNS = "image, daemon, state, done, total, detail, updated";

  private final Database db;
  private final Clock clock;

  public ImageCopies(Database db, Clock clock) {
    this.db = Objects.requireNonNull(db);
    this.clock = Objects.requireNonNull(clock);
  }

  /** This daemon's id. */
  public String self() {
    return db.daemon();
  }

  /** Every copy, by image then daemon. */
  public List<Copy> list() {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT " + COLUMNS + " FROM image_copies ORDER BY image, daemon",
                ImageCopies::copy));
  }

  /** Every copy, grouped by image. */
  public Map<String, List<Copy>> byImage() {
    Map<String, List<Copy>> out = new LinkedHashMap<>();
    for (Copy c : list()) {
      out.computeIfAbsent(c.image(), k -> new ArrayList<>()).add(c);
    }
    return out;
  }

  /** The copies of one image. */
  public List<Copy> of(String image) {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT " + COLUMNS + " FROM image_copies WHERE image = ? ORDER BY daemon",
                ImageCopies::copy,
                image));
  }

  /** This daemon's copy of {@code image}, if it has a row. */
  public Optional<Copy> mine(String image) {
    return db.read(c -> mine(c, image, db.daemon()));
  }

  /**
   * Records this daemon's progress fetching {@code image}, unless the image is gone.
   *
   * @return false when the image's row is gone (removed meanwhile)
   */
  public boolean copying(String image, long done, long total) {
    return set(image, State.COPYING, done, total, Optional.empty());
  }

  /**
   * Records that this daemon's fetch of {@code image} failed, and why (unless the image is gone).
   */
  public void failed(String image, long done, long total, String why) {
    set(image, State.FAILED, done, total, Optional.of(why));
  }

  private boolean set(String image, State state, long done, long total, Optional<String> detail) {
    long now = clock.millis();
    return db.write(
        c -> {
          if (ImageStore.find(c, image).isEmpty()) {
            return false;
          }
          Optional<Copy> was = mine(c, image, db.daemon());
          if (was.isPresent() && was.get().state() == State.READY) {
            return true; // a fetch never demotes a ready copy
          }
          upsert(c, image, db.daemon(), state, done, total, detail, now);
          return true;
        });
  }

  /** Records (in {@code c}'s transaction) that {@code daemon} holds {@code image} whole. */
  static void ready(Connection c, String image, String daemon, long total, long now)
      throws SQLException {
    upsert(c, image, daemon, State.READY, total, total, Optional.empty(), now);
  }

  private static void upsert(
      Connection c,
      String image,
      String daemon,
      State state,
      long done,
      long total,
      Optional<String> detail,
      long now)
      throws SQLException {
    NodeStore.update(
        c,
        "INSERT INTO image_copies ("
            + COLUMNS
            + ") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (image, daemon) DO UPDATE SET"
            + " state = excluded.state, done = excluded.done, total = excluded.total,"
            + " detail = excluded.detail, updated = excluded.updated",
        image,
        daemon,
        state.id(),
        done,
        total,
        detail.orElse(null),
        now);
  }

  /** Removes (in {@code c}'s transaction) every daemon's copy of {@code image}. */
  static void removeAll(Connection c, String image) throws SQLException {
    NodeStore.update(c, "DELETE FROM image_copies WHERE image = ?", image);
  }

  /** Removes (in {@code c}'s transaction) {@code daemon}'s copy of {@code image}. */
  static void remove(Connection c, String image, String daemon) throws SQLException {
    NodeStore.update(c, "DELETE FROM image_copies WHERE image = ? AND daemon = ?", image, daemon);
  }

  /**
   * After a restart: this daemon's fetches were interrupted, and its failed ones are old news, so
   * their rows go (the chunks fetched stay in its pool while the image exists: a new fetch
   * resumes).
   */
  void dropUnfinished() {
    db.write(
        c ->
            NodeStore.update(
                c,
                "DELETE FROM image_copies WHERE daemon = ? AND state <> ?",
                db.daemon(),
                State.READY.id()));
  }

  private static Optional<Copy> mine(Connection c, String image, String daemon)
      throws SQLException {
    return Database.queryFirst(
        c,
        "SELECT " + COLUMNS + " FROM image_copies WHERE image = ? AND daemon = ?",
        ImageCopies::copy,
        image,
        daemon);
  }

  private static Copy copy(ResultSet rs) throws SQLException {
    return new Copy(
        rs.getString(1),
        rs.getString(2),
        State.of(rs.getString(3)),
        rs.getLong(4),
        rs.getLong(5),
        Optional.ofNullable(rs.getString(6)),
        rs.getLong(7));
  }
}

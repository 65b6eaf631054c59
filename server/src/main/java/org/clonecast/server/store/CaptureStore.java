package org.clonecast.server.store;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.clonecast.protocol.wire.MacAddress;

/**
 * Captures of golden nodes ({@code clonecast image capture}): one row each, holding the phase
 * (waiting for the node, capturing, verifying, done, failed, cancelled) and what the agent was
 * told. Starting one reserves the image name (the image row says {@code capturing}) and marks the
 * node {@link BootAction#CAPTURE} in the same transaction, so no session or second capture can take
 * the node or the name meanwhile. Chunk progress is not stored here: the upload's journal holds it.
 *
 * <p>Thread-safe (every call is one transaction of the {@link Database}).
 */
public final class CaptureStore {
  private static final String COLUMNS =
      "id, image, image_id, mac, disk, chunk_size, level, forced, agent_ip, state, detail,"
          + " logical_size, created, updated, from_image";

  /** A capture's phase. */
  public enum State {
    /** Marked: the node has not registered yet. */
    WAITING,
    /** The agent registered and uploads. */
    CAPTURING,
    /** The agent finished; the daemon checks the whole image. */
    VERIFYING,
    /** The image is in the store, ready. */
    DONE,
    /** Ended without an image; the detail says why. */
    FAILED,
    /** Ended by the operator. */
    CANCELLED;

    /** Lower-case name as stored and shown. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the capture can still make its image. */
    public boolean active() {
      return this == WAITING || this == CAPTURING || this == VERIFYING;
    }

    static State parse(String text) {
      return valueOf(text.toUpperCase(Locale.ROOT));
    }
  }

  /**
   * One capture.
   *
   * @param id its number, in every agent call
   * @param image the image it makes
   * @param imageId the UUID the image's manifest must carry
   * @param mac the golden node
   * @param disk the disk the agent reads; empty: it picks the first non-removable disk
   * @param chunkSize logical bytes per chunk
   * @param level zstd level
   * @param force whether a filesystem that is not clean may be captured
   * @param agentIp the address the node registered from; agent calls from elsewhere are refused
   * @param state its phase
   * @param detail the failure reason or the current step
   * @param logicalSize the disk's size, once the agent began (0 before)
   * @param created epoch ms
   * @param updated epoch ms of the last phase change
   */
  public record Capture(
      long id,
      String image,
      UUID imageId,
      MacAddress mac,
      Optional<String> disk,
      int chunkSize,
      int level,
      boolean force,
      Optional<String> agentIp,
      State state,
      Optional<String> detail,
      long logicalSize,
      long created,
      long updated,
      Optional<String> from) {
    public Capture {
      Objects.requireNonNull(from, "from");
      Objects.requireNonNull(image, "image");
      Objects.requireNonNull(imageId, "imageId");
      Objects.requireNonNull(mac, "mac");
      Objects.requireNonNull(disk, "disk");
      Objects.requireNonNull(agentIp, "agentIp");
      Objects.requireNonNull(state, "state");
      Objects.requireNonNull(detail, "detail");
    }
  }

  /**
   * What a new capture is.
   *
   * @param file where the image's .cci goes
   * @param from the image it updates ({@code --from}): named in its summary with what they share
   */
  public record Request(
      String image,
      Path file,
      MacAddress mac,
      Optional<String> disk,
      int chunkSize,
      int level,
      boolean force,
      Optional<String> from) {}

  private final Database db;
  private final Clock clock;

  public CaptureStore(Database db, Clock clock) {
    this.db = Objects.requireNonNull(db);
    this.clock = Objects.requireNonNull(clock);
  }

  /**
   * Starts a capture: the image row {@code capturing}, the node marked {@link BootAction#CAPTURE}.
   *
   * @throws ConflictException when the name is taken by an image that did not fail, or the node is
   *     already being captured
   */
  public Capture create(Request r) {
    return db.write(
        c -> {
          Optional<Image> old = ImageStore.find(c, r.image());
          if (old.isPresent() && !old.get().state().equals("failed")) {
            throw new ConflictException(
                "image "
                    + r.image()
                    + " exists ("
                    + old.get().state()
                    + "); remove it first or choose another name");
          }
          Optional<Capture> busy =
              active(c).stream().filter(x -> x.mac().equals(r.mac())).findFirst();
          if (busy.isPresent()) {
            throw new ConflictException(
                r.mac()
                    + " is already being captured into image "
                    + busy.get().image()
                    + "; cancel that first ('clonecast image capture "
                    + busy.get().image()
                    + " --cancel')");
          }
          long now = clock.millis();
          String why = "waiting for " + r.mac() + " to PXE boot";
          NodeStore.update(c, "DELETE FROM images WHERE name = ?", r.image());
          NodeStore.update(
              c,
              "INSERT INTO images (name, file, state, detail, image_id, logical_size, stored_size, own_size, chunks,"
                  + " image_hash,"
                  + " created, daemon) VALUES (?, ?, 'capturing', ?, NULL, 0, 0, 0, 0, NULL, ?, ?)",
              r.image(),
              r.file().toString(),
              why,
              now,
              db.daemon());
          long id =
              Database.insertReturningId(
                  c,
                  "INSERT INTO captures (image, image_id, mac, disk, chunk_size, level, forced, agent_ip, state, detail,"
                      + " logical_size, created, updated, from_image, daemon)"
                      + " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 0, ?, ?, ?, ?)",
                  r.image(),
                  UUID.randomUUID().toString(),
                  r.mac().toString(),
                  r.disk().orElse(null),
                  r.chunkSize(),
                  r.level(),
                  r.force() ? 1 : 0,
                  State.WAITING.id(),
                  why,
                  now,
                  now,
                  r.from().orElse(null),
                  db.daemon());
          NodeStore.update(
              c,
              "UPDATE nodes SET action = ?, state = ?, detail = ? WHERE mac = ?",
              BootAction.CAPTURE.id(),
              NodeState.BOOTING.id(),
              "capture " + r.image(),
              r.mac().toString());
          return find(c, id).orElseThrow();
        });
  }

  /**
   * Notes that the node registered from {@code ip}: it captures from there, and only that address
   * is heard.
   */
  public Capture registered(long id, String ip, String detail) {
    return db.write(
        c -> {
          NodeStore.update(
              c,
              "UPDATE captures SET agent_ip = ?, state = ?, detail = ?, updated = ? WHERE id = ?",
              ip,
              State.CAPTURING.id(),
              detail,
              clock.millis(),
              id);
          Capture cap = find(c, id).orElseThrow();
          NodeStore.update(
              c,
              "UPDATE images SET detail = ? WHERE name = ? AND state = 'capturing'",
              detail,
              cap.image());
          NodeStore.update(
              c,
              "UPDATE nodes SET state = ?, detail = ? WHERE mac = ?",
              NodeState.CAPTURING.id(),
              "capture " + cap.image(),
              cap.mac().toString());
          return cap;
        });
  }

  /** Records the disk's size the agent reported. */
  public void setLogicalSize(long id, long size) {
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE captures SET logical_size = ?, updated = ? WHERE id = ?",
                size,
                clock.millis(),
                id));
  }

  /** Records a phase that is not an end (capturing, verifying). */
  public void setState(long id, State state, String detail) {
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE captures SET state = ?, detail = ?, updated = ? WHERE id = ?",
                state.id(),
                detail,
                clock.millis(),
                id));
  }

  /**
   * Ends a capture that is still active: the capture row gets {@code state}, a failed or cancelled
   * one fails its image row with the reason, and the node boots its disk again ({@code done} or
   * {@code failed}).
   *
   * @return whether it was active (a second end changes nothing)
   */
  public boolean end(long id, State state, String detail) {
    if (state.active()) {
      throw new IllegalArgumentException(state + " is not an end");
    }
    return db.write(
        c -> {
          Optional<Capture> cap = find(c, id);
          if (cap.isEmpty() || !cap.get().state().active()) {
            return false;
          }
          long now = clock.millis();
          NodeStore.update(
              c,
              "UPDATE captures SET state = ?, detail = ?, updated = ? WHERE id = ?",
              state.id(),
              detail,
              now,
              id);
          if (state != State.DONE) {
            NodeStore.update(
                c,
                "UPDATE images SET state = 'failed', detail = ? WHERE name = ? AND state = 'capturing'",
                "capture " + state.id() + ": " + detail,
                cap.get().image());
          }
          NodeStore.update(
              c,
              "UPDATE nodes SET action = ?, state = ?, detail = ?, last_seen = ? WHERE mac = ?",
              BootAction.LOCAL.id(),
              (state == State.DONE ? NodeState.DONE : NodeState.FAILED).id(),
              "capture " + cap.get().image() + ": " + detail,
              now,
              cap.get().mac().toString());
          return true;
        });
  }

  public Optional<Capture> find(long id) {
    return db.read(c -> find(c, id));
  }

  /** The active capture of {@code mac}, if any. */
  public Optional<Capture> activeFor(MacAddress mac) {
    return active().stream().filter(x -> x.mac().equals(mac)).findFirst();
  }

  /** The newest capture making image {@code name}, if any. */
  public Optional<Capture> newestFor(String name) {
    return db.read(
        c ->
            Database.queryFirst(
                c,
                "SELECT " + COLUMNS + " FROM captures WHERE image = ? ORDER BY id DESC LIMIT 1",
                CaptureStore::capture,
                name));
  }

  /** Captures that can still make their image, oldest first. */
  public List<Capture> active() {
    return db.read(CaptureStore::active);
  }

  /**
   * The ids of the active captures this daemon runs (or that predate the daemon column): those it
   * takes up again after a restart; another daemon sharing the store runs the rest.
   */
  public Set<Long> ownActive() {
    return Set.copyOf(
        db.read(
            c ->
                Database.query(
                    c,
                    "SELECT id FROM captures WHERE state IN (?, ?, ?)"
                        + " AND (daemon = ? OR daemon IS NULL)",
                    rs -> rs.getLong(1),
                    State.WAITING.id(),
                    State.CAPTURING.id(),
                    State.VERIFYING.id(),
                    db.daemon())));
  }

  /** The newest captures, newest first. */
  public List<Capture> list(int limit) {
    return db.read(
        c ->
            Database.query(
                c,
                "SELECT " + COLUMNS + " FROM captures ORDER BY id DESC LIMIT ?",
                CaptureStore::capture,
                limit));
  }

  private static List<Capture> active(Connection c) throws SQLException {
    return Database.query(
        c,
        "SELECT " + COLUMNS + " FROM captures WHERE state IN (?, ?, ?) ORDER BY id",
        CaptureStore::capture,
        State.WAITING.id(),
        State.CAPTURING.id(),
        State.VERIFYING.id());
  }

  private static Optional<Capture> find(Connection c, long id) throws SQLException {
    return Database.queryFirst(
        c, "SELECT " + COLUMNS + " FROM captures WHERE id = ?", CaptureStore::capture, id);
  }

  private static Capture capture(ResultSet rs) throws SQLException {
    return new Capture(
        rs.getLong(1),
        rs.getString(2),
        UUID.fromString(rs.getString(3)),
        MacAddress.parse(rs.getString(4)),
        Optional.ofNullable(rs.getString(5)),
        rs.getInt(6),
        rs.getInt(7),
        rs.getInt(8) != 0,
        Optional.ofNullable(rs.getString(9)),
        State.parse(rs.getString(10)),
        Optional.ofNullable(rs.getString(11)),
        rs.getLong(12),
        rs.getLong(13),
        rs.getLong(14),
        Optional.ofNullable(rs.getString(15)));
  }
}

package org.clonecast.server.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.regex.Pattern;
import org.clonecast.common.disk.DiskAllocation;
import org.clonecast.common.disk.DiskPlan;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageInput;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.ImageVerifier;
import org.clonecast.common.trust.ImageSigner;
import org.clonecast.common.trust.KeyRing;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;

/**
 * The server's images: {@code <state-dir>/images/<name>.cci}, one row each in {@code images}.
 * Adding runs in the background (capturing a raw disk takes minutes): the row says {@code adding}
 * until the file is complete, verified and renamed into place, so a crash never leaves an image
 * that looks ready; {@link #recover()} marks interrupted ones failed. An image captured from a node
 * over the network says {@code capturing} until its capture publishes it ({@link
 * #publishCaptured}); a restart keeps it capturing (the capture resumes).
 *
 * <p>Thread-safe.
 */
public final class ImageStore {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  private static final String COLUMNS =
      "name, file, state, detail, image_id, logical_size, stored_size, chunks, image_hash, created";

  private final Database db;
  private final Path dir;
  private final Clock clock;
  private final EventLog events;
  private final ExecutorService worker;
  private final Map<String, long[]> progress = new ConcurrentHashMap<>();
  private final Optional<KeyRing> key;

  /**
   * A store that does not sign (tests of other things).
   *
   * @param worker runs the adds, one at a time is plenty (each uses every core)
   */
  public ImageStore(Database db, Path dir, Clock clock, EventLog events, ExecutorService worker) {
    this(db, dir, clock, events, worker, Optional.empty());
  }

  /**
   * @param worker runs the adds, one at a time is plenty (each uses every core)
   * @param key signs every image before it becomes ready (added or captured): the daemon's current
   *     key
   */
  public ImageStore(
      Database db,
      Path dir,
      Clock clock,
      EventLog events,
      ExecutorService worker,
      Optional<KeyRing> key) {
    this.key = Objects.requireNonNull(key);
    this.db = Objects.requireNonNull(db);
    this.dir = Objects.requireNonNull(dir);
    this.clock = Objects.requireNonNull(clock);
    this.events = Objects.requireNonNull(events);
    this.worker = Objects.requireNonNull(worker);
  }

  /** After a restart: adds that were running are failed and their partial files removed. */
  public void recover() throws IOException {
    Files.createDirectories(dir);
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE images SET state = 'failed', detail = ? WHERE state = 'adding'",
                "interrupted by a daemon restart; add it again"));
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.adding")) {
      for (Path p : ds) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Starts adding {@code source} (a raw disk or file, or a .cci) as {@code name}.
   *
   * @throws IllegalArgumentException for a bad name or an unreadable source
   * @throws ConflictException when the name is taken by a ready or adding image
   */
  public Image add(String name, Path source) {
    return add(name, source, false, false);
  }

  /**
   * Adds {@code source} as {@code name} in the background: a .cci is verified and copied; a disk or
   * disk image file is captured carrying only what its partition tables and filesystems use
   * (docs/capture.md).
   *
   * @param raw take the source as a raw disk even when it looks like a .cci; without it a damaged
   *     .cci (named .cci, a magic off by a byte or two, header fields pointing at a manifest) is
   *     refused at once, naming the damage
   * @param force capture filesystems that are mounted read-write or not clean (carried whole)
   *     instead of failing the image
   */
  public Image add(String name, Path source, boolean raw, boolean force) {
    validName(name);
    if (!Files.isReadable(source)) {
      throw new IllegalArgumentException(
          "the daemon cannot read "
              + source
              + " ("
              + (Files.exists(source) ? "permission denied" : "no such file")
              + "); give a path on the head node that the daemon's user can read");
    }
    ImageInput.Kind kind;
    try {
      kind = ImageInput.classify(source, raw);
    } catch (IOException | MalformedImageException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    Path file = dir.resolve(name + ".cci");
    Image img =
        db.write(
            c -> {
              Optional<Image> old = find(c, name);
              if (old.isPresent() && !old.get().state().equals("failed")) {
                throw new ConflictException(
                    "image "
                        + name
                        + " exists ("
                        + old.get().state()
                        + "); remove it first or choose another name");
              }
              NodeStore.update(c, "DELETE FROM images WHERE name = ?", name);
              NodeStore.update(
                  c,
                  "INSERT INTO images ("
                      + COLUMNS
                      + ") VALUES (?, ?, 'adding', NULL, NULL, 0, 0, 0, NULL, ?)",
                  name,
                  file.toString(),
                  clock.millis());
              return find(c, name).orElseThrow();
            });
    progress.put(name, new long[] {0, 0});
    events.record(
        "image", Optional.empty(), Optional.empty(), "adding " + name + " from " + source);
    worker.submit(() -> build(name, source, kind, file, force));
    return img;
  }

  /**
   * Checks an image name. "capture" is reserved: {@code /api/v1/images/capture} starts captures.
   *
   * @throws IllegalArgumentException saying what a valid name looks like
   */
  public static String validName(String name) {
    if (name == null || !NAME.matcher(name).matches() || name.equals("capture")) {
      throw new IllegalArgumentException(
          "invalid image name '"
              + name
              + "'; use 1-64 letters, digits, '.', '_' or '-' ('capture' is reserved)");
    }
    return name;
  }

  /** Where image {@code name}'s .cci lives. */
  public Path fileFor(String name) {
    return dir.resolve(validName(name) + ".cci");
  }

  /** The store's directory (partial captures live there too). */
  public Path dir() {
    return dir;
  }

  /**
   * Publishes a captured image whose complete, verified {@code .cci} is already at {@link
   * #fileFor}: its row becomes {@code ready} with the manifest's figures.
   */
  public void publishCaptured(String name, Manifest m) throws IOException {
    if (key.isPresent()) {
      ImageSigner.sign(fileFor(name), key.get().current());
    }
    ready(name, m, Files.size(fileFor(name)), " (captured)");
  }

  /**
   * Makes {@code name}'s row {@code ready} with the manifest's figures and {@code stored} bytes on
   * disk, drops its progress and records the event, "… bytes stored" followed by {@code how}.
   */
  private void ready(String name, Manifest m, long stored, String how) {
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE images SET state = 'ready', detail = NULL, image_id = ?, logical_size = ?,"
                    + " stored_size = ?, chunks = ?, image_hash = ? WHERE name = ?",
                m.imageId().toString(),
                m.logicalSize(),
                stored,
                m.chunkCount(),
                m.imageHash().toString(),
                name));
    progress.remove(name);
    events.record(
        "image",
        Optional.empty(),
        Optional.empty(),
        "image "
            + name
            + " ready: "
            + m.logicalSize()
            + " bytes, "
            + m.chunkCount()
            + " chunks, "
            + stored
            + " bytes stored"
            + how);
  }

  /** The keys that sign what this store holds, when it signs. */
  public Optional<KeyRing> keys() {
    return key;
  }

  /** Sets the progress shown for an image being captured: logical bytes done of total. */
  public void setProgress(String name, long done, long total) {
    progress.put(name, new long[] {done, total});
  }

  /** Drops the progress of an image no longer being captured. */
  public void clearProgress(String name) {
    progress.remove(name);
  }

  private void build(String name, Path source, ImageInput.Kind kind, Path file, boolean force) {
    Path partial = dir.resolve(name + ".cci.adding");
    try {
      Files.deleteIfExists(partial);
      Manifest m;
      if (kind == ImageInput.Kind.IMAGE) {
        try (ImageReader r = ImageReader.open(source)) {
          progress.get(name)[1] = r.manifest().logicalSize();
          ImageVerifier.verify(
              r, Runtime.getRuntime().availableProcessors(), done -> progress.get(name)[0] = done);
        }
        Files.copy(source, partial, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.WRITE)) {
          ch.force(true);
        }
      } else {
        try (FileChannel ch = FileChannel.open(source, StandardOpenOption.READ)) {
          progress.get(name)[1] = ch.size();
        }
        DiskPlan plan = DiskAllocation.plan(source, force);
        events.record(
            "image", Optional.empty(), Optional.empty(), "adding " + name + ": " + plan.describe());
        ImageCreator.create(
            source,
            partial,
            Manifest.DEFAULT_CHUNK_SIZE,
            ChunkCodec.DEFAULT_LEVEL,
            Runtime.getRuntime().availableProcessors(),
            true,
            plan.map(),
            done -> progress.get(name)[0] = done);
      }
      if (key.isPresent()) {
        ImageSigner.sign(partial, key.get().current());
      }
      try (ImageReader r = ImageReader.open(partial)) {
        m = r.manifest();
      }
      Files.move(
          partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      // The row was inserted with no detail and only this worker moves it on from 'adding'.
      ready(name, m, Files.size(file), "");
    } catch (Exception e) {
      try {
        Files.deleteIfExists(partial);
      } catch (IOException ignored) {
        // the next recover() removes it
      }
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      db.write(
          c ->
              NodeStore.update(
                  c, "UPDATE images SET state = 'failed', detail = ? WHERE name = ?", why, name));
      events.record(
          "image", Optional.empty(), Optional.empty(), "adding " + name + " failed: " + why);
    } finally {
      progress.remove(name);
    }
  }

  /** Bytes done and total of a running add, if one runs for {@code name}. */
  public Optional<long[]> progress(String name) {
    long[] p = progress.get(name);
    return p == null ? Optional.empty() : Optional.of(p.clone());
  }

  public Optional<Image> find(String name) {
    return db.read(c -> find(c, name));
  }

  public List<Image> list() {
    return db.read(
        c ->
            Database.query(
                c, "SELECT " + COLUMNS + " FROM images ORDER BY name", ImageStore::image));
  }

  /**
   * Removes an image and its file.
   *
   * @throws ConflictException while it is being added
   */
  public boolean remove(String name) throws IOException {
    Optional<Image> img = find(name);
    if (img.isEmpty()) {
      return false;
    }
    if (img.get().state().equals("adding")) {
      throw new ConflictException("image " + name + " is still being added; wait for it to finish");
    }
    if (img.get().state().equals("capturing")) {
      throw new ConflictException(
          "image "
              + name
              + " is being captured; cancel that first ('clonecast image capture "
              + name
              + " --cancel')");
    }
    db.write(c -> NodeStore.update(c, "DELETE FROM images WHERE name = ?", name));
    Files.deleteIfExists(img.get().file());
    events.record("image", Optional.empty(), Optional.empty(), "removed image " + name);
    return true;
  }

  static Optional<Image> find(Connection c, String name) throws SQLException {
    return Database.queryFirst(
        c, "SELECT " + COLUMNS + " FROM images WHERE name = ?", ImageStore::image, name);
  }

  private static Image image(ResultSet rs) throws SQLException {
    return new Image(
        rs.getString(1),
        Path.of(rs.getString(2)),
        rs.getString(3),
        Optional.ofNullable(rs.getString(4)),
        Optional.ofNullable(rs.getString(5)),
        rs.getLong(6),
        rs.getLong(7),
        rs.getInt(8),
        Optional.ofNullable(rs.getString(9)),
        rs.getLong(10));
  }
}

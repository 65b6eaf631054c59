package org.clonecast.server.store;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.regex.Pattern;
import org.clonecast.common.disk.DiskAllocation;
import org.clonecast.common.disk.DiskPlan;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageInput;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.ImageVerifier;
import org.clonecast.common.trust.KeyRing;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.image.Sha256;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's images: one row each in {@code images}, a manifest file {@code
 * <state-dir>/images/<name>.ccm} each, and their chunks in the shared, content-addressed {@link
 * ChunkPool} {@code <state-dir>/images/chunks}: an image stores only the chunks no other image
 * holds (docs/image-format.md, "The store's chunk pool"). A {@code .cci} is what {@link #add}
 * imports; images of an earlier build ({@code <name>.cci}) keep working and are moved into the pool
 * in the background after a start ({@link #recover()}).
 *
 * <p>Adding runs in the background (capturing a raw disk takes minutes): the row says {@code
 * adding} until the image is verified and its chunks and manifest file are durable, so a crash
 * never leaves an image that looks ready; {@link #recover()} marks interrupted ones failed. An
 * image captured from a node over the network says {@code capturing} until its capture publishes it
 * ({@link #publishCaptured}); a restart keeps it capturing (the capture resumes).
 *
 * <p>Thread-safe.
 */
public final class ImageStore {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  private static final String COLUMNS =
      "name, file, state, detail, image_id, logical_size, stored_size, own_size, chunks,"
          + " image_hash, created";

  /** The name ending of an image's manifest file in the store. */
  public static final String MANIFEST_SUFFIX = ".ccm";

  /**
   * The name ending of the manifest of an image being fetched from another daemon ({@link
   * #beginReplica}): its chunks count as live for the sweep, so a fetch that breaks off resumes.
   */
  static final String COPYING_SUFFIX = MANIFEST_SUFFIX + ".copying";

  private static final Logger LOG = LoggerFactory.getLogger(ImageStore.class);

  private final Database db;
  private final Path dir;
  private final Clock clock;
  private final EventLog events;
  private final ExecutorService worker;
  private final Map<String, long[]> progress = new ConcurrentHashMap<>();
  private final Optional<KeyRing> key;
  private final ChunkPool pool;
  private final ImageCopies copies;

  /** The digests of the stored chunks of every image this daemon holds (what peers may fetch). */
  private volatile Set<Sha256> heldDigests = Set.of();

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
    this.pool = new ChunkPool(dir.resolve("chunks"));
    this.copies = new ImageCopies(db, clock);
  }

  /** Which daemons hold which images' bytes. */
  public ImageCopies copies() {
    return copies;
  }

  /**
   * After a restart: adds this daemon was running are failed and their partial files removed,
   * manifest files no image names (a crash between writing one and its row) removed, chunks no
   * manifest references swept, and images of an earlier build queued to move into the pool.
   */
  public void recover() throws IOException {
    Files.createDirectories(dir);
    pool.removeTemporaries();
    db.write(
        c ->
            NodeStore.update(
                c,
                "UPDATE images SET state = 'failed', detail = ? WHERE state = 'adding'"
                    + " AND (daemon = ? OR daemon IS NULL)",
                "interrupted by a daemon restart; add it again",
                db.daemon()));
    copies.dropUnfinished();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.adding")) {
      for (Path p : ds) {
        Files.deleteIfExists(p);
      }
    }
    removeOrphans();
    collect();
    refreshShares();
    recordLocalCopies();
    for (Image i : list()) {
      if (i.ready() && !isPooled(i)) {
        worker.submit(() -> migrate(i.name()));
      }
    }
  }

  /**
   * Moves an image of an earlier build ({@code <name>.cci}) into the pool: its chunks are put, its
   * manifest file written, then its row points at that and the {@code .cci} is deleted, in that
   * order, so a crash leaves the {@code .cci} working (and at worst chunks the next sweep
   * collects). A session sending it meanwhile keeps its open {@code .cci}.
   */
  void migrate(String name) {
    Optional<Image> was = find(name);
    if (was.isEmpty() || !was.get().ready() || isPooled(was.get())) {
      return;
    }
    Path cci = was.get().file();
    Path ccm = manifestFor(name);
    try (ImageReader r = ImageReader.open(cci);
        ChunkPool.Hold h = pool.hold()) {
      Manifest m = putInPool(r, ccm, h);
      boolean moved;
      synchronized (this) {
        Optional<Image> now = find(name);
        moved = now.isPresent() && now.get().ready() && now.get().file().equals(cci);
        if (moved) {
          db.write(
              c ->
                  NodeStore.update(
                      c, "UPDATE images SET file = ? WHERE name = ?", ccm.toString(), name));
          Files.deleteIfExists(cci);
        } else {
          Files.deleteIfExists(ccm);
        }
      }
      if (moved) {
        recordLocalCopies();
        imageEvent(
            "image "
                + name
                + " moved into the chunk pool: "
                + m.chunkCount()
                + " chunks, "
                + h.written()
                + " bytes new, "
                + h.reused()
                + " bytes shared");
      }
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(ccm);
      } catch (IOException ignored) {
        // the next recover() removes it
      }
      LOG.warn("image {}: moving it into the chunk pool failed, it stays a .cci: {}", name, e);
    }
    try {
      refreshShares();
    } catch (IOException e) {
      LOG.warn("image store: counting shared chunks failed: {}", e.toString());
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
    Path file = manifestFor(name);
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
                      + ", daemon) VALUES (?, ?, 'adding', NULL, NULL, 0, 0, 0, 0, NULL, ?, ?)",
                  name,
                  file.toString(),
                  clock.millis(),
                  db.daemon());
              return find(c, name).orElseThrow();
            });
    progress.put(name, new long[] {0, 0});
    imageEvent("adding " + name + " from " + source);
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

  /**
   * Where image {@code name}'s .cci was kept while it was captured by a build before captures wrote
   * their chunks straight into the pool (with {@code .partial} and {@code .journal} beside it).
   */
  public Path fileFor(String name) {
    return dir.resolve(validName(name) + ".cci");
  }

  /**
   * The journal of image {@code name}'s capture while it is {@code capturing}: a header and a
   * {@link JournalRecord} per chunk held, each naming a chunk of the pool. Its chunks are never
   * swept while the row says {@code capturing} ({@link #collect}).
   */
  public Path captureJournalFor(String name) {
    return dir.resolve(validName(name) + ".ccj");
  }

  /** Where image {@code name}'s manifest file lives. */
  public Path manifestFor(String name) {
    return dir.resolve(validName(name) + MANIFEST_SUFFIX);
  }

  /** The chunk pool of the store that holds the manifest file {@code ccm}. */
  public static Path poolOf(Path ccm) {
    return ccm.toAbsolutePath().resolveSibling("chunks");
  }

  /** The store's chunk pool. */
  public ChunkPool pool() {
    return pool;
  }

  /**
   * Opens a ready image to read its chunks (a session's sender): from the pool, or its {@code .cci}
   * if it has not moved there yet. While it is open its chunks stay, even if it is removed.
   *
   * @throws NotFoundException when there is no such image
   * @throws ConflictException when it is not ready
   */
  public synchronized ChunkSource open(String name) throws IOException {
    Image i = find(name).orElseThrow(() -> new NotFoundException("no image " + name));
    if (!i.ready()) {
      throw new ConflictException("image " + name + " is " + i.state() + ", not ready");
    }
    if (db.shared() && isPooled(i) && !Files.exists(manifestOf(i))) {
      throw new ConflictException(notHere(name));
    }
    return isPooled(i) ? PooledImage.open(manifestOf(i), pool) : ImageReader.open(i.file());
  }

  /**
   * Whether this daemon holds ready image {@code name}'s bytes (its manifest file, and so its
   * chunks), or else only the shared row (docs/scale.md, "Replication").
   */
  public boolean holds(String name) {
    Optional<Image> i = find(name);
    return i.isPresent()
        && i.get().ready()
        && Files.exists(isPooled(i.get()) ? manifestOf(i.get()) : i.get().file());
  }

  /** The daemons other than this one with a ready copy of {@code name}. */
  private List<String> holders(String name) {
    return copies.of(name).stream()
        .filter(c -> c.state() == ImageCopies.State.READY && !c.daemon().equals(db.daemon()))
        .map(ImageCopies.Copy::daemon)
        .toList();
  }

  /** Why a ready image cannot be read here: another daemon holds its bytes. */
  private String notHere(String name) {
    List<String> holders = holders(name);
    return "image "
        + name
        + " is not on this daemon"
        + (holders.isEmpty() ? "" : " (held by " + String.join(", ", holders) + ")")
        + "; replicate it here first: clonecast image replicate "
        + name;
  }

  /**
   * The manifest file of ready image {@code name} as this daemon stores it (manifest and signature
   * block), what another daemon fetches to replicate it; empty when this daemon does not hold it.
   */
  public Optional<byte[]> heldManifest(String name) throws IOException {
    Optional<Image> i = find(name);
    if (i.isEmpty() || !i.get().ready() || !isPooled(i.get())) {
      return Optional.empty();
    }
    try {
      return Optional.of(Files.readAllBytes(manifestOf(i.get())));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  /**
   * The stored bytes of chunk {@code sha256} when it belongs to an image this daemon holds (at most
   * {@link Manifest#MAX_CHUNK_SIZE} bytes), what another daemon fetches to replicate it; empty
   * otherwise, or when it is swept while being read.
   */
  public Optional<byte[]> heldChunk(Sha256 sha256) throws IOException {
    if (!heldDigests.contains(sha256)) {
      return Optional.empty();
    }
    long length = pool.length(sha256);
    if (length <= 0 || length > Manifest.MAX_CHUNK_SIZE) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.allocate((int) length);
    try {
      pool.read(sha256, (int) length, b);
    } catch (IOException e) {
      return Optional.empty();
    }
    return Optional.of(b.array());
  }

  /**
   * The image's content hash: the SHA-256 of its manifest encoded with every stored chunk as RAW
   * (offsets as in a {@code .cci} of raw chunks). It binds everything a node's disk receives (image
   * id, sizes, every chunk's digest, kind and used blocks) and nothing a daemon's pool chose (zstd
   * or raw, stored lengths), so every daemon's copy of one image has the same one. The images row
   * keeps it; a daemon fetching the image from another checks the peer's manifest against it.
   */
  public static Sha256 contentHash(Manifest m) {
    List<ChunkEntry> raw = new ArrayList<>(m.chunkCount());
    long offset = ImageFileHeader.LENGTH;
    for (ChunkEntry e : m.chunks()) {
      if (!e.kind().isStored()) {
        raw.add(e);
        continue;
      }
      int len = m.logicalLength(e.index());
      raw.add(new ChunkEntry(e.index(), ChunkKind.RAW, offset, len, e.sha256(), e.used()));
      offset += len;
    }
    Manifest canonical =
        new Manifest(
            m.imageId(), m.logicalSize(), m.chunkSize(), raw, m.imageHash(), m.hashOfChunks());
    ByteBuf b = Unpooled.buffer(canonical.encodedLength());
    try {
      canonical.encode(b);
      return Sha256.digest(ByteBufUtil.getBytes(b), 0, b.readableBytes());
    } finally {
      b.release();
    }
  }

  /** The content hash the images row keeps for {@code name} ({@link #contentHash}), if any. */
  public Optional<Sha256> storedContentHash(String name) {
    return db.read(
            c ->
                Database.queryFirst(
                    c,
                    "SELECT content_hash FROM images WHERE name = ?",
                    rs -> Optional.ofNullable(rs.getString(1)),
                    name))
        .flatMap(h -> h)
        .map(Sha256::ofHex);
  }

  /** Where the manifest of an image being fetched from another daemon is kept meanwhile. */
  Path copyingFile(String name) {
    return dir.resolve(validName(name) + COPYING_SUFFIX);
  }

  /**
   * Starts (or resumes) fetching image {@code name} from another daemon: its manifest, checked by
   * the caller against the images row, is kept beside the store's manifests, so that the chunks
   * fetched for it survive every sweep until the image is published or removed.
   */
  public void beginReplica(String name, Manifest m) throws IOException {
    Files.createDirectories(dir);
    PooledImage.write(copyingFile(name), m, Optional.empty());
  }

  /**
   * Publishes image {@code name} fetched from another daemon: every stored chunk of {@code m} must
   * be in the pool already (under {@code h}, which the caller closes after this). Writes its
   * manifest file (the pool's encoding of each chunk, signed by this daemon's key), records this
   * daemon's copy ready and drops the fetch's manifest.
   *
   * @param how what the event adds, e.g. " from daemon D: 12 chunks fetched"
   * @throws NotFoundException when the image was removed or replaced meanwhile
   */
  public Manifest publishReplica(String name, Manifest m, ChunkPool.Hold h, String how)
      throws IOException {
    Path ccm = manifestFor(name);
    Manifest stored;
    try {
      stored = putInPool(new ManifestOnly(m), ccm, h);
      refreshShares(Optional.of(new Ready(name, stored, ccm, true)));
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(ccm);
      throw e;
    }
    Files.deleteIfExists(copyingFile(name));
    imageEvent("image " + name + " replicated" + how);
    return stored;
  }

  /** A manifest whose chunks are all in the pool already: nothing is ever read from it. */
  private record ManifestOnly(Manifest manifest) implements ChunkSource {
    @Override
    public int readStored(int index, ByteBuffer dst) throws IOException {
      throw new IOException("chunk " + index + " is not in the pool");
    }

    @Override
    public void close() {}
  }

  /**
   * The distinct digests of the stored chunks of ready image {@code name} in the pool; empty when
   * it is gone, not ready or not in the pool yet. What a capture that updates it tells its agent
   * ({@code --from}).
   */
  public Set<Sha256> storedDigests(String name) throws IOException {
    Optional<Image> i = find(name);
    if (i.isEmpty() || !i.get().ready() || !isPooled(i.get())) {
      return Set.of();
    }
    try {
      return new LinkedHashSet<>(PooledImage.digests(readManifest(i.get())));
    } catch (NoSuchFileException e) {
      return Set.of(); // removed meanwhile
    }
  }

  /**
   * The stored bytes the pool holds for the chunk whose {@code logicalLength} logical bytes have
   * digest {@code sha256}, and their kind (RAW when as long as the chunk, else ZSTD); empty when
   * the pool does not hold it (or it is swept while being read). Not checked here: the caller
   * decodes them against the digest.
   */
  public Optional<PooledChunk> pooledChunk(Sha256 sha256, int logicalLength) throws IOException {
    long length = pool.length(sha256);
    if (length <= 0 || length > logicalLength) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.allocate((int) length);
    try {
      pool.read(sha256, (int) length, b);
    } catch (IOException e) {
      return Optional.empty(); // swept, or replaced by a put, between the length and the read
    }
    return Optional.of(
        new PooledChunk(length == logicalLength ? ChunkKind.RAW : ChunkKind.ZSTD, b.array()));
  }

  /** A chunk's stored bytes as the pool holds them. */
  public record PooledChunk(ChunkKind kind, byte[] stored) {}

  private static boolean isPooled(Image i) {
    return i.file().getFileName().toString().endsWith(MANIFEST_SUFFIX);
  }

  /** The store's directory (partial captures live there too). */
  public Path dir() {
    return dir;
  }

  /**
   * Publishes a captured image whose chunks are in the pool already, put there under {@code h} as
   * they arrived (the capture's journal names them, {@link #captureJournalFor}): each chunk {@code
   * m} names is checked to be there, the pool's directories are synced, the manifest file written
   * (signed) and the row becomes {@code ready}. No chunk is read or written again. Closes {@code
   * h}.
   *
   * @param m the manifest as the capture holds it; each stored chunk's kind, length and offset are
   *     taken from the pool's copy (another writer may have put the same content in another
   *     encoding first)
   * @param from the image the capture was asked to share with ({@code --from}), named in the event
   *     with the bytes it shares
   * @return the manifest as stored
   * @throws IOException naming a chunk the pool does not hold (the image is not published)
   */
  public Manifest publishCaptured(String name, Optional<String> from, Manifest m, ChunkPool.Hold h)
      throws IOException {
    Path ccm = manifestFor(name);
    Manifest stored;
    try (h) {
      List<ChunkEntry> out = new ArrayList<>(m.chunkCount());
      long offset = ImageFileHeader.LENGTH;
      for (ChunkEntry e : m.chunks()) {
        if (!e.kind().isStored()) {
          out.add(e);
          continue;
        }
        int logical = m.logicalLength(e.index());
        int length =
            h.put(
                e.sha256(),
                logical,
                () -> {
                  throw new IOException(
                      "chunk " + e.index() + " (" + e.sha256().hex() + ") is not in the pool");
                });
        ChunkKind kind = length == logical ? ChunkKind.RAW : ChunkKind.ZSTD;
        out.add(new ChunkEntry(e.index(), kind, offset, length, e.sha256(), e.used()));
        offset += length;
      }
      stored =
          new Manifest(
              m.imageId(), m.logicalSize(), m.chunkSize(), out, m.imageHash(), m.hashOfChunks());
      // Every chunk the manifest names is durable before the manifest is.
      h.sync();
      Optional<ManifestSignature> sig =
          key.isPresent() ? Optional.of(key.get().current().sign(stored)) : Optional.empty();
      long[] counts = newAndShared(name, stored);
      PooledImage.write(ccm, stored, sig);
      ready(name, stored, ccm, " (captured" + sharing(counts[0], counts[1], stored, from) + ")");
    } catch (IOException | RuntimeException e) {
      // Not ready: its manifest file names nothing.
      Files.deleteIfExists(ccm);
      throw e;
    }
    return stored;
  }

  /**
   * A hold on the store's chunk pool, for a capture to {@link ChunkPool.Hold#stage} its chunks as
   * they arrive: none of them is swept until the hold is closed (and, across restarts, while the
   * capture's journal names them).
   */
  public ChunkPool.Hold holdChunks() {
    return pool.hold();
  }

  /** ", N bytes new, M shared[, K of them with OLD]": what an image's chunks cost the pool. */
  private String sharing(ChunkPool.Hold h, Manifest m, Optional<String> from) throws IOException {
    return sharing(h.written(), h.reused(), m, from);
  }

  /** As {@link #sharing(ChunkPool.Hold, Manifest, Optional)}, with the bytes new and shared. */
  private String sharing(long written, long reused, Manifest m, Optional<String> from)
      throws IOException {
    String with = "";
    if (from.isPresent()) {
      Optional<Image> base = find(from.get());
      if (base.isPresent() && base.get().ready() && isPooled(base.get())) {
        Set<Sha256> theirs = new HashSet<>(PooledImage.digests(readManifest(base.get())));
        long common = 0;
        Set<Sha256> seen = new HashSet<>();
        for (ChunkEntry e : m.chunks()) {
          if (e.kind().isStored() && seen.add(e.sha256()) && theirs.contains(e.sha256())) {
            common += e.storedLength();
          }
        }
        with = ", " + common + " of them with " + from.get();
      } else {
        with = ", " + from.get() + " is gone";
      }
    }
    return ", " + written + " bytes new, " + reused + " bytes shared" + with;
  }

  /**
   * The stored bytes of {@code m}'s distinct chunks that no ready image but {@code name} references
   * (new to the store) and those some other one does (shared): a capture's chunks went into the
   * pool as they arrived, some of them before a restart, so what its hold wrote does not say.
   */
  private long[] newAndShared(String name, Manifest m) throws IOException {
    Set<Sha256> others = new HashSet<>();
    for (Image i : list()) {
      if (i.ready() && isPooled(i) && !i.name().equals(name)) {
        others.addAll(PooledImage.digests(readManifest(i)));
      }
    }
    long[] out = new long[2];
    Set<Sha256> seen = new HashSet<>();
    for (ChunkEntry e : m.chunks()) {
      if (e.kind().isStored() && seen.add(e.sha256())) {
        out[others.contains(e.sha256()) ? 1 : 0] += e.storedLength();
      }
    }
    return out;
  }

  /**
   * Puts every stored chunk of {@code src} into the pool (under {@code h}, which the caller closes
   * only after it has published the image's row), makes them durable, then writes the manifest file
   * {@code ccm}: the manifest with each chunk in the encoding the pool holds and offsets as in a
   * {@code .cci}, signed by the daemon's key (else keeping {@code src}'s signature when unchanged).
   */
  private Manifest putInPool(ChunkSource src, Path ccm, ChunkPool.Hold h) throws IOException {
    Manifest in = src.manifest();
    List<ChunkEntry> out = new ArrayList<>(in.chunkCount());
    long offset = ImageFileHeader.LENGTH;
    for (ChunkEntry e : in.chunks()) {
      if (!e.kind().isStored()) {
        out.add(e);
        continue;
      }
      int logical = in.logicalLength(e.index());
      // A chunk the pool holds already (another image's, or staged by a capture) is not read.
      int length = h.put(e.sha256(), logical, () -> src.readStored(e.index()));
      ChunkKind kind = length == logical ? ChunkKind.RAW : ChunkKind.ZSTD;
      out.add(new ChunkEntry(e.index(), kind, offset, length, e.sha256(), e.used()));
      offset += length;
    }
    // Every chunk the manifest names is durable before the manifest is.
    h.sync();
    Manifest m =
        new Manifest(
            in.imageId(), in.logicalSize(), in.chunkSize(), out, in.imageHash(), in.hashOfChunks());
    Optional<ManifestSignature> sig =
        key.isPresent()
            ? Optional.of(key.get().current().sign(m))
            : m.equals(in) ? src.signature() : Optional.empty();
    PooledImage.write(ccm, m, sig);
    return m;
  }

  private Manifest readManifest(Image i) throws IOException {
    return PooledImage.read(manifestOf(i)).manifest();
  }

  /**
   * Where a pooled image's manifest file is: by its name in this store's directory, whatever path
   * the row holds (a state directory moved or named another way keeps its images).
   */
  private Path manifestOf(Image i) {
    return dir.resolve(i.file().getFileName().toString());
  }

  /**
   * Makes {@code name}'s row {@code ready} with the manifest's figures and its file, drops its
   * progress and records the event, "… bytes stored" followed by {@code how}.
   */
  private void ready(String name, Manifest m, Path file, String how) throws IOException {
    long stored = refreshShares(Optional.of(new Ready(name, m, file, false)))[0];
    progress.remove(name);
    imageEvent(
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
    ChunkPool.Hold h = pool.hold();
    try {
      Files.deleteIfExists(partial);
      Path cci = source;
      if (kind == ImageInput.Kind.IMAGE) {
        try (ImageReader r = ImageReader.open(source)) {
          progress.get(name)[1] = r.manifest().logicalSize();
          ImageVerifier.verify(
              r, Runtime.getRuntime().availableProcessors(), done -> progress.get(name)[0] = done);
        }
      } else {
        try (FileChannel ch = FileChannel.open(source, StandardOpenOption.READ)) {
          progress.get(name)[1] = ch.size();
        }
        DiskPlan plan = DiskAllocation.plan(source, force);
        imageEvent("adding " + name + ": " + plan.describe());
        ImageCreator.create(
            source,
            partial,
            Manifest.DEFAULT_CHUNK_SIZE,
            ChunkCodec.DEFAULT_LEVEL,
            Runtime.getRuntime().availableProcessors(),
            true,
            plan.map(),
            done -> progress.get(name)[0] = done);
        cci = partial;
      }
      Manifest m;
      try (ImageReader r = ImageReader.open(cci)) {
        m = putInPool(r, file, h);
      }
      // The row was inserted with no detail and only this worker moves it on from 'adding'.
      ready(name, m, file, sharing(h, m, Optional.empty()));
      h.close();
      Files.deleteIfExists(partial);
    } catch (Exception e) {
      try {
        Files.deleteIfExists(partial);
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // the next recover() removes them
      }
      h.close();
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      db.write(
          c ->
              NodeStore.update(
                  c, "UPDATE images SET state = 'failed', detail = ? WHERE name = ?", why, name));
      imageEvent("adding " + name + " failed: " + why);
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
    // The row first, then the manifest file, then the chunks no manifest references any more: a
    // crash at any point leaves every chunk a remaining image needs.
    // Every daemon's copy row goes with it: the image is gone from the cluster. Another daemon's
    // copy is its own to delete (its next sweep does, removeOrphans): nothing here touches its
    // pool.
    synchronized (this) {
      db.write(
          c -> {
            NodeStore.update(c, "DELETE FROM images WHERE name = ?", name);
            ImageCopies.removeAll(c, name);
            return null;
          });
      Files.deleteIfExists(manifestOf(img.get()));
      Files.deleteIfExists(img.get().file());
      Files.deleteIfExists(copyingFile(name));
    }
    long[] freed = collect();
    refreshShares();
    imageEvent(
        "removed image " + name + ": " + freed[1] + " bytes of " + freed[0] + " chunk(s) freed");
    return true;
  }

  /**
   * Sweeps the pool: deletes every chunk no image's manifest and no open reader or running writer
   * references.
   *
   * @return chunks and bytes freed
   */
  public long[] collect() throws IOException {
    if (db.shared()) {
      // Images another daemon removed leave their files here: their chunks go in this sweep.
      removeOrphans();
    }
    try {
      return pool.sweep(this::liveDigests);
    } catch (UncheckedIOException e) {
      LOG.warn("image store: no chunk collected: {}", e.getCause().getMessage());
      return new long[2];
    }
  }

  /**
   * The digests every image's manifest file and every capture's journal references (read under the
   * pool's lock).
   *
   * @throws UncheckedIOException when a ready image's manifest is missing or unreadable: its chunks
   *     must not go, so nothing is swept
   */
  private Set<Sha256> liveDigests() {
    Set<Sha256> live = new HashSet<>();
    // On a shared store a ready image whose manifest is missing here is another daemon's, unless
    // this daemon recorded its copy (then the manifest went missing, and nothing is swept).
    Set<String> mine = new HashSet<>();
    if (db.shared()) {
      for (ImageCopies.Copy c : copies.list()) {
        if (c.daemon().equals(db.daemon()) && c.state() == ImageCopies.State.READY) {
          mine.add(c.image());
        }
      }
    }
    for (Image i : list()) {
      Path copying = copyingFile(i.name());
      if (Files.exists(copying)) {
        try {
          live.addAll(PooledImage.digests(PooledImage.read(copying).manifest()));
        } catch (NoSuchFileException e) {
          // published or removed meanwhile: its chunks are in its manifest, or not needed
        } catch (IOException e) {
          throw new UncheckedIOException(
              new IOException("image " + i.name() + " (being fetched): " + e.getMessage(), e));
        }
      }
      if (i.state().equals("capturing")) {
        try {
          live.addAll(journalled(captureJournalFor(i.name())));
        } catch (IOException e) {
          throw new UncheckedIOException(
              new IOException("capture of " + i.name() + ": " + e.getMessage(), e));
        }
        continue;
      }
      boolean here = Files.exists(manifestOf(i));
      if (!isPooled(i)
          || (!i.ready() && !here)
          || (!here && db.shared() && !mine.contains(i.name()))) {
        continue;
      }
      try {
        live.addAll(PooledImage.digests(readManifest(i)));
      } catch (IOException e) {
        throw new UncheckedIOException(
            new IOException("image " + i.name() + ": " + e.getMessage(), e));
      }
    }
    return live;
  }

  /**
   * Deletes the manifest files (and fetches' manifests) of images whose row is gone: a crash
   * between writing one and its row, or an image another daemon removed. The directory is listed
   * before the rows are read: every file seen there had its row written first, so a file of an
   * image being added now is never taken for an orphan.
   */
  private synchronized void removeOrphans() throws IOException {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + MANIFEST_SUFFIX + "*")) {
      ds.forEach(files::add);
    }
    if (files.isEmpty()) {
      return;
    }
    Set<Path> named = new HashSet<>();
    for (Image i : list()) {
      named.add(i.file().getFileName());
      named.add(Path.of(i.name() + COPYING_SUFFIX));
    }
    for (Path p : files) {
      if (!named.contains(p.getFileName())) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Records this daemon's copy of every ready image whose bytes it holds (images of a build before
   * copies were recorded), and the content hash of those whose row lacks one.
   */
  private void recordLocalCopies() throws IOException {
    Set<String> recorded = new HashSet<>();
    for (ImageCopies.Copy c : copies.list()) {
      if (c.daemon().equals(db.daemon()) && c.state() == ImageCopies.State.READY) {
        recorded.add(c.image());
      }
    }
    Set<String> hashed =
        new HashSet<>(
            db.read(
                c ->
                    Database.query(
                        c,
                        "SELECT name FROM images WHERE content_hash IS NOT NULL",
                        rs -> rs.getString(1))));
    for (Image i : list()) {
      if (!i.ready() || !isPooled(i) || !Files.exists(manifestOf(i))) {
        continue;
      }
      if (recorded.contains(i.name()) && hashed.contains(i.name())) {
        continue;
      }
      Manifest m;
      try {
        m = readManifest(i);
      } catch (IOException e) {
        LOG.warn("image {}: its manifest cannot be read: {}", i.name(), e.getMessage());
        continue;
      }
      String hash = contentHash(m).hex();
      long now = clock.millis();
      db.write(
          c -> {
            NodeStore.update(
                c,
                "UPDATE images SET content_hash = ? WHERE name = ? AND content_hash IS NULL"
                    + " AND image_id = ?",
                hash,
                i.name(),
                m.imageId().toString());
            ImageCopies.ready(c, i.name(), db.daemon(), i.storedSize(), now);
            return null;
          });
    }
  }

  /**
   * The digests a capture's journal names: its good records, up to the first torn or damaged one
   * (which its replay cuts off); none when there is no journal.
   */
  static Set<Sha256> journalled(Path journal) throws IOException {
    byte[] all;
    try {
      all = Files.readAllBytes(journal);
    } catch (NoSuchFileException e) {
      return Set.of();
    }
    Set<Sha256> out = new HashSet<>();
    ByteBuf in = Unpooled.wrappedBuffer(all);
    if (in.readableBytes() < ImageFileHeader.LENGTH) {
      return out;
    }
    in.skipBytes(ImageFileHeader.LENGTH);
    while (in.isReadable()) {
      try {
        out.add(JournalRecord.decode(in).sha256());
      } catch (MalformedImageException e) {
        break;
      }
    }
    return out;
  }

  /**
   * Counts for every pooled image the bytes of its chunks and those no other image references (its
   * own), and writes them to its row.
   */
  synchronized void refreshShares() throws IOException {
    refreshShares(Optional.empty());
  }

  /**
   * An image becoming ready: its row, manifest and file; a replica ({@link #publishReplica}) is
   * ready already in the store, and only this daemon's copy of it becomes so.
   */
  private record Ready(String name, Manifest manifest, Path file, boolean replica) {}

  /**
   * As {@link #refreshShares()}, making {@code now} ready in the same transaction, so its row never
   * shows figures that ignore what it shares.
   *
   * @return the stored and own bytes of {@code now} (zeros without one)
   */
  private synchronized long[] refreshShares(Optional<Ready> now) throws IOException {
    Map<String, Manifest> all = new HashMap<>();
    for (Image i : list()) {
      if (i.ready()
          && isPooled(i)
          && Files.exists(manifestOf(i))
          && !now.map(r -> r.name().equals(i.name())).orElse(false)) {
        try {
          all.put(i.name(), readManifest(i));
        } catch (IOException e) {
          // One damaged image must not stop the others' adds and removals; its figures stay.
          LOG.warn("image {}: its manifest cannot be read: {}", i.name(), e.getMessage());
        }
      }
    }
    now.ifPresent(r -> all.put(r.name(), r.manifest()));
    Map<String, long[]> figures = figures(all);
    long at = clock.millis();
    db.write(
        c -> {
          if (now.isPresent() && now.get().replica()) {
            Ready r = now.get();
            Optional<Image> row = find(c, r.name());
            if (row.isEmpty()
                || !row.get().ready()
                || !row.get().imageId().equals(Optional.of(r.manifest().imageId().toString()))) {
              throw new NotFoundException(
                  "image " + r.name() + " was removed or replaced while it was being fetched");
            }
            ImageCopies.ready(c, r.name(), db.daemon(), figures.get(r.name())[0], at);
          } else if (now.isPresent()) {
            Ready r = now.get();
            long[] f = figures.get(r.name());
            ImageCopies.ready(c, r.name(), db.daemon(), f[0], at);
            NodeStore.update(
                c,
                "UPDATE images SET state = 'ready', detail = NULL, file = ?, image_id = ?,"
                    + " logical_size = ?, stored_size = ?, own_size = ?, chunks = ?,"
                    + " image_hash = ?, content_hash = ? WHERE name = ?",
                r.file().toString(),
                r.manifest().imageId().toString(),
                r.manifest().logicalSize(),
                f[0],
                f[1],
                r.manifest().chunkCount(),
                r.manifest().imageHash().toString(),
                contentHash(r.manifest()).hex(),
                r.name());
          }
          for (Map.Entry<String, long[]> e : figures.entrySet()) {
            if (now.isEmpty() || !now.get().name().equals(e.getKey())) {
              NodeStore.update(
                  c,
                  "UPDATE images SET stored_size = ?, own_size = ? WHERE name = ?",
                  e.getValue()[0],
                  e.getValue()[1],
                  e.getKey());
            }
          }
          return null;
        });
    Set<Sha256> held = new HashSet<>();
    for (Manifest m : all.values()) {
      held.addAll(PooledImage.digests(m));
    }
    heldDigests = held;
    return now.map(r -> figures.get(r.name())).orElse(new long[2]);
  }

  /**
   * For each image (name to manifest) the bytes of the distinct chunks it references and, of those,
   * the bytes no other of these images references: {stored, own}.
   */
  static Map<String, long[]> figures(Map<String, Manifest> images) {
    Map<String, Map<Sha256, Integer>> chunks = new HashMap<>();
    Map<Sha256, Integer> users = new HashMap<>();
    for (Map.Entry<String, Manifest> i : images.entrySet()) {
      Map<Sha256, Integer> mine = new HashMap<>();
      for (ChunkEntry e : i.getValue().chunks()) {
        if (e.kind().isStored()) {
          mine.put(e.sha256(), e.storedLength());
        }
      }
      chunks.put(i.getKey(), mine);
      for (Sha256 d : mine.keySet()) {
        users.merge(d, 1, Integer::sum);
      }
    }
    Map<String, long[]> figures = new HashMap<>();
    for (Map.Entry<String, Map<Sha256, Integer>> e : chunks.entrySet()) {
      long stored = 0;
      long own = 0;
      for (Map.Entry<Sha256, Integer> d : e.getValue().entrySet()) {
        stored += d.getValue();
        if (users.get(d.getKey()) == 1) {
          own += d.getValue();
        }
      }
      figures.put(e.getKey(), new long[] {stored, own});
    }
    return figures;
  }

  /**
   * The stored and own bytes of the image whose manifest file is {@code ccm}, among the manifest
   * files beside it (a store read offline, as {@code image info} does; unreadable ones are left
   * out).
   */
  public static long[] figures(Path ccm) throws IOException {
    Map<String, Manifest> all = new HashMap<>();
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(ccm.toAbsolutePath().getParent(), "*" + MANIFEST_SUFFIX)) {
      for (Path p : ds) {
        try {
          all.put(p.getFileName().toString(), PooledImage.read(p).manifest());
        } catch (IOException e) {
          LOG.debug("image store: {} unreadable: {}", p, e.toString());
        }
      }
    }
    all.put(ccm.getFileName().toString(), PooledImage.read(ccm).manifest());
    return figures(all).get(ccm.getFileName().toString());
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
        // An image of an earlier build (own_size NULL) shares nothing.
        rs.getObject(8) == null ? rs.getLong(7) : rs.getLong(8),
        rs.getInt(9),
        Optional.ofNullable(rs.getString(10)),
        rs.getLong(11));
  }

  /** Records an event of the image store (no node, no session). */
  private void imageEvent(String text) {
    events.record("image", Optional.empty(), Optional.empty(), text);
  }
}

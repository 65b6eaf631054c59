package org.clonecast.server.capture;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.clonecast.common.api.Disk;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.image.UsedBlocks;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.http.BadRequestException;
import org.clonecast.server.session.NodeWaiters;
import org.clonecast.server.store.CaptureStore;
import org.clonecast.server.store.CaptureStore.Capture;
import org.clonecast.server.store.CaptureStore.State;
import org.clonecast.server.store.ChunkPool;
import org.clonecast.server.store.ConflictException;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.InsufficientStorageException;
import org.clonecast.server.store.JournalRecord;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.NotFoundException;
import org.clonecast.server.store.SessionStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Captures golden nodes over the network ({@code clonecast image capture}, docs/reimaging.md):
 * marks the node, hands its agent a capture assignment when it registers, takes the chunks it
 * uploads (each decoded and checked against its SHA-256 before it is stored), and publishes the
 * image when the agent's manifest matches every chunk received and the SHA-256 of the whole image,
 * kept as the chunks were appended, is the manifest's. The image is {@code capturing} until then
 * and never {@code ready} half-done.
 *
 * <p>An agent may have several chunks in flight (docs/api.md, "capture"): each names the stored
 * chunk it follows, and one that arrives before that chunk is appended waits, checked, in memory
 * (at most {@link #WAITING} per capture) until its predecessor is appended, so the image is always
 * appended in index order. Chunks are checked outside the capture's lock, so the chunks in flight
 * are decoded and hashed on several threads.
 *
 * <p>Every agent call is taken only from the address the node registered from (stored with the
 * capture, so this holds across daemon restarts) and for the node's own capture. A restart keeps
 * every active capture: its upload's journal says which chunks are held, and the agent resumes.
 *
 * <p>Thread-safe: phases live in the database, each capture's upload under its own lock.
 */
public final class CaptureManager implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CaptureManager.class);

  /**
   * Logical bytes per chunk of a captured image (and so the largest chunk body an agent may send).
   */
  public static final int CHUNK_SIZE = Manifest.DEFAULT_CHUNK_SIZE;

  /** Checked chunks a capture may hold in memory waiting for their predecessor. */
  public static final int WAITING = 16;

  private final CaptureStore store;
  private final ImageStore images;
  private final NodeStore nodes;
  private final SessionStore sessions;
  private final EventLog events;
  private final Map<Long, Live> live = new ConcurrentHashMap<>();

  /** Runs the uploads' grouped fsyncs, so that no request waits for the disk. */
  private final ExecutorService syncer =
      Executors.newSingleThreadExecutor(DaemonThreads.named("capture-sync"));

  /**
   * Threads that settle a group's chunks into the pool (fsync, rename): each waits mostly for its
   * fsync, and concurrent fsyncs share the filesystem's journal commits. One thread fell behind the
   * upload on a loaded machine (docs/benchmarks.md, "Capture").
   */
  static final int SETTLING_THREADS = 4;

  /** Settles the uploads' chunks into the pool, for {@link #syncer}. */
  private final ExecutorService settlers =
      Executors.newFixedThreadPool(SETTLING_THREADS, DaemonThreads.named("capture-pool"));

  /** A capture's upload while the daemon runs; guarded by itself, but for {@link #bounds}. */
  private static final class Live {
    CaptureUpload upload;

    /**
     * Checked chunks that arrived before their predecessor, by the index of the chunk they follow.
     */
    final TreeMap<Integer, Checked> waiting = new TreeMap<>();

    /** Read on the event loop without the lock: who may upload how much. */
    volatile Bounds bounds;

    /** Where the upload's time went since this daemon began it, for the log. */
    final UploadTimes times = new UploadTimes();

    /**
     * The digests a reference may name: the stored chunks of the image the capture updates ({@code
     * --from}), read once; null until the first reference.
     */
    Set<Sha256> referable;

    /**
     * Opens or replaces the upload; chunks waiting for the old one's chunks are dropped (the chunks
     * they staged stay in the pool until a sweep).
     */
    void upload(CaptureUpload u) {
      upload = u;
      waiting.clear();
    }
  }

  /**
   * A chunk checked against its hash and put into the pool: its request, its logical bytes (null
   * for an upload of a version 3 image, which needs them no more once checked) and the length of
   * the pool's copy (another encoding of the same content when the pool held it already).
   */
  private record Checked(ChunkUpload up, byte[] logical, int pooledLength) {}

  /**
   * Where a chunk of a version 3 image is decoded to be checked: one chunk's worth per thread that
   * checks, reused (a new array per chunk was a MiB of garbage per MiB uploaded).
   */
  private static final ThreadLocal<byte[]> SCRATCH = new ThreadLocal<>();

  /**
   * What {@link #maxUpload} needs, kept in memory so the event loop never waits for the database.
   */
  private record Bounds(String agentIp, int chunkSize, int chunkCount) {}

  /**
   * What a registering golden node is told.
   *
   * @param action "capture", or "fail" with the reason
   * @param disk the disk it reads
   */
  public record Assignment(
      String action, Optional<String> reason, Capture capture, String disk, Set<Sha256> pooled) {
    public Assignment(String action, Optional<String> reason, Capture capture, String disk) {
      this(action, reason, capture, disk, Set.of());
    }
  }

  /**
   * Where an upload stands.
   *
   * @param heldThrough the highest chunk index held, -1 when none: every stored chunk up to it is
   *     held
   * @param heldChunks how many chunks are held
   * @param storedBytes their stored bytes
   */
  public record Held(int heldThrough, int heldChunks, long storedBytes) {}

  /**
   * A capture as the API shows it.
   *
   * @param held what its upload holds (all zero before the agent began)
   * @param done logical bytes of the disk the agent has handled (read, and uploaded or skipped)
   * @param total the disk's logical bytes (0 before the agent began)
   */
  public record Status(Capture capture, Held held, long done, long total) {}

  /**
   * One uploaded chunk as its request carries it.
   *
   * @param after the index of the stored chunk it follows (-1: none, it is the first), when the
   *     agent says so; without it the chunk must follow the last one held
   * @param kindCode its {@link ChunkKind} manifest code
   * @param usedMap its used-block bitmap, empty when every block is used
   * @param stored its stored bytes; empty for a reference
   * @param reference whether the agent sent no bytes, only the chunk's digest, for a chunk the
   *     daemon's pool holds: the daemon takes the pool's bytes (in the pool's kind) and checks them
   *     as any upload, or answers that it does not hold it ({@link Stored#sendBytes})
   */
  public record ChunkUpload(
      int index,
      OptionalInt after,
      int kindCode,
      Sha256 sha256,
      byte[] usedMap,
      byte[] stored,
      boolean reference) {
    public ChunkUpload {
      Objects.requireNonNull(after, "after");
    }

    /** An upload of the chunk's bytes. */
    public ChunkUpload(
        int index, OptionalInt after, int kindCode, Sha256 sha256, byte[] usedMap, byte[] stored) {
      this(index, after, kindCode, sha256, usedMap, stored, false);
    }
  }

  /**
   * The answer to an uploaded chunk.
   *
   * @param duplicate whether it was held, or waiting, already
   * @param heldThrough the highest chunk index held now: every stored chunk up to it is appended
   * @param sendBytes a reference to a chunk the pool does not hold: nothing was stored, the agent
   *     must send the chunk's bytes
   */
  public record Stored(boolean duplicate, int heldThrough, boolean sendBytes) {
    public Stored(boolean duplicate, int heldThrough) {
      this(duplicate, heldThrough, false);
    }
  }

  public CaptureManager(
      CaptureStore store,
      ImageStore images,
      NodeStore nodes,
      SessionStore sessions,
      EventLog events) {
    this.store = Objects.requireNonNull(store);
    this.images = Objects.requireNonNull(images);
    this.nodes = Objects.requireNonNull(nodes);
    this.sessions = Objects.requireNonNull(sessions);
    this.events = Objects.requireNonNull(events);
  }

  /** Nodes whose registrations are held until something is asked of them ({@link #waking}). */
  private volatile NodeWaiters waiters = new NodeWaiters(Duration.ZERO, 0);

  /**
   * Answers a golden node's held registration ({@link NodeWaiters}) the moment its capture is
   * started.
   *
   * @return this
   */
  public CaptureManager waking(NodeWaiters nodeWaiters) {
    this.waiters = Objects.requireNonNull(nodeWaiters);
    return this;
  }

  /**
   * After a restart: active captures go on; an interrupted verification is redone when the agent
   * finishes again.
   */
  public void recover() throws IOException {
    Set<Long> own = store.ownActive();
    for (Capture c : store.active()) {
      if (!own.contains(c.id())) {
        continue; // another daemon sharing the store runs it (docs/scale.md)
      }
      if (c.state() == State.VERIFYING) {
        store.setState(
            c.id(),
            State.CAPTURING,
            "the daemon restarted while verifying; waiting for the agent to finish again");
      }
      if (CaptureUpload.deleteLegacy(images.fileFor(c.image()))) {
        LOG.info(
            "capture {}: the upload of an earlier build was removed; the agent sends it again",
            c.image());
      }
      Path journal = images.captureJournalFor(c.image());
      if (c.logicalSize() > 0 && Files.exists(journal)) {
        Live l = live.computeIfAbsent(c.id(), k -> new Live());
        synchronized (l) {
          // As this build's agents begin (version 3); an older agent's begin opens it again,
          // keeping the image hash.
          l.upload(open(journal, c.imageId(), c.logicalSize(), c.chunkSize(), true));
          c.agentIp()
              .ifPresent(
                  ip -> l.bounds = new Bounds(ip, c.chunkSize(), l.upload.header().chunkCount()));
          showProgress(c, l.upload);
          events.record(
              "image",
              Optional.of(c.mac().toString()),
              Optional.empty(),
              "capture "
                  + c.image()
                  + " resumes after a"
                  + " daemon restart: "
                  + l.upload.records().size()
                  + " chunk(s) held");
        }
      }
    }
  }

  /**
   * Marks {@code nodeRef} (a MAC or an enrolled node's name) to be captured into image {@code name}
   * at its next PXE boot.
   *
   * @param disk the disk to read; empty: the node's target disk, else the agent's first
   *     non-removable disk
   * @throws NotFoundException for an unknown node
   * @throws ConflictException when the name is taken or the node busy in a session or capture
   * @param from the image this capture updates (the golden node's previous capture): it must be
   *     ready; the new image shares every chunk they have in common (the store shares identical
   *     chunks between all images anyway), and its summary says how much
   * @throws IllegalArgumentException for a bad name, disk or level, or a {@code from} image that is
   *     not ready
   */
  public Capture start(
      String name,
      String nodeRef,
      Optional<String> disk,
      boolean force,
      int level,
      Optional<String> from) {
    ImageStore.validName(name);
    if (from.isPresent()) {
      Image base =
          images
              .find(from.get())
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "--from "
                              + from.get()
                              + ": no such image; name a ready image ('clonecast image list')"));
      if (!base.ready()) {
        throw new IllegalArgumentException(
            "--from " + from.get() + " is " + base.state() + "; name a ready image");
      }
      if (from.get().equals(name)) {
        throw new IllegalArgumentException(
            "--from names the image being captured; capture into a new name, then remove the old");
      }
    }
    disk.ifPresent(NodeStore::validDisk);
    if (level < ChunkCodec.minLevel() || level > ChunkCodec.maxLevel()) {
      throw new IllegalArgumentException(
          "zstd level "
              + level
              + " is out of range; use "
              + ChunkCodec.minLevel()
              + " to "
              + ChunkCodec.maxLevel());
    }
    Node node = findNode(nodeRef);
    String who = node.name().orElse(node.mac().toString());
    sessions
        .activeFor(node.mac().toString())
        .ifPresent(
            s -> {
              throw new ConflictException(
                  who
                      + " is in session "
                      + s.id()
                      + "; wait for it or cancel it ('clonecast session cancel "
                      + s.id()
                      + "')");
            });
    Capture c =
        store.create(
            new CaptureStore.Request(
                name,
                images.fileFor(name),
                node.mac(),
                disk.or(node::targetDisk),
                CHUNK_SIZE,
                level,
                force,
                from));
    images.clearProgress(name);
    events.record(
        "image",
        Optional.of(node.mac().toString()),
        Optional.empty(),
        "capture "
            + name
            + " from "
            + who
            + c.disk().map(d -> " (" + d + ")").orElse("")
            + ": waiting for it to PXE boot");
    waiters.wake(List.of(node.mac()));
    return c;
  }

  private Node findNode(String ref) {
    Optional<Node> n;
    try {
      n = nodes.find(MacAddress.parse(ref.replace('-', ':')));
    } catch (IllegalArgumentException e) {
      n = nodes.findByName(ref);
    }
    return n.filter(Node::enrolled)
        .orElseThrow(
            () ->
                new NotFoundException(
                    "no enrolled node "
                        + ref
                        + "; enroll it with 'clonecast node add MAC --name NAME' ('clonecast node list' shows the nodes)"));
  }

  /**
   * Cancels the active capture of image {@code name}: the image fails, the node boots its disk.
   *
   * @throws NotFoundException when no capture of that image is active
   */
  public Capture cancel(String name) throws IOException {
    Capture c =
        store
            .newestFor(name)
            .filter(x -> x.state().active())
            .orElseThrow(
                () ->
                    new NotFoundException(
                        "no capture of image "
                            + name
                            + " is running ('clonecast image list' shows them)"));
    end(c, State.CANCELLED, "cancelled by the operator");
    return store.find(c.id()).orElseThrow();
  }

  /**
   * A registering node's capture assignment, if it is marked for one; empty otherwise (then a
   * session may want it).
   */
  public Optional<Assignment> assignment(MacAddress mac, String from, List<Disk> disks)
      throws IOException {
    Optional<Capture> found = store.activeFor(mac);
    if (found.isEmpty()) {
      return Optional.empty();
    }
    Capture c = found.get();
    Optional<String> disk = c.disk();
    if (disk.isEmpty()) {
      disk = disks.stream().filter(d -> !d.removable() && d.size() > 0).map(Disk::path).findFirst();
    }
    if (disk.isEmpty()) {
      String why =
          "no non-removable disk to capture (disks: "
              + Disk.describe(disks)
              + "); name one with 'clonecast image capture "
              + c.image()
              + " --node ... --disk PATH'";
      end(c, State.FAILED, why);
      return Optional.of(new Assignment("fail", Optional.of(why), c, ""));
    }
    Capture now =
        store.registered(c.id(), from, "registered from " + from + "; reading " + disk.get());
    events.record(
        "agent",
        Optional.of(mac.toString()),
        Optional.empty(),
        "registered for capture " + c.image() + " from " + from + "; reads " + disk.get());
    // The image it updates: the agent sends references for the chunks of it that it reads again,
    // which the daemon takes from its pool (checked) instead of the bytes over the network.
    Set<Sha256> pooled = c.from().isPresent() ? images.storedDigests(c.from().get()) : Set.of();
    return Optional.of(new Assignment("capture", Optional.empty(), now, disk.get(), pooled));
  }

  /**
   * The agent starts or resumes its upload of a disk of {@code logicalSize} bytes; the answer says
   * which chunks the daemon already holds, so it sends only the others. A different size than
   * before (another disk) starts the upload again.
   *
   * @param hashOfChunks whether the agent's manifest will be of version 3 (its image hash that of
   *     the chunk digests), so that no hash of the logical bytes is kept; false for agents that
   *     predate version 3
   */
  public Held begin(
      long id, MacAddress mac, String from, long logicalSize, int chunkSize, boolean hashOfChunks)
      throws IOException {
    Capture c = checked(id, mac, from, false);
    if (chunkSize != c.chunkSize()) {
      throw new BadRequestException(
          "chunk size " + chunkSize + ", this capture uses " + c.chunkSize());
    }
    if (logicalSize <= 0) {
      throw new BadRequestException(
          "logical size " + logicalSize + ": an empty disk cannot be captured");
    }
    try {
      Manifest.chunkCount(logicalSize, chunkSize);
    } catch (IllegalArgumentException e) {
      throw new BadRequestException(e.getMessage());
    }
    Live l = live.computeIfAbsent(id, k -> new Live());
    synchronized (l) {
      if (l.upload != null
          && (l.upload.header().logicalSize() != logicalSize
              || l.upload.hashesChunkDigests() != hashOfChunks)) {
        l.upload.abandon();
        l.upload(null);
      }
      if (l.upload == null) {
        if (c.logicalSize() != 0 && c.logicalSize() != logicalSize) {
          events.record(
              "image",
              Optional.of(mac.toString()),
              Optional.empty(),
              "capture "
                  + c.image()
                  + ": the disk is now "
                  + logicalSize
                  + " bytes, was "
                  + c.logicalSize()
                  + "; starting the upload again");
        }
        store.setLogicalSize(id, logicalSize);
        l.upload(
            open(
                images.captureJournalFor(c.image()),
                c.imageId(),
                logicalSize,
                chunkSize,
                hashOfChunks));
      }
      l.bounds = new Bounds(from, chunkSize, l.upload.header().chunkCount());
      if (c.state() == State.VERIFYING) {
        store.setState(id, State.CAPTURING, "resumed");
      }
      showProgress(c, l.upload);
      return held(l.upload);
    }
  }

  /** Opens (or resumes) the upload journalled in {@code journal}, under a new hold on the pool. */
  private CaptureUpload open(
      Path journal, UUID imageId, long logicalSize, int chunkSize, boolean hashOfChunks)
      throws IOException {
    ChunkPool.Hold hold = images.holdChunks();
    try {
      return CaptureUpload.open(
          journal,
          images.pool(),
          hold,
          imageId,
          logicalSize,
          chunkSize,
          hashOfChunks,
          syncer,
          settlers,
          System::nanoTime);
    } catch (IOException | RuntimeException e) {
      hold.close();
      throw e;
    }
  }

  /**
   * The largest body an agent call on capture {@code id} from {@code from} may carry once the
   * capture has begun from that address: a chunk (at most the chunk size: ZSTD is kept only when it
   * shrinks, RAW is the chunk) or the encoded manifest (its largest size for the disk); 0
   * otherwise. Memory only: it runs on the event loop, before the body is read.
   */
  public long maxUpload(long id, String from, boolean manifest) {
    Live l = live.get(id);
    Bounds b = l == null ? null : l.bounds;
    if (b == null || !b.agentIp().equals(from)) {
      return 0;
    }
    return manifest
        ? Manifest.FIXED_LENGTH
            + Manifest.CRC_LENGTH
            + (long) b.chunkCount() * Manifest.STORED_ENTRY_LENGTH
        : b.chunkSize();
  }

  /**
   * Stores one uploaded chunk after checking it: index in range and after the last held one, stored
   * length within the chunk, a known kind, a valid used map, and stored bytes that decode to
   * logical bytes with the given SHA-256. A chunk that follows the last one held is appended, with
   * the waiting chunks that follow it; one whose predecessor has not arrived yet waits (checked, in
   * memory). A chunk already held or waiting with the same description is accepted again without
   * being stored twice.
   *
   * @throws BadRequestException for a chunk that does not check (nothing is stored)
   * @throws ConflictException when the capture is not uploading, the chunk comes out of order (it
   *     follows a chunk before the last one held, or a chunk another waiting chunk follows), or
   *     {@link #WAITING} chunks wait already
   * @throws InsufficientStorageException when the daemon's disk is full
   */
  public Stored chunk(long id, MacAddress mac, String from, ChunkUpload up) throws IOException {
    Capture c = checked(id, mac, from, false);
    Live l = begun(id);
    long start = System.nanoTime();
    long[] spent = new long[2]; // checking, appending
    l.times.started(start);
    int received = up.stored().length;
    boolean referenced = false;
    try {
      if (up.reference()) {
        Optional<ChunkUpload> fromPool = fromPool(c, l, id, up);
        if (fromPool.isEmpty()) {
          synchronized (l) {
            return new Stored(false, uploadOf(l, id).lastIndex(), true);
          }
        }
        up = fromPool.get();
        referenced = true;
      }
      Stored s = chunk(id, c, l, up, spent);
      l.times.counted(received, referenced && !s.duplicate() ? up.stored().length : 0);
      return s;
    } finally {
      l.times.ended(start, spent[0], spent[1], System.nanoTime());
    }
  }

  /**
   * A reference resolved: the chunk as the pool holds it (its kind and stored bytes), to be checked
   * and appended as any upload; empty when the pool does not hold it or it is no chunk of the image
   * the capture updates. The agent's word is never taken for bytes: what is appended is what the
   * pool holds, checked against the digest like an uploaded chunk, and the upload's hold (and
   * journal) keeps it in the pool, so the capture holds every chunk it names whatever else the pool
   * does meanwhile.
   */
  private Optional<ChunkUpload> fromPool(Capture c, Live l, long id, ChunkUpload up)
      throws IOException {
    if (up.stored().length != 0) {
      throw new BadRequestException(
          "chunk " + up.index() + ": a reference carries no bytes, got " + up.stored().length);
    }
    int logical;
    synchronized (l) {
      // Only the chunks of the image it updates, the ones its assignment named: the pool is not
      // for a node to probe for other images' chunks.
      if (l.referable == null) {
        l.referable =
            c.from().isPresent() ? images.storedDigests(c.from().get()) : Set.<Sha256>of();
      }
      if (!l.referable.contains(up.sha256())) {
        return Optional.empty();
      }
      CaptureUpload u = uploadOf(l, id);
      if (up.index() < 0 || up.index() >= u.header().chunkCount()) {
        throw new BadRequestException(
            "chunk index "
                + up.index()
                + " is outside the image's "
                + u.header().chunkCount()
                + " chunks");
      }
      logical =
          (int)
              Math.min(
                  u.header().chunkSize(),
                  u.header().logicalSize() - (long) up.index() * u.header().chunkSize());
    }
    return images
        .pooledChunk(up.sha256(), logical)
        .map(
            p ->
                new ChunkUpload(
                    up.index(),
                    up.after(),
                    p.kind().code(),
                    up.sha256(),
                    up.usedMap(),
                    p.stored(),
                    true));
  }

  private Stored chunk(long id, Capture c, Live l, ChunkUpload up, long[] spent)
      throws IOException {
    CaptureUpload u;
    ChunkEntry entry;
    int logical;
    synchronized (l) {
      u = uploadOf(l, id);
      int count = u.header().chunkCount();
      if (up.index() < 0 || up.index() >= count) {
        throw new BadRequestException(
            "chunk index " + up.index() + " is outside the image's " + count + " chunks");
      }
      if (up.after().isPresent()
          && (up.after().getAsInt() < -1 || up.after().getAsInt() >= up.index())) {
        throw new BadRequestException(
            "chunk " + up.index() + " cannot follow chunk " + up.after().getAsInt());
      }
      long logicalSize = u.header().logicalSize();
      logical = (int) Math.min(c.chunkSize(), logicalSize - (long) up.index() * c.chunkSize());
      if (up.stored().length == 0 || up.stored().length > logical) {
        throw new BadRequestException(
            "chunk "
                + up.index()
                + ": "
                + up.stored().length
                + " stored bytes, want 1 to "
                + logical);
      }
      ChunkKind kind;
      try {
        kind = ChunkKind.fromCode(up.kindCode());
      } catch (MalformedImageException e) {
        throw new BadRequestException("chunk " + up.index() + ": " + e.getMessage());
      }
      Optional<Stored> again = again(l, u, up);
      if (again.isPresent()) {
        return again.get();
      }
      if (!kind.isStored()) {
        throw new BadRequestException(
            "chunk " + up.index() + ": a " + kind + " chunk stores nothing and is not uploaded");
      }
      try {
        UsedBlocks used =
            up.usedMap().length > 0
                ? UsedBlocks.of(up.usedMap(), UsedBlocks.blockCount(logical))
                : UsedBlocks.all();
        entry = new ChunkEntry(up.index(), kind, u.end(), up.stored().length, up.sha256(), used);
      } catch (IllegalArgumentException e) {
        throw new BadRequestException("chunk " + up.index() + ": " + e.getMessage());
      }
      place(l, u, up);
    }
    // Outside the lock: the chunks in flight are checked on as many threads. An upload of a
    // version 3 image needs the logical bytes only for this check: a per-thread scratch array,
    // and a RAW chunk is hashed where it is.
    boolean keep = !u.hashesChunkDigests();
    byte[] bytes = keep ? new byte[logical] : scratch(logical);
    long checking = System.nanoTime();
    try {
      ChunkCodec.decodeInPlace(entry, up.stored(), bytes, logical);
    } catch (ChunkVerificationException e) {
      throw new BadRequestException("chunk " + up.index() + " refused: " + e.getMessage());
    } finally {
      spent[0] = System.nanoTime() - checking;
    }
    if (keep && entry.kind() == ChunkKind.RAW) {
      bytes = up.stored();
    } else if (!keep) {
      bytes = null;
    }
    // Also outside the lock: the chunk is written once, into the pool under the upload's hold (to
    // the page cache; its group's fsync and rename run on the syncer); only its record is
    // journalled in order below.
    int pooled;
    long staging = System.nanoTime();
    try {
      pooled = u.stage(up.sha256(), logical, ByteBuffer.wrap(up.stored()));
    } catch (IOException e) {
      throw InsufficientStorageException.ifFull(e, images.pool().dir());
    } finally {
      spent[0] += System.nanoTime() - staging;
    }
    synchronized (l) {
      if (l.upload != u) {
        throw new ConflictException(
            "capture "
                + id
                + " started its upload again while chunk "
                + up.index()
                + " was checked");
      }
      Optional<Stored> again = again(l, u, up);
      if (again.isPresent()) {
        return again.get();
      }
      int after = place(l, u, up);
      Checked checked = new Checked(up, bytes, pooled);
      if (after > u.lastIndex()) {
        l.waiting.put(after, checked);
        l.times.waited();
        return new Stored(false, u.lastIndex());
      }
      long appending = System.nanoTime();
      append(u, checked, logical);
      for (Checked next = l.waiting.remove(u.lastIndex());
          next != null;
          next = l.waiting.remove(u.lastIndex())) {
        append(u, next, logicalLength(u, next.up().index()));
      }
      spent[1] = System.nanoTime() - appending;
      // Chunks that follow one before the last held can never be appended (an agent that
      // contradicted itself); they go, and are refused when they come again.
      l.waiting.headMap(u.lastIndex()).clear();
      return new Stored(false, u.lastIndex());
    }
  }

  /**
   * The answer to a chunk held or waiting already with the same description; empty for a new one.
   */
  private static Optional<Stored> again(Live l, CaptureUpload u, ChunkUpload up) {
    Optional<JournalRecord> held = u.record(up.index());
    if (held.isPresent()) {
      JournalRecord h = held.get();
      // The same chunk when its content is: the record holds the pool's encoding, which may be
      // another than the one sent (the pool held the chunk already), and a chunk may be sent as
      // bytes and again as a reference.
      if (!h.sha256().equals(up.sha256()) || !Arrays.equals(h.usedMap(), up.usedMap())) {
        throw new ConflictException(
            "chunk " + up.index() + " is already held with another hash or used-block map");
      }
      return Optional.of(new Stored(true, u.lastIndex()));
    }
    for (Checked w : l.waiting.values()) {
      if (w.up().index() == up.index()) {
        ChunkUpload h = w.up();
        boolean sameEncoding =
            up.reference()
                || h.reference()
                || (h.kindCode() == up.kindCode() && h.stored().length == up.stored().length);
        if (!sameEncoding
            || !h.sha256().equals(up.sha256())
            || !Arrays.equals(h.usedMap(), up.usedMap())
            || !h.after().equals(up.after())) {
          throw new ConflictException(
              "chunk "
                  + up.index()
                  + " is already waiting with another kind, length, hash or"
                  + " predecessor");
        }
        return Optional.of(new Stored(true, u.lastIndex()));
      }
    }
    return Optional.empty();
  }

  /**
   * Where a new chunk goes: returns the index of the chunk it follows, the last one held to append
   * it now, a later one to make it wait.
   *
   * @throws ConflictException when it cannot be placed (class comment)
   */
  private static int place(Live l, CaptureUpload u, ChunkUpload up) {
    int last = u.lastIndex();
    if (up.index() <= last) {
      throw new ConflictException(
          "chunk "
              + up.index()
              + " comes after chunk "
              + last
              + "; chunks are uploaded in index order");
    }
    int after = up.after().orElse(last);
    if (after < last) {
      throw new ConflictException(
          "chunk "
              + up.index()
              + " follows chunk "
              + after
              + ", but the daemon holds chunk "
              + last
              + " after that; begin again to see what it holds");
    }
    if (after > last) {
      Checked other = l.waiting.get(after);
      if (other != null) {
        throw new ConflictException(
            "chunk "
                + up.index()
                + " follows chunk "
                + after
                + ", and so does chunk "
                + other.up().index()
                + ", which waits for it");
      }
      if (l.waiting.size() >= WAITING) {
        throw new ConflictException(
            "chunk "
                + up.index()
                + " follows chunk "
                + after
                + ", which has not arrived, and "
                + WAITING
                + " chunks wait already; send fewer chunks at once");
      }
    }
    return after;
  }

  private static byte[] scratch(int length) {
    byte[] b = SCRATCH.get();
    if (b == null || b.length < length) {
      b = new byte[length];
      SCRATCH.set(b);
    }
    return b;
  }

  /**
   * Journals a checked chunk, in the pool already, after the last one held: in the encoding the
   * pool holds ({@code logical} bytes long means RAW).
   */
  private static void append(CaptureUpload u, Checked ch, int logical) throws IOException {
    ChunkUpload up = ch.up();
    ChunkKind kind = ch.pooledLength() == logical ? ChunkKind.RAW : ChunkKind.ZSTD;
    try {
      u.append(
          new JournalRecord(
              up.index(), kind.code(), u.end(), ch.pooledLength(), up.sha256(), up.usedMap()),
          ch.logical());
    } catch (IOException e) {
      throw InsufficientStorageException.ifFull(e, u.path());
    }
  }

  /** The logical length of chunk {@code index} of {@code u}'s image. */
  private static int logicalLength(CaptureUpload u, int index) {
    return (int)
        Math.min(
            u.header().chunkSize(),
            u.header().logicalSize() - (long) index * u.header().chunkSize());
  }

  /** The live state of capture {@code id}, which must have begun. */
  private Live begun(long id) {
    Live l = live.get(id);
    if (l == null) {
      throw new ConflictException("capture " + id + " has not begun; call begin first");
    }
    return l;
  }

  /** The open upload of {@code l}; the caller holds {@code l}'s lock. */
  private static CaptureUpload uploadOf(Live l, long id) {
    if (l.upload == null) {
      throw new ConflictException("capture " + id + " has not begun; call begin first");
    }
    return l.upload;
  }

  /**
   * The agent's progress: logical bytes read and handled of the disk's total. Kept in memory only.
   */
  public void progress(long id, MacAddress mac, String from, long done, long total) {
    Capture c = checked(id, mac, from, false);
    if (done < 0 || total < 0 || done > total) {
      throw new BadRequestException("progress " + done + " of " + total + " is not a fraction");
    }
    images.setProgress(c.image(), done, total);
  }

  /**
   * The agent's manifest: checked against every chunk held (kind, offset, length, hash; a chunk
   * that stores nothing must not be held), appended to the image, the whole image verified (every
   * chunk and the image hash), then published {@code ready}; the node boots its disk again. Also
   * answers a repeated finish of a capture already done.
   *
   * @throws BadRequestException when the manifest does not describe what was received (the capture
   *     goes on: the agent may upload what is missing) or the image does not verify (the capture
   *     fails)
   */
  public Manifest finish(long id, MacAddress mac, String from, byte[] encoded) throws IOException {
    Capture c = checked(id, mac, from, true);
    Manifest m;
    ByteBuf in = Unpooled.wrappedBuffer(encoded);
    try {
      m = Manifest.decode(in);
    } catch (MalformedImageException e) {
      throw new BadRequestException(e.getMessage());
    }
    if (in.isReadable()) {
      throw new BadRequestException("manifest followed by " + in.readableBytes() + " stray bytes");
    }
    if (c.state() == State.DONE) {
      // The stored manifest may hold some chunks in another encoding (the pool's), never
      // other content: the same image and hash is the same finish.
      try (ChunkSource r = images.open(c.image())) {
        if (r.manifest().imageId().equals(m.imageId())
            && r.manifest().imageHash().equals(m.imageHash())) {
          return m;
        }
      }
      throw new ConflictException("capture " + id + " is done with another manifest");
    }
    Live l = begun(id);
    synchronized (l) {
      CaptureUpload u = uploadOf(l, id);
      if (!m.imageId().equals(c.imageId())
          || m.logicalSize() != u.header().logicalSize()
          || m.chunkSize() != c.chunkSize()) {
        throw new BadRequestException(
            "manifest of image "
                + m.imageId()
                + ", "
                + m.logicalSize()
                + " bytes in chunks of "
                + m.chunkSize()
                + "; this capture is image "
                + c.imageId()
                + ", "
                + u.header().logicalSize()
                + " bytes in chunks of "
                + c.chunkSize());
      }
      // The image as the daemon holds it: the agent's entries with the kind, offset and length of
      // what the daemon appended. They differ only for chunks the agent sent by reference, which
      // the daemon took from its pool in the pool's encoding; the content (digest, used blocks)
      // must be the agent's for every chunk.
      List<ChunkEntry> held = new ArrayList<>(m.chunkCount());
      for (ChunkEntry e : m.chunks()) {
        Optional<JournalRecord> h = u.record(e.index());
        if (e.storedLength() == 0) {
          held.add(e);
          if (h.isPresent()) {
            throw new BadRequestException(
                "manifest: chunk " + e.index() + " stores nothing, but it was uploaded");
          }
          continue;
        }
        if (h.isEmpty()) {
          throw new BadRequestException("manifest: chunk " + e.index() + " was never uploaded");
        }
        JournalRecord r = h.get();
        if (!r.sha256().equals(e.sha256()) || !Arrays.equals(r.usedMap(), e.used().bitmap())) {
          throw new BadRequestException(
              "manifest: chunk " + e.index() + " is " + e + ", the daemon holds " + r);
        }
        held.add(
            new ChunkEntry(
                e.index(),
                ChunkKind.fromCode(r.kindCode()),
                r.offset(),
                r.length(),
                e.sha256(),
                e.used()));
      }
      if (!held.equals(m.chunks())) {
        m =
            new Manifest(
                m.imageId(), m.logicalSize(), m.chunkSize(), held, m.imageHash(), m.hashOfChunks());
      }
      // Every stored chunk was checked against its hash on arrival (or by the journal's replay
      // after a restart) and matches its manifest entry; the chunks that store nothing must be
      // zeros, and the hash of the whole image, kept as chunks were appended, the manifest's.
      // No second pass over the image (it cost as long as the upload's last third).
      Map<Integer, Sha256> zeroHashes =
          new HashMap<>(); // at most two lengths: a chunk's and the last one's
      for (ChunkEntry e : m.chunks()) {
        if (!e.kind().isStored()) {
          int len = m.logicalLength(e.index());
          Sha256 zeros = zeroHashes.computeIfAbsent(len, n -> Sha256.digest(new byte[n], 0, n));
          if (!zeros.equals(e.sha256())) {
            throw new BadRequestException(
                "manifest: chunk "
                    + e.index()
                    + " is "
                    + e.kind()
                    + " but its sha256 "
                    + e.sha256().hex()
                    + " is not that of "
                    + len
                    + " zero bytes");
          }
        }
      }
      // Version 3: the manifest's image hash is that of its chunk digests (checked when it was
      // decoded), which are those of the chunks held or of zeros: nothing more to compare.
      if (!m.hashOfChunks() && u.hashesChunkDigests()) {
        throw new BadRequestException(
            "manifest of version "
                + m.formatVersion()
                + " (the image hash of all logical bytes), but the"
                + " upload began for version "
                + Manifest.VERSION
                + "; begin again");
      }
      Sha256 got = m.hashOfChunks() ? m.imageHash() : u.imageHash();
      if (!got.equals(m.imageHash())) {
        String why =
            "the manifest's image sha256 is "
                + m.imageHash().hex()
                + ", the chunks received give "
                + got.hex();
        end(c, State.FAILED, why);
        throw new BadRequestException(why);
      }
      // Every chunk is in the pool (put there as it arrived): the publish writes the manifest
      // file only, after checking that the pool holds each chunk as the manifest says.
      ChunkPool.Hold hold;
      try {
        hold = u.handOver();
      } catch (IOException e) {
        u.abandon();
        l.upload(null);
        throw InsufficientStorageException.ifFull(e, u.path());
      }
      l.upload(null);
      live.remove(id);
      Manifest stored;
      try {
        stored = images.publishCaptured(c.image(), c.from(), m, hold);
      } catch (IOException e) {
        // The chunks were checked, but the store could not take the image (a full disk, a chunk
        // gone from the pool): the capture fails with the reason, the node boots its disk; capture
        // again once there is room.
        end(c, State.FAILED, "storing the image failed: " + e.getMessage());
        throw InsufficientStorageException.ifFull(e, images.manifestFor(c.image()));
      } catch (RuntimeException e) {
        end(c, State.FAILED, "storing the image failed: " + e.getMessage());
        throw e;
      }
      u.published();
      String detail =
          m.chunkCount()
              + " chunks, "
              + stored.storedBytes()
              + " bytes stored, sha256 "
              + m.imageHash().hex();
      store.end(id, State.DONE, detail);
      events.record(
          "image",
          Optional.of(mac.toString()),
          Optional.empty(),
          "capture " + c.image() + " done: " + detail + "; upload: " + l.times.summary());
      return m;
    }
  }

  /** The agent gave up: the capture fails with its reason. */
  public void failed(long id, MacAddress mac, String from, String why) throws IOException {
    Capture c = checked(id, mac, from, false);
    end(c, State.FAILED, why);
  }

  private void end(Capture c, State state, String why) throws IOException {
    if (!store.end(c.id(), state, why)) {
      return;
    }
    Live l = live.remove(c.id());
    if (l != null) {
      synchronized (l) {
        if (l.upload != null) {
          l.upload.abandon();
          l.upload(null);
        }
      }
    }
    Files.deleteIfExists(images.captureJournalFor(c.image()));
    CaptureUpload.deleteLegacy(images.fileFor(c.image()));
    images.clearProgress(c.image());
    // The chunks it put into the pool go, but for those an image references.
    images.collect();
    events.record(
        "image",
        Optional.of(c.mac().toString()),
        Optional.empty(),
        "capture " + c.image() + " " + state.id() + ": " + why);
  }

  /**
   * The capture, if it is {@code mac}'s, heard from where it registered, and still active (or, when
   * {@code doneToo}, done).
   */
  private Capture checked(long id, MacAddress mac, String from, boolean doneToo) {
    Capture c = store.find(id).orElseThrow(() -> new NotFoundException("no capture " + id));
    if (!c.mac().equals(mac)) {
      throw new BadRequestException("capture " + id + " is not " + mac + "'s");
    }
    if (c.agentIp().isEmpty() || !c.agentIp().get().equals(from)) {
      throw new BadRequestException(
          mac + " did not register from " + from + "; an agent reports from where it registered");
    }
    if (!c.state().active() && !(doneToo && c.state() == State.DONE)) {
      throw new ConflictException(
          "capture "
              + id
              + " is "
              + c.state().id()
              + c.detail().map(d -> " (" + d + ")").orElse(""));
    }
    return c;
  }

  private static Held held(CaptureUpload u) {
    return new Held(u.lastIndex(), u.records().size(), u.storedBytes());
  }

  private void showProgress(Capture c, CaptureUpload u) {
    long size = u.header().logicalSize();
    images.setProgress(c.image(), Math.min(size, (long) (u.lastIndex() + 1) * c.chunkSize()), size);
  }

  /** The newest captures with what their uploads hold, newest first. */
  public List<Status> list(int limit) {
    List<Status> out = new ArrayList<>();
    for (Capture c : store.list(limit)) {
      out.add(status(c));
    }
    return out;
  }

  /** The newest capture of image {@code name}, if any. */
  public Optional<Status> status(String name) {
    return store.newestFor(name).map(this::status);
  }

  private Status status(Capture c) {
    long[] p =
        images
            .progress(c.image())
            .orElse(new long[] {c.state() == State.DONE ? c.logicalSize() : 0, c.logicalSize()});
    Live l = live.get(c.id());
    if (l == null) {
      return new Status(c, new Held(-1, 0, 0), p[0], p[1]);
    }
    synchronized (l) {
      return new Status(c, l.upload == null ? new Held(-1, 0, 0) : held(l.upload), p[0], p[1]);
    }
  }

  @Override
  public void close() {
    for (Live l : live.values()) {
      synchronized (l) {
        if (l.upload != null) {
          try {
            l.upload.close();
          } catch (IOException e) {
            LOG.debug("capture: closing an upload failed", e);
          }
          l.upload(null);
        }
      }
    }
    live.clear();
    syncer.shutdown();
    settlers.shutdown();
  }
}

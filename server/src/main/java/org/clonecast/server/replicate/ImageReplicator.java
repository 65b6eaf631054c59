package org.clonecast.server.replicate;

import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.server.http.PeerRoutes;
import org.clonecast.server.store.ChunkPool;
import org.clonecast.server.store.ConflictException;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageCopies;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NotFoundException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes an image's bytes local to this daemon (docs/scale.md, "Replication"). The images' rows are
 * shared by every daemon on the store; their manifests and chunks live in each daemon's own pool.
 * {@link #replicate} fetches, from a running daemon with a ready copy, the image's manifest and
 * then only the chunks this daemon's pool lacks, by their SHA-256, over that daemon's peer routes
 * ({@link PeerRoutes}), authenticated with this daemon's peer secret.
 *
 * <p>What it takes from a peer is checked like anything from the network: the manifest decodes
 * (bounded by the image's chunk count) and has the image id, size, chunk count, image hash and
 * content hash ({@link ImageStore#contentHash}) the images row holds; every chunk's stored bytes
 * are at most a chunk long and decode to logical bytes with the manifest's digest before they enter
 * the pool. A chunk that fails that is refused and fetched from another holder; a holder that does
 * not answer within {@link Settings#requestTimeout} is tried {@link Settings#attempts} times, then
 * the next. The manifest this daemon stores is signed with its own image key, for its own agents.
 *
 * <p>A fetch that breaks off leaves the chunks it fetched in the pool, kept from the sweep by the
 * fetch's manifest ({@link ImageStore#beginReplica}): the next one fetches only the rest. Progress
 * is this daemon's row in {@code image_copies} (copying, done of total stored bytes), and events at
 * the start and end.
 *
 * <p>Thread-safe: concurrent calls for one image share one fetch.
 */
public final class ImageReplicator {
  private static final Logger LOG = LoggerFactory.getLogger(ImageReplicator.class);

  /** Room for a manifest's signature block after the manifest (a few signatures). */
  private static final int SIGNATURE_ROOM = 64 * 1024;

  /** Chunk requests in flight at once for one image: fetching, checking and fsync overlap. */
  static final int PARALLEL = 4;

  /** How often the copy's progress row is written while chunks arrive. */
  private static final Duration PROGRESS_EVERY = Duration.ofSeconds(1);

  /**
   * Bounds of the fetches.
   *
   * @param connectTimeout to open a connection to a peer
   * @param requestTimeout for one request's whole answer (a manifest, one chunk)
   * @param attempts requests to one peer for one thing before the next peer is tried
   * @param pause between two attempts at one peer (times the attempt's number)
   */
  public record Settings(
      Duration connectTimeout, Duration requestTimeout, int attempts, Duration pause) {
    public static final Settings DEFAULT =
        new Settings(Duration.ofSeconds(5), Duration.ofSeconds(60), 3, Duration.ofMillis(500));

    public Settings {
      Objects.requireNonNull(connectTimeout);
      Objects.requireNonNull(requestTimeout);
      Objects.requireNonNull(pause);
      if (attempts < 1
          || connectTimeout.isNegative()
          || connectTimeout.isZero()
          || requestTimeout.isNegative()
          || requestTimeout.isZero()
          || pause.isNegative()) {
        throw new IllegalArgumentException("attempts and timeouts must be positive");
      }
    }
  }

  /**
   * What a replication did.
   *
   * @param image its name
   * @param fetched stored chunks fetched from peers, and their bytes
   * @param here stored chunks this daemon's pool held already (another image's, or an earlier
   *     fetch's), and their bytes
   * @param refused chunks a peer sent that did not match their digest (fetched elsewhere)
   * @param from the daemons the chunks came from
   */
  public record Result(
      String image,
      int fetched,
      long fetchedBytes,
      int here,
      long hereBytes,
      int refused,
      List<String> from) {
    /** Whether the image was local already (nothing fetched, nothing checked). */
    public boolean wasLocal() {
      return from.isEmpty() && fetched == 0 && here == 0;
    }
  }

  private final ImageStore images;
  private final DaemonRegistry registry;
  private final EventLog events;
  private final Clock clock;
  private final ExecutorService worker;
  private final Settings settings;
  private final HttpClient http;
  private final Map<String, CompletableFuture<Result>> running = new ConcurrentHashMap<>();
  private volatile Consumer<Sha256> afterChunk = d -> {};

  /**
   * @param worker runs the fetches (one per image at a time)
   */
  public ImageReplicator(
      ImageStore images,
      DaemonRegistry registry,
      EventLog events,
      Clock clock,
      ExecutorService worker,
      Settings settings) {
    this.images = Objects.requireNonNull(images);
    this.registry = Objects.requireNonNull(registry);
    this.events = Objects.requireNonNull(events);
    this.clock = Objects.requireNonNull(clock);
    this.worker = Objects.requireNonNull(worker);
    this.settings = Objects.requireNonNull(settings);
    this.http =
        HttpClient.newBuilder()
            .connectTimeout(settings.connectTimeout())
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
  }

  /** A test hook: runs after each chunk is in the pool (to break a fetch off at a known point). */
  void afterChunk(Consumer<Sha256> hook) {
    this.afterChunk = Objects.requireNonNull(hook);
  }

  /**
   * Makes image {@code name} ready on this daemon within {@code bound}, fetching it if needed: what
   * a session part calls before it starts. A fetch that takes longer goes on in the background.
   *
   * @throws ReplicationException naming the image and why: not in the store, not ready, no running
   *     daemon holds it, every holder failed, or not done within {@code bound}
   */
  public Result ensureLocal(String name, Duration bound)
      throws ReplicationException, InterruptedException {
    CompletableFuture<Result> f;
    try {
      f = replicate(name, Optional.empty());
    } catch (RuntimeException e) {
      throw new ReplicationException(e.getMessage(), e);
    }
    try {
      return f.get(bound.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      Optional<ImageCopies.Copy> c = images.copies().mine(name);
      throw new ReplicationException(
          "image "
              + name
              + " is not on this daemon yet: still fetching it after "
              + bound.toSeconds()
              + " s"
              + c.map(x -> " (" + x.done() + " of " + x.total() + " bytes)").orElse("")
              + "; it goes on in the background ('clonecast image list' shows it)");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ReplicationException r) {
        throw r;
      }
      throw new ReplicationException(
          "replicating image " + name + " failed: " + cause.getMessage(), cause);
    }
  }

  /**
   * Starts making image {@code name} ready on this daemon, or joins the fetch that runs for it; a
   * future completed at once when it is here already.
   *
   * @param from the daemon to fetch from first (its id, or a unique start of it); the others
   *     holding the image are tried after it
   * @throws NotFoundException when there is no such image
   * @throws ConflictException when it is not ready
   * @throws IllegalArgumentException when {@code from} names no daemon of the store
   */
  public CompletableFuture<Result> replicate(String name, Optional<String> from) {
    Image row = images.find(name).orElseThrow(() -> new NotFoundException("no image " + name));
    if (!row.ready()) {
      throw new ConflictException(
          "image " + name + " is " + row.state() + ", not ready: nothing to replicate yet");
    }
    Optional<String> first = from.map(this::daemonId);
    if (images.holds(name)) {
      return CompletableFuture.completedFuture(new Result(name, 0, 0, 0, 0, 0, List.of()));
    }
    CompletableFuture<Result> mine = new CompletableFuture<>();
    CompletableFuture<Result> theirs = running.putIfAbsent(name, mine);
    if (theirs != null) {
      return theirs;
    }
    // Shown at once (the API's answer, 'image list'), before the worker starts.
    images.copies().copying(name, 0, row.storedSize());
    try {
      worker.execute(
          () -> {
            try {
              mine.complete(fetch(name, first));
            } catch (Exception | Error e) {
              mine.completeExceptionally(e);
            } finally {
              running.remove(name, mine);
            }
          });
    } catch (RuntimeException e) {
      running.remove(name, mine);
      throw e;
    }
    return mine;
  }

  /**
   * Starts fetching every ready image this daemon does not hold, one after another ({@code serve
   * --replicate-images}); failures are events, not errors.
   */
  public void replicateAll() {
    for (Image i : images.list()) {
      if (i.ready() && !images.holds(i.name())) {
        try {
          replicate(i.name(), Optional.empty());
        } catch (RuntimeException e) {
          LOG.warn("replicate: image {} not started: {}", i.name(), e.getMessage());
        }
      }
    }
  }

  /** The id of the daemon {@code given} names (whole, or a unique start). */
  private String daemonId(String given) {
    List<String> ids =
        registry.list().stream()
            .map(DaemonRegistry.Member::id)
            .filter(id -> id.equals(given) || id.startsWith(given))
            .toList();
    if (ids.contains(given)) {
      return given;
    }
    if (ids.size() != 1) {
      throw new IllegalArgumentException(
          (ids.isEmpty() ? "no daemon " : "more than one daemon starts with ")
              + given
              + "; see 'clonecast daemon list'");
    }
    return ids.get(0);
  }

  /** A running daemon with a ready copy, and why it failed (if it did) during this fetch. */
  private static final class Holder {
    final DaemonRegistry.Member member;
    final StringBuilder failures = new StringBuilder();

    Holder(DaemonRegistry.Member member) {
      this.member = member;
    }

    synchronized void failed(String why) {
      if (failures.length() > 1000) {
        return; // the first failures say enough
      }
      if (!failures.isEmpty()) {
        failures.append("; ");
      }
      failures.append(why);
    }

    synchronized String failures() {
      return failures.isEmpty() ? "not tried" : failures.toString();
    }

    @Override
    public String toString() {
      return member.id() + " (" + member.url() + ")";
    }
  }

  /**
   * The running daemons with a ready copy of {@code name}: {@code first}, then those on this
   * daemon's segment, then the others, each by id.
   */
  private List<Holder> holders(String name, Optional<String> first) throws ReplicationException {
    long now = clock.millis();
    Map<String, DaemonRegistry.Member> members = new LinkedHashMap<>();
    for (DaemonRegistry.Member m : registry.list()) {
      members.put(m.id(), m);
    }
    Optional<DaemonRegistry.Member> me = Optional.ofNullable(members.get(registry.self()));
    List<String> notRunning = new ArrayList<>();
    List<DaemonRegistry.Member> ok = new ArrayList<>();
    for (ImageCopies.Copy c : images.copies().of(name)) {
      if (c.state() != ImageCopies.State.READY || c.daemon().equals(registry.self())) {
        continue;
      }
      DaemonRegistry.Member m = members.get(c.daemon());
      if (m == null || !m.alive(now)) {
        notRunning.add(c.daemon() + " (" + (m == null ? "unknown" : m.state(now)) + ")");
      } else {
        ok.add(m);
      }
    }
    if (ok.isEmpty()) {
      throw new ReplicationException(
          "no running daemon holds image "
              + name
              + (notRunning.isEmpty() ? "" : "; it is held by " + String.join(", ", notRunning))
              + "; start a daemon that holds it, or add it again");
    }
    ok.sort(
        Comparator.comparing((DaemonRegistry.Member m) -> !first.map(m.id()::equals).orElse(false))
            .thenComparing(m -> me.map(x -> !x.sameSegment(m)).orElse(true))
            .thenComparing(DaemonRegistry.Member::id));
    if (first.isPresent() && !ok.get(0).id().equals(first.get())) {
      LOG.info("replicate: {} holds no running ready copy of {}; trying the others", first, name);
    }
    return ok.stream().map(Holder::new).toList();
  }

  private Result fetch(String name, Optional<String> first) throws Exception {
    Image row =
        images
            .find(name)
            .orElseThrow(() -> new ReplicationException("image " + name + " was removed"));
    Sha256 content =
        images
            .storedContentHash(name)
            .orElseThrow(
                () ->
                    new ReplicationException(
                        "image "
                            + name
                            + " has no content hash in the store yet (added by an older"
                            + " clonecast): restart the daemon that holds it with this version"));
    List<Holder> holders = holders(name, first);
    Tally t = new Tally(name, row.storedSize());
    images.copies().copying(name, 0, row.storedSize());
    event("replicating image " + name + " from " + holders.get(0).member.id());
    try {
      Manifest m = manifest(name, row, content, holders);
      Map<Sha256, ChunkEntry> wanted = new LinkedHashMap<>();
      for (ChunkEntry e : m.chunks()) {
        if (e.kind().isStored()) {
          wanted.putIfAbsent(e.sha256(), e);
        }
      }
      t.total(wanted.values().stream().mapToLong(ChunkEntry::storedLength).sum());
      images.beginReplica(name, m);
      try (ChunkPool.Hold h = images.holdChunks()) {
        List<ChunkEntry> missing = new ArrayList<>();
        for (ChunkEntry e : wanted.values()) {
          int logical = m.logicalLength(e.index());
          long have = images.pool().length(e.sha256());
          if (have > 0 && have <= logical) {
            int n =
                h.put(
                    e.sha256(),
                    logical,
                    () -> {
                      throw new IOException("chunk " + e.sha256().hex() + " swept meanwhile");
                    });
            t.here(n);
            afterChunk.accept(e.sha256());
          } else {
            missing.add(e);
          }
        }
        fetchAll(m, missing, holders, h, t);
        images.publishReplica(name, m, h, t.describe());
      }
      return t.result();
    } catch (Exception e) {
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      images.copies().failed(name, t.done(), t.total(), why);
      event("replicating image " + name + " failed: " + why);
      throw e;
    }
  }

  /** The image's manifest from the first holder whose manifest is the one the store names. */
  private Manifest manifest(String name, Image row, Sha256 content, List<Holder> holders)
      throws ReplicationException, InterruptedException {
    long max = Manifest.maxEncodedLength(row.chunks(), Manifest.MAX_CHUNK_SIZE) + SIGNATURE_ROOM;
    for (Holder h : holders) {
      for (int attempt = 1; attempt <= settings.attempts(); attempt++) {
        try {
          byte[] b = get(h, "images/" + name + "/manifest", max);
          Manifest m;
          try {
            m = Manifest.decode(Unpooled.wrappedBuffer(b));
          } catch (MalformedImageException e) {
            h.failed("its manifest is malformed: " + e.getMessage());
            break;
          }
          Optional<String> wrong = mismatch(m, row, content);
          if (wrong.isPresent()) {
            h.failed("its manifest is not the store's image: " + wrong.get());
            LOG.warn("replicate {}: daemon {}: {}", name, h, wrong.get());
            break;
          }
          return m;
        } catch (NotServed e) {
          h.failed(e.getMessage());
          break;
        } catch (IOException e) {
          h.failed("manifest: " + e.getMessage());
          pause(attempt);
        }
      }
    }
    throw new ReplicationException(
        "no daemon served image " + name + "'s manifest: " + failures(holders));
  }

  /** What differs between a peer's manifest and the images row, if anything. */
  static Optional<String> mismatch(Manifest m, Image row, Sha256 content) {
    if (!row.imageId().equals(Optional.of(m.imageId().toString()))) {
      return Optional.of("image id " + m.imageId() + ", the store's " + row.imageId().orElse("-"));
    }
    if (m.logicalSize() != row.logicalSize() || m.chunkCount() != row.chunks()) {
      return Optional.of(
          m.logicalSize()
              + " bytes in "
              + m.chunkCount()
              + " chunks, the store's "
              + row.logicalSize()
              + " in "
              + row.chunks());
    }
    if (!row.imageHash().equals(Optional.of(m.imageHash().toString()))) {
      return Optional.of("image hash " + m.imageHash() + ", the store's " + row.imageHash());
    }
    Sha256 got = ImageStore.contentHash(m);
    if (!got.equals(content)) {
      return Optional.of("content hash " + got.hex() + ", the store's " + content.hex());
    }
    return Optional.empty();
  }

  /**
   * Fetches the chunks the pool lacks, {@link #PARALLEL} at a time, into {@code h}: the first
   * failure stops the others and is thrown once they have ended.
   */
  private void fetchAll(
      Manifest m, List<ChunkEntry> missing, List<Holder> holders, ChunkPool.Hold h, Tally t)
      throws Exception {
    if (missing.isEmpty()) {
      return;
    }
    AtomicInteger next = new AtomicInteger();
    AtomicInteger cursor = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    int threads = Math.min(PARALLEL, missing.size());
    ExecutorService fetchers =
        Executors.newFixedThreadPool(threads, DaemonThreads.numbered("image-fetch-"));
    try {
      List<Future<?>> running = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        running.add(
            fetchers.submit(
                () -> {
                  byte[] scratch = new byte[m.chunkSize()];
                  int k;
                  while (!stop.get() && (k = next.getAndIncrement()) < missing.size()) {
                    ChunkEntry e = missing.get(k);
                    int logical = m.logicalLength(e.index());
                    Served got = chunk(e, logical, scratch, holders, cursor, t);
                    h.put(e.sha256(), logical, ByteBuffer.wrap(got.stored()));
                    t.fetched(got.daemon(), got.stored().length);
                    afterChunk.accept(e.sha256());
                  }
                  return null;
                }));
      }
      Exception failed = null;
      for (Future<?> f : running) {
        try {
          f.get();
        } catch (ExecutionException x) {
          stop.set(true);
          if (failed == null) {
            failed = x.getCause() instanceof Exception c ? c : new Exception(x.getCause());
          }
        }
      }
      if (failed != null) {
        throw failed;
      }
    } finally {
      fetchers.shutdownNow();
    }
  }

  /** A chunk's stored bytes, checked, and the daemon that served them. */
  private record Served(byte[] stored, String daemon) {}

  /**
   * The stored bytes of chunk {@code e}, checked against its digest, from the holder at {@code
   * cursor} or, when it fails, the next ones (then {@code cursor} moves to the one that served it).
   */
  private Served chunk(
      ChunkEntry e,
      int logical,
      byte[] scratch,
      List<Holder> holders,
      AtomicInteger cursor,
      Tally t)
      throws ReplicationException, InterruptedException {
    int from = cursor.get();
    for (int k = 0; k < holders.size(); k++) {
      int at = (from + k) % holders.size();
      Holder h = holders.get(at);
      for (int attempt = 1; attempt <= settings.attempts(); attempt++) {
        byte[] b;
        try {
          b = get(h, "chunks/" + e.sha256().hex(), logical);
        } catch (NotServed x) {
          h.failed(x.getMessage());
          break;
        } catch (IOException x) {
          h.failed("chunk " + e.sha256().hex() + ": " + x.getMessage());
          pause(attempt);
          continue;
        }
        try {
          check(e, b, logical, scratch);
        } catch (ChunkVerificationException | IllegalArgumentException x) {
          t.refused();
          String why = "chunk " + e.sha256().hex() + " refused: " + x.getMessage();
          h.failed(why);
          LOG.warn("replicate: daemon {}: {}", h, why);
          break;
        }
        cursor.set(at);
        return new Served(b, h.member.id());
      }
    }
    throw new ReplicationException(
        "no daemon served chunk " + e.sha256().hex() + " intact: " + failures(holders));
  }

  /** What one fetch has done so far; its progress row written at most every second. */
  private final class Tally {
    private final String name;
    private long total;
    private int fetched;
    private long fetchedBytes;
    private int here;
    private long hereBytes;
    private int refused;
    private final List<String> from = new ArrayList<>();
    private long written = clock.millis();

    Tally(String name, long total) {
      this.name = name;
      this.total = total;
    }

    synchronized void total(long bytes) {
      total = bytes;
    }

    synchronized long total() {
      return total;
    }

    synchronized long done() {
      return fetchedBytes + hereBytes;
    }

    synchronized void here(long bytes) throws ReplicationException {
      here++;
      hereBytes += bytes;
      progress();
    }

    synchronized void fetched(String daemon, long bytes) throws ReplicationException {
      fetched++;
      fetchedBytes += bytes;
      if (!from.contains(daemon)) {
        from.add(daemon);
      }
      progress();
    }

    synchronized void refused() {
      refused++;
    }

    private void progress() throws ReplicationException {
      long now = clock.millis();
      if (now - written >= PROGRESS_EVERY.toMillis()) {
        written = now;
        if (!images.copies().copying(name, done(), total)) {
          throw new ReplicationException(
              "image " + name + " was removed while it was being fetched");
        }
      }
    }

    synchronized String describe() {
      return " from "
          + (from.isEmpty() ? "this daemon's pool" : String.join(", ", from))
          + ": "
          + fetched
          + " chunks ("
          + fetchedBytes
          + " bytes) fetched, "
          + here
          + " ("
          + hereBytes
          + " bytes) here already"
          + (refused == 0 ? "" : ", " + refused + " refused (digest mismatch)");
    }

    synchronized Result result() {
      return new Result(name, fetched, fetchedBytes, here, hereBytes, refused, List.copyOf(from));
    }
  }

  /**
   * Throws unless {@code stored} decodes to {@code logical} bytes with {@code e}'s digest: as long
   * as the chunk (raw) or a shorter zstd frame.
   */
  private static void check(ChunkEntry e, byte[] stored, int logical, byte[] scratch) {
    if (stored.length == 0 || stored.length > logical) {
      throw new IllegalArgumentException(stored.length + " stored bytes for a chunk of " + logical);
    }
    ChunkEntry as =
        new ChunkEntry(
            e.index(),
            stored.length == logical ? ChunkKind.RAW : ChunkKind.ZSTD,
            0,
            stored.length,
            e.sha256(),
            e.used());
    ChunkCodec.decode(as, ByteBuffer.wrap(stored), scratch, 0, logical);
  }

  /** A peer answered, but not with what was asked (404, 401, a bad status): no retry there. */
  private static final class NotServed extends IOException {
    private static final long serialVersionUID = 1L;

    NotServed(String message) {
      super(message);
    }
  }

  /** GETs {@code path} under the peer prefix from {@code h}, at most {@code max} bytes. */
  private byte[] get(Holder h, String path, long max) throws IOException, InterruptedException {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(h.member.url() + PeerRoutes.PREFIX + path))
            .timeout(settings.requestTimeout())
            .header(PeerRoutes.DAEMON_HEADER, registry.self())
            .header(PeerRoutes.SECRET_HEADER, registry.peerSecret())
            .GET()
            .build();
    HttpResponse<InputStream> r;
    try {
      r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    } catch (IllegalArgumentException e) {
      throw new NotServed("its URL " + h.member.url() + " is not usable: " + e.getMessage());
    }
    try (InputStream in = r.body()) {
      if (r.statusCode() == 429 || r.statusCode() >= 500) {
        throw new IOException("HTTP " + r.statusCode());
      }
      if (r.statusCode() != 200) {
        String text = new String(in.readNBytes(512), StandardCharsets.UTF_8);
        throw new NotServed("HTTP " + r.statusCode() + " " + text.strip());
      }
      OptionalLong length = r.headers().firstValueAsLong("content-length");
      if (length.isPresent() && length.getAsLong() > max) {
        throw new NotServed("it sends " + length.getAsLong() + " bytes, at most " + max + " fit");
      }
      byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
      if (b.length > max) {
        throw new NotServed("it sends more than " + max + " bytes");
      }
      return b;
    }
  }

  private void pause(int attempt) throws InterruptedException {
    if (attempt < settings.attempts()) {
      Thread.sleep(settings.pause().toMillis() * attempt);
    }
  }

  private static String failures(List<Holder> holders) {
    List<String> out = new ArrayList<>();
    for (Holder h : holders) {
      out.add(h.member.id() + ": " + h.failures());
    }
    return String.join("; ", out);
  }

  private void event(String text) {
    events.record("image", Optional.empty(), Optional.empty(), text);
  }
}

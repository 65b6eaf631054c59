package org.clonecast.server.replicate;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageVerifier;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.common.net.Transport;
import org.clonecast.common.testing.MutableClock;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.server.config.StoreConfig;
import org.clonecast.server.http.ApiToken;
import org.clonecast.server.http.HttpServer;
import org.clonecast.server.http.PeerRoutes;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageCopies;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.PooledImage;
import org.clonecast.server.store.TestStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Daemons on one PostgreSQL store, each with its own state directory and its peer routes on
 * loopback, replicate images between them: only the chunks a pool lacks travel, every chunk is
 * checked, a holder that sends bad bytes or dies is left for another, a broken fetch resumes, and
 * removing an image on one daemon never costs another daemon a chunk it needs.
 */
class ImageReplicatorTest {
  static final int CHUNK = 64 * 1024;
  static final int CHUNKS = 48; // 3 MiB
  static final Set<Integer> CHANGED = Set.of(3, 17, 30, 47);
  static final ImageReplicator.Settings FAST =
      new ImageReplicator.Settings(
          Duration.ofSeconds(5), Duration.ofSeconds(5), 2, Duration.ofMillis(20));

  @TempDir Path dir;
  final MutableClock clock = new MutableClock(Instant.parse("2026-12-07T09:00:00Z"));
  final List<Daemon> daemons = new ArrayList<>();
  final HttpClient client = HttpClient.newHttpClient();
  ExecutorService worker;
  StoreConfig store;
  byte[] v1;
  byte[] v2;

  /** One daemon's store, registry, peer routes and replicator. */
  final class Daemon implements AutoCloseable {
    final Path state;
    final Database db;
    final ImageStore images;
    final DaemonRegistry registry;
    final PeerRoutes peer;
    final ImageReplicator replicator;
    EventLoopGroup group;
    HttpServer http;

    Daemon(String name) throws Exception {
      state = dir.resolve(name);
      db = Database.open(state, store);
      EventLog events = new EventLog(db, Clock.systemUTC());
      images = new ImageStore(db, state.resolve("images"), Clock.systemUTC(), events, worker);
      images.recover();
      registry = new DaemonRegistry(db, clock, ApiToken.secretFile(state, "peer-secret"));
      peer = new PeerRoutes(images, registry);
      replicator = new ImageReplicator(images, registry, events, clock, worker, FAST);
      daemons.add(this);
      serve();
    }

    String id() {
      return db.daemon();
    }

    /** Starts its HTTP server (on a new port) and announces it. */
    void serve() throws Exception {
      group = Transport.group(1, "repl-test");
      HttpServer.Routes routes = new HttpServer.Routes();
      peer.register(routes);
      http =
          HttpServer.start(
              group,
              null,
              0,
              false,
              ApiToken.loadOrCreate(state),
              routes,
              new HttpServer.Limits(Duration.ofSeconds(60), 64, 16));
      registry.announce(
          "http://127.0.0.1:" + http.port(), (Inet4Address) InetAddress.getByName("127.0.0.1"), 8);
    }

    /** Stops its HTTP server and every connection to it, as a daemon that dies. */
    void stopServing() {
      http.close();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
      http = null;
    }

    Image add(String name, byte[] disk) throws Exception {
      Path raw = dir.resolve(name + "-" + id() + ".raw");
      Files.write(raw, disk);
      Path cci = dir.resolve(name + "-" + id() + ".cci");
      ImageCreator.create(raw, cci, CHUNK, 3, 2, ProgressListener.NONE);
      images.add(name, cci);
      await()
          .atMost(Duration.ofSeconds(120))
          .until(() -> !images.find(name).orElseThrow().state().equals("adding"));
      Image i = images.find(name).orElseThrow();
      assertEquals("ready", i.state(), name + ": " + i.detail());
      return i;
    }

    /** Every chunk of its copy of {@code name} decodes to the bytes of {@code disk}. */
    void assertHolds(String name, byte[] disk) throws Exception {
      assertTrue(images.holds(name), id() + " holds " + name);
      try (ChunkSource s = images.open(name)) {
        ImageVerifier.verify(s, 2, ProgressListener.NONE);
        byte[] out = new byte[CHUNK];
        for (int c = 0; c < CHUNKS; c++) {
          s.readLogical(c, out);
          assertEquals(
              ByteBuffer.wrap(disk, c * CHUNK, CHUNK), ByteBuffer.wrap(out), name + " chunk " + c);
        }
      }
    }

    long poolFiles() throws Exception {
      Path p = images.pool().dir();
      if (!Files.isDirectory(p)) return 0;
      try (Stream<Path> s = Files.walk(p)) {
        return s.filter(f -> f.getFileName().toString().length() == 64).count();
      }
    }

    @Override
    public void close() {
      if (http != null) {
        stopServing();
      }
      db.close();
    }
  }

  @BeforeEach
  void setUp() {
    store = TestStore.POSTGRESQL.config();
    worker = Executors.newCachedThreadPool();
    Random rnd = new Random(17);
    v1 = new byte[CHUNK * CHUNKS];
    // Text-like chunks (stored zstd) and random ones (stored raw), every chunk distinct.
    for (int i = 0; i < v1.length; i++) {
      v1[i] = (byte) ((i / CHUNK) % 2 == 0 ? 'a' + (i * 7 + i / CHUNK) % 13 : rnd.nextInt());
    }
    for (int c = 0; c < CHUNKS; c++) {
      ByteBuffer.wrap(v1, c * CHUNK, 4).putInt(c);
    }
    v2 = v1.clone();
    for (int c : CHANGED) {
      for (int i = 0; i < 4096; i++) {
        v2[c * CHUNK + 1000 + i] = (byte) rnd.nextInt();
      }
    }
  }

  @AfterEach
  void tearDown() {
    for (Daemon d : daemons) {
      d.close();
    }
    worker.shutdownNow();
  }

  @Test
  void aDaemonFetchesOnlyTheChunksItsPoolLacks() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    a.add("v2", v2);
    b.add("v1", v1);
    assertFalse(b.images.holds("v2"));
    assertThrows(Exception.class, () -> b.images.open("v2"), "not here: a clear refusal");

    ImageReplicator.Result r = b.replicator.ensureLocal("v2", Duration.ofSeconds(60));

    assertEquals(CHANGED.size(), r.fetched(), "only the changed chunks travel");
    assertEquals(CHUNKS - CHANGED.size(), r.here());
    assertEquals(List.of(a.id()), r.from());
    b.assertHolds("v2", v2);
    b.assertHolds("v1", v1);
    assertEquals(
        List.of(ImageCopies.State.READY, ImageCopies.State.READY),
        b.images.copies().of("v2").stream().map(ImageCopies.Copy::state).toList());
    assertEquals(1 + CHANGED.size(), a.peer.stats().requests.sum(), "the manifest and 4 chunks");
    assertTrue(b.replicator.ensureLocal("v2", Duration.ofSeconds(5)).wasLocal());
  }

  @Test
  void aChunkThatDoesNotMatchItsDigestIsRefusedAndFetchedFromAnotherDaemon() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    Daemon c = new Daemon("c");
    a.add("v1", v1);
    c.replicator.ensureLocal("v1", Duration.ofSeconds(60));
    // One raw chunk in a's pool loses a byte to disk damage (or a hostile peer): same length.
    Sha256 bad = null;
    for (Sha256 d : a.images.storedDigests("v1")) {
      if (a.images.pool().length(d) == CHUNK) {
        bad = d;
        break;
      }
    }
    byte[] damaged = Files.readAllBytes(a.images.pool().path(bad));
    damaged[100] ^= 1;
    Files.write(a.images.pool().path(bad), damaged);

    ImageReplicator.Result r = b.replicator.replicate("v1", Optional.of(a.id())).get();

    assertEquals(1, r.refused());
    assertEquals(CHUNKS, r.fetched());
    assertTrue(r.from().contains(c.id()), "c for the refused one (and those after it)");
    b.assertHolds("v1", v1);
  }

  @Test
  void aManifestThatIsNotTheStoresImageIsRefusedAndTakenFromAnotherDaemon() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    Daemon c = new Daemon("c");
    a.add("v1", v1);
    a.add("v2", v2);
    c.replicator.ensureLocal("v1", Duration.ofSeconds(60));
    // a's v1 manifest file now holds v2's manifest: well-formed, every chunk a's to serve.
    PooledImage.write(
        a.images.manifestFor("v1"),
        PooledImage.read(a.images.manifestFor("v2")).manifest(),
        Optional.empty());

    ImageReplicator.Result r = b.replicator.replicate("v1", Optional.of(a.id())).get();

    // The manifest came from c; chunks, checked one by one, from whoever serves them.
    assertEquals(CHUNKS, r.fetched());
    b.assertHolds("v1", v1);
    assertEquals(
        b.images.storedContentHash("v1").orElseThrow(),
        ImageStore.contentHash(PooledImage.read(b.images.manifestFor("v1")).manifest()));
  }

  @Test
  void peerRoutesAnswerOnlyTheStoresDaemonsWithTheirOwnSecret() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    a.add("v1", v1);
    Sha256 held = a.images.storedDigests("v1").iterator().next();
    String chunk = "chunks/" + held.hex();
    String secret = b.registry.peerSecret();

    assertEquals(401, get(a, chunk, Optional.empty(), Optional.empty()).statusCode());
    assertEquals(401, get(a, chunk, Optional.of(b.id()), Optional.of("0".repeat(64))).statusCode());
    assertEquals(401, get(a, chunk, Optional.of("nobody"), Optional.of(secret)).statusCode());
    assertEquals(
        401,
        get(a, chunk, Optional.of(a.id()), Optional.of(secret)).statusCode(),
        "b's secret is not a's");
    HttpResponse<byte[]> ok = get(a, chunk, Optional.of(b.id()), Optional.of(secret));
    assertEquals(200, ok.statusCode());
    assertEquals(a.images.pool().length(held), ok.body().length);
    assertEquals(
        404,
        get(
                a,
                "chunks/" + Sha256.digest(new byte[1], 0, 1).hex(),
                Optional.of(b.id()),
                Optional.of(secret))
            .statusCode(),
        "a digest of no image this daemon holds");
    assertEquals(
        404, get(a, "images/v9/manifest", Optional.of(b.id()), Optional.of(secret)).statusCode());
    assertEquals(
        200, get(a, "images/v1/manifest", Optional.of(b.id()), Optional.of(secret)).statusCode());
    assertEquals(
        404,
        get(a, "chunks/../../api-token", Optional.of(b.id()), Optional.of(secret)).statusCode());
    b.registry.stopped();
    assertEquals(
        401,
        get(a, chunk, Optional.of(b.id()), Optional.of(secret)).statusCode(),
        "a stopped daemon's secret");
    assertEquals(5, a.peer.stats().unauthorized.sum());
  }

  @Test
  void aFetchBrokenOffResumesWithOnlyTheChunksItLacks() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    a.add("v1", v1);
    AtomicInteger pooled = new AtomicInteger();
    b.replicator.afterChunk(
        d -> {
          if (pooled.incrementAndGet() == 10) {
            a.stopServing();
          }
        });

    ReplicationException e =
        assertThrows(
            ReplicationException.class,
            () -> b.replicator.ensureLocal("v1", Duration.ofSeconds(60)));
    assertTrue(e.getMessage().contains("no daemon served chunk"), e.getMessage());
    assertEquals(ImageCopies.State.FAILED, b.images.copies().mine("v1").orElseThrow().state());
    // The 10th and those in flight with it (fetched in parallel) are in the pool.
    int fetched = pooled.get();
    assertTrue(fetched >= 10 && fetched < CHUNKS, "fetched before the break: " + fetched);
    b.images.collect();
    assertEquals(fetched, b.poolFiles(), "the chunks fetched outlive a sweep");

    a.serve();
    b.replicator.afterChunk(d -> {});
    ImageReplicator.Result r = b.replicator.ensureLocal("v1", Duration.ofSeconds(60));
    assertEquals(CHUNKS - fetched, r.fetched());
    assertEquals(fetched, r.here());
    b.assertHolds("v1", v1);
    assertEquals(ImageCopies.State.READY, b.images.copies().mine("v1").orElseThrow().state());
  }

  @Test
  void removingAnImageOnOneDaemonNeverLosesAnotherDaemonsChunks() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    a.add("v1", v1);
    b.add("v2", v2);
    b.replicator.ensureLocal("v1", Duration.ofSeconds(60));
    assertEquals(CHUNKS + CHANGED.size(), b.poolFiles());

    assertTrue(a.images.remove("v1"));

    assertEquals(List.of(), a.images.copies().of("v1"), "every daemon's copy row goes");
    assertEquals(0, a.poolFiles());
    b.images.collect();
    assertFalse(Files.exists(b.images.manifestFor("v1")), "b drops its copy at its next sweep");
    assertEquals(CHUNKS, b.poolFiles(), "only the chunks v1 alone used");
    b.assertHolds("v2", v2);
  }

  @Test
  void concurrentCallsForOneImageShareOneFetch() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    a.add("v1", v1);
    CountDownLatch second = new CountDownLatch(1);
    b.replicator.afterChunk(
        d -> {
          try {
            second.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    CompletableFuture<ImageReplicator.Result> one = b.replicator.replicate("v1", Optional.empty());
    CompletableFuture<ImageReplicator.Result> two = b.replicator.replicate("v1", Optional.empty());
    second.countDown();

    assertSame(one, two);
    assertEquals(CHUNKS, one.get(60, TimeUnit.SECONDS).fetched());
    assertEquals(1 + CHUNKS, a.peer.stats().requests.sum());
    b.assertHolds("v1", v1);
  }

  @Test
  void withoutARunningHolderTheErrorSaysWhoHoldsIt() throws Exception {
    Daemon a = new Daemon("a");
    Daemon b = new Daemon("b");
    a.add("v1", v1);
    a.registry.stopped();

    ReplicationException e =
        assertThrows(
            ReplicationException.class,
            () -> b.replicator.ensureLocal("v1", Duration.ofSeconds(10)));
    assertTrue(e.getMessage().contains("no running daemon holds image v1"), e.getMessage());
    assertTrue(e.getMessage().contains(a.id() + " (stopped)"), e.getMessage());
    assertThrows(
        ReplicationException.class, () -> b.replicator.ensureLocal("v9", Duration.ofSeconds(1)));
  }

  HttpResponse<byte[]> get(Daemon d, String path, Optional<String> id, Optional<String> secret)
      throws Exception {
    HttpRequest.Builder req =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + d.http.port() + "/peer/v1/" + path))
            .timeout(Duration.ofSeconds(30));
    id.ifPresent(v -> req.header(PeerRoutes.DAEMON_HEADER, v));
    secret.ifPresent(v -> req.header(PeerRoutes.SECRET_HEADER, v));
    return client.send(req.GET().build(), HttpResponse.BodyHandlers.ofByteArray());
  }
}

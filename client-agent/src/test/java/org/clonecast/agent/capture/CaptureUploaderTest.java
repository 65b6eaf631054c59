package org.clonecast.agent.capture;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.io.RandomAccessFile;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.clonecast.agent.report.ServerClient;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.Disk;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageVerifier;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.http.AgentRoutes;
import org.clonecast.server.http.ApiToken;
import org.clonecast.server.http.CaptureRoutes;
import org.clonecast.server.http.HttpServer;
import org.clonecast.server.http.NodeAuth;
import org.clonecast.server.session.NodeWaiters;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.CaptureStore;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's capture upload against the daemon's real capture calls on loopback (requests to
 * 127.0.0.2, from 127.0.0.1 where the node registered): an update captured {@code --from} the old
 * image sends only the changed chunks' bytes and references for the rest, and a reference the
 * daemon's pool cannot serve goes again as bytes.
 */
class CaptureUploaderTest {
  static final MacAddress MAC = MacAddress.parse("52:54:00:00:00:0d");
  static final String NODE = "127.0.0.2";
  static final String FROM = "127.0.0.1";
  static final int CHUNK = CaptureManager.CHUNK_SIZE;

  @TempDir Path dir;
  Database db;
  EventLoopGroup group;
  HttpServer server;
  ExecutorService worker;
  CaptureManager captures;
  SessionManager sessions;
  NodeWaiters waiters;
  ImageStore images;
  String secret;
  Path disk;

  @BeforeEach
  void setUp() throws Exception {
    // 20 chunks: random ones and compressible ones (ZSTD), a zero chunk, a short last one.
    byte[] d = new byte[19 * CHUNK + 4321];
    Random rnd = new Random(3);
    rnd.nextBytes(d);
    for (int c = 0; c < 19; c += 3) {
      for (int i = c * CHUNK; i < (c + 1) * CHUNK; i++) d[i] = (byte) ('a' + (i % 7 == 0 ? 1 : 0));
    }
    Arrays.fill(d, 4 * CHUNK, 5 * CHUNK, (byte) 0);
    disk = dir.resolve("golden.img");
    Files.write(disk, d);

    db = Database.open(dir.resolve("state"));
    NodeStore nodes = new NodeStore(db, Clock.systemUTC());
    EventLog events = new EventLog(db, Clock.systemUTC());
    worker = Executors.newSingleThreadExecutor();
    images = new ImageStore(db, dir.resolve("state/images"), Clock.systemUTC(), events, worker);
    images.recover();
    captures =
        new CaptureManager(
            new CaptureStore(db, Clock.systemUTC()),
            images,
            nodes,
            new SessionStore(db, Clock.systemUTC()),
            events);
    NodeSecrets secrets = new NodeSecrets(db, Clock.systemUTC());
    // The agent calls too, so that a node's registration can be held until its capture starts.
    waiters = new NodeWaiters(Duration.ofSeconds(20), 8);
    captures.waking(waiters);
    sessions =
        new SessionManager(
                new SessionStore(db, Clock.systemUTC()),
                nodes,
                images,
                events,
                NetInterface.byName("lo"),
                9000,
                Duration.ofSeconds(30),
                Optional.empty())
            .waking(waiters);
    HttpServer.Routes routes = new HttpServer.Routes();
    new CaptureRoutes(captures, new NodeAuth(secrets)).register(routes);
    new AgentRoutes(
            sessions,
            captures,
            nodes,
            Optional.empty(),
            dir.resolve("node-files"),
            new NodeAuth(secrets))
        .register(routes);
    group = Transport.group(1, "capture-upload-test");
    server =
        HttpServer.start(
            group,
            (Inet4Address) InetAddress.getByName(NODE),
            0,
            false,
            ApiToken.loadOrCreate(dir.resolve("state")),
            routes,
            new HttpServer.Limits(Duration.ofSeconds(60), 4096, 64));
    nodes.enroll(MAC, "golden", Optional.empty());
    secret = secrets.issue(MAC);
  }

  @AfterEach
  void tearDown() throws Exception {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    sessions.close();
    captures.close();
    worker.shutdownNow();
    db.close();
  }

  /**
   * The agent's long poll ({@code auto --wait-for-session}) against the daemon's real register
   * call: the golden node's registration, asked to be held, is held while the node has nothing to
   * do and answered with its capture the moment the capture is started.
   */
  @Test
  void aRegistrationHeldOpenIsAnsweredWhenTheNodesCaptureStarts() throws Exception {
    ServerClient api = new ServerClient(URI.create("http://" + NODE + ":" + server.port()), secret);
    List<Disk> disks = List.of(new Disk(disk.toString(), Files.size(disk), false, "", ""));
    assertInstanceOf(
        Assignment.None.class,
        api.register(MAC.toString(), disks, 1, 1L << 30),
        "without a hold: nothing to do, at once");
    ExecutorService asker = Executors.newSingleThreadExecutor();
    try {
      Future<Assignment> held =
          asker.submit(
              () -> api.register(MAC.toString(), disks, 1, 1L << 30, Duration.ofSeconds(20)));
      await().atMost(Duration.ofSeconds(10)).until(() -> waiters.held() == 1);
      assertFalse(held.isDone(), "held while the node has nothing to do");
      captures.start("held", "golden", Optional.of(disk.toString()), false, 3, Optional.empty());
      Assignment a = held.get(10, TimeUnit.SECONDS);
      assertInstanceOf(Assignment.Capture.class, a);
      assertEquals("held", ((Assignment.Capture) a).image());
      assertEquals(0, waiters.held());
    } finally {
      asker.shutdownNow();
    }
  }

  /** Marks and registers a capture of the golden disk into {@code name}, then runs the agent. */
  private CaptureUploader.Result capture(String name, Optional<String> from) throws Exception {
    captures.start(name, "golden", Optional.of(disk.toString()), false, 3, from);
    CaptureManager.Assignment a =
        captures
            .assignment(
                MAC, FROM, List.of(new Disk(disk.toString(), Files.size(disk), false, "", "")))
            .orElseThrow();
    Assignment.Capture c = (Assignment.Capture) AgentRoutes.captureAssignment(a);
    ServerClient api = new ServerClient(URI.create("http://" + NODE + ":" + server.port()), secret);
    return new CaptureUploader(
            api,
            new CaptureUploader.Settings(
                c,
                MAC.toString(),
                disk,
                AllocationMap.whole(Files.size(disk)),
                2,
                Duration.ofSeconds(30)))
        .run();
  }

  @Test
  void anUpdateSendsTheChangedChunksBytesAndReferencesForTheRest() throws Exception {
    CaptureUploader.Result v1 = capture("v1", Optional.empty());
    assertEquals(0, v1.referenced(), "nothing to refer to");
    int stored = 0;
    for (ChunkEntry e : v1.manifest().chunks()) if (e.kind().isStored()) stored++;
    assertEquals(stored, v1.uploaded());

    // The update: two chunks rewritten; and one chunk of v1 lost from the pool (damage), which
    // the daemon must not take on the agent's word.
    Random rnd = new Random(4);
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      for (int c : new int[] {6, 11}) {
        byte[] b = new byte[64 * 1024];
        rnd.nextBytes(b);
        f.seek((long) c * CHUNK + 4096);
        f.write(b);
      }
    }
    Sha256 lost = v1.manifest().chunk(8).sha256();
    Files.delete(images.pool().path(lost));

    CaptureUploader.Result v2 = capture("v2", Optional.of("v1"));
    Manifest want = ImageCreator.create(disk, dir.resolve("v2.cci"), CHUNK, 3, 2, p -> {});
    List<Integer> sent = List.of(6, 8, 11);
    long sentBytes = 0;
    for (int c : sent) sentBytes += want.chunk(c).storedLength();
    assertEquals(3, v2.uploaded(), "the two changed chunks and the one the pool lost");
    assertEquals(sentBytes, v2.uploadedBytes(), "only their bytes went");
    assertEquals(1, v2.referencesRefused());
    assertEquals(stored - 3, v2.referenced());
    assertEquals(want.storedBytes() - sentBytes, v2.referencedBytes(), "the rest did not go");

    assertEquals("ready", images.find("v2").orElseThrow().state());
    try (ChunkSource r = images.open("v2")) {
      List<Sha256> got = new ArrayList<>();
      List<Sha256> expected = new ArrayList<>();
      for (int i = 0; i < want.chunkCount(); i++) {
        got.add(r.manifest().chunk(i).sha256());
        expected.add(want.chunk(i).sha256());
      }
      assertEquals(expected, got, "v2 holds the updated disk");
      ImageVerifier.verify(r, 2, ProgressListener.NONE);
    }
    assertTrue(images.pool().length(lost) > 0, "the lost chunk is in the pool again, from v2");
  }
}

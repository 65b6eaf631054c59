package org.clonecast.server.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.CaptureStore;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent calls over real HTTP on loopback, node01 in a session: a caller without node01's
 * per-boot secret (none, a guessed one, another node's, a revoked one) can neither register, nor
 * report progress or a result, nor publish a host key; the node with its secret can, also again
 * after an agent restart and after a daemon restart.
 */
class AgentRoutesTest {
  static final MacAddress NODE01 = MacAddress.parse("52:54:00:00:01:01");
  static final MacAddress NODE02 = MacAddress.parse("52:54:00:00:01:02");
  static final String ROGUE_KEY =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRogueRogueRogueRogueRogueRogueRogueRogue";
  static final String REAL_KEY =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRealRealRealRealRealRealRealRealRealRe";
  @TempDir Path dir;
  Database db;
  EventLoopGroup group;
  HttpServer server;
  ExecutorService worker;
  NodeStore nodes;
  SessionStore sessionStore;
  ImageStore images;
  SessionManager sessions;
  CaptureManager captures;
  NodeSecrets secrets;
  long session;
  final HttpClient client = HttpClient.newHttpClient();

  @BeforeEach
  void setUp() throws Exception {
    start();
    Path disk = dir.resolve("golden.img");
    byte[] d = new byte[3 << 20];
    new Random(3).nextBytes(d);
    Files.write(disk, d);
    images.add("golden", disk);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> !images.find("golden").orElseThrow().state().equals("adding"));
    assertTrue(images.find("golden").orElseThrow().ready(), images.find("golden").toString());
    Node n1 = nodes.enroll(NODE01, "node01", Optional.of("rack1"));
    nodes.enroll(NODE02, "node02", Optional.of("rack1"));
    nodes.update(
        NODE01,
        new NodeStore.Change(
            Optional.empty(),
            Optional.empty(),
            Optional.empty(),
            Optional.empty(),
            Optional.of(Optional.of("/dev/null-target"))));
    session =
        sessionStore
            .create("golden", "rack1", 1, 60, 9000, List.of(nodes.find(NODE01).orElse(n1)), false)
            .id();
    nodes.markForSession(NODE01, session);
  }

  void start() throws Exception {
    db = Database.open(dir.resolve("state"));
    nodes = new NodeStore(db, Clock.systemUTC());
    EventLog events = new EventLog(db, Clock.systemUTC());
    worker = Executors.newSingleThreadExecutor();
    images = new ImageStore(db, dir.resolve("state/images"), Clock.systemUTC(), events, worker);
    images.recover();
    sessionStore = new SessionStore(db, Clock.systemUTC());
    sessions =
        new SessionManager(
            sessionStore,
            nodes,
            images,
            events,
            NetInterface.byName("lo"),
            9000,
            Duration.ofSeconds(30),
            Optional.empty());
    captures =
        new CaptureManager(
            new CaptureStore(db, Clock.systemUTC()), images, nodes, sessionStore, events);
    secrets = new NodeSecrets(db, Clock.systemUTC());
    HttpServer.Routes routes = new HttpServer.Routes();
    new AgentRoutes(
            sessions,
            captures,
            nodes,
            Optional.of("cluster.internal"),
            dir.resolve("node-files"),
            new NodeAuth(secrets))
        .register(routes);
    group = Transport.group(1, "agent-test");
    server =
        HttpServer.start(
            group,
            (Inet4Address) InetAddress.getByName("127.0.0.2"),
            0,
            false,
            ApiToken.loadOrCreate(dir.resolve("state")),
            routes,
            new HttpServer.Limits(Duration.ofSeconds(60), 4096, 64));
  }

  @AfterEach
  void stop() {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    sessions.close();
    captures.close();
    worker.shutdownNow();
    db.close();
  }

  private HttpResponse<String> post(String call, String body, String authorization)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.2:" + server.port() + "/agent/v1/" + call))
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) b.header("Authorization", authorization);
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String register(MacAddress mac) {
    return "{\"mac\":\""
        + mac
        + "\",\"disks\":[{\"path\":\"/dev/vda\",\"size\":1073741824,\"removable\":false}]}";
  }

  private String result(boolean ok, String key) {
    return "{\"mac\":\""
        + NODE01
        + "\",\"session\":"
        + session
        + ",\"ok\":"
        + ok
        + ",\"detail\":\"forged\",\"sshHostKey\":\""
        + key
        + "\"}";
  }

  private String member() {
    return sessionStore.members(session).get(0).state();
  }

  private String knownHosts() throws Exception {
    return client
        .send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.2:" + server.port() + "/boot/known_hosts"))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  @Test
  void withoutTheNodesSecretNothingChanges() throws Exception {
    String real = secrets.issue(NODE01);
    String other = secrets.issue(NODE02);
    Node before = nodes.find(NODE01).orElseThrow();
    List<String> forged =
        Arrays.asList(
            null,
            "Clonecast",
            "Clonecast " + "0".repeat(32),
            "Clonecast " + other,
            "Bearer " + real,
            "Clonecast " + real.toUpperCase(Locale.ROOT),
            "Clonecast " + real + "0");
    for (String auth : forged) {
      for (String[] call :
          List.of(
              new String[] {"register", register(NODE01)},
              new String[] {
                "progress",
                "{\"mac\":\""
                    + NODE01
                    + "\",\"session\":"
                    + session
                    + ",\"phase\":\"receiving\",\"done\":5,\"total\":9}"
              },
              new String[] {"result", result(true, ROGUE_KEY)},
              new String[] {"result", result(false, ROGUE_KEY)})) {
        HttpResponse<String> r = post(call[0], call[1], auth);
        assertEquals(403, r.statusCode(), call[0] + " with " + auth + ": " + r.body());
      }
    }
    assertEquals("waiting", member(), "no forged call moved node01 in its session");
    Node after = nodes.find(NODE01).orElseThrow();
    assertEquals(before.ip(), after.ip(), "nor its address");
    assertEquals(before.state(), after.state());
    assertTrue(after.sshHostKey().isEmpty(), "nor published a key");
    assertFalse(knownHosts().contains("node01"), knownHosts());
  }

  @Test
  void theNodeWithItsSecretRegistersAgainReportsAndAloneNamesItsKey() throws Exception {
    String stale = secrets.issue(NODE01);
    String real = secrets.issue(NODE01);
    assertEquals(
        403,
        post("register", register(NODE01), "Clonecast " + stale).statusCode(),
        "a revoked secret counts no more");
    HttpResponse<String> r = post("register", register(NODE01), "Clonecast " + real);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"reimage\""), r.body());
    // An agent restart registers again with the same secret; so does one after a daemon restart.
    assertEquals(200, post("register", register(NODE01), "Clonecast " + real).statusCode());
    stop();
    start();
    assertEquals(
        200,
        post(
                "progress",
                "{\"mac\":\""
                    + NODE01
                    + "\",\"session\":"
                    + session
                    + ",\"phase\":\"receiving\",\"done\":5,\"total\":9}",
                "Clonecast " + real)
            .statusCode());
    assertEquals(
        400,
        post(
                "progress",
                "{\"mac\":\"" + NODE01 + "\",\"session\":" + session + ",\"phase\":\"done\"}",
                "Clonecast " + real)
            .statusCode(),
        "a progress report cannot end a node");
    assertEquals("receiving", member());
    assertEquals(
        403,
        post("result", result(true, ROGUE_KEY), "Clonecast " + secrets.issue(NODE02)).statusCode());
    assertEquals(200, post("result", result(true, REAL_KEY), "Clonecast " + real).statusCode());
    assertEquals("done", member());
    assertEquals(Optional.of(REAL_KEY), nodes.find(NODE01).orElseThrow().sshHostKey());
    String hosts = knownHosts();
    assertTrue(
        hosts.contains("node01,node01.cluster.internal") && hosts.contains(REAL_KEY.split(" ")[1]),
        hosts);
    assertFalse(hosts.contains("Rogue"), hosts);
  }
}

package org.clonecast.server.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.session.NodeWaiters;
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
  NodeWaiters waiters;
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
    // Two held registrations at most, so that the bound is reached with three nodes.
    waiters = new NodeWaiters(Duration.ofSeconds(20), 2);
    sessions.waking(waiters);
    captures =
        new CaptureManager(
                new CaptureStore(db, Clock.systemUTC()), images, nodes, sessionStore, events)
            .waking(waiters);
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

  private CompletableFuture<HttpResponse<String>> registerAsync(
      MacAddress mac, String query, String secret) {
    return client.sendAsync(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.2:" + server.port() + "/agent/v1/register" + query))
            .header("Authorization", "Clonecast " + secret)
            .POST(HttpRequest.BodyPublishers.ofString(register(mac)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aHeldRegistrationIsAnsweredWhenASessionThatIncludesTheNodeStarts() throws Exception {
    String node02 = secrets.issue(NODE02);
    // Without the parameter (an older agent): "nothing to do" at once, nothing held.
    HttpResponse<String> now = post("register", register(NODE02), "Clonecast " + node02);
    assertEquals(200, now.statusCode(), now.body());
    assertTrue(now.body().contains("\"none\""), now.body());
    assertEquals(0, waiters.held());
    CompletableFuture<HttpResponse<String>> held = registerAsync(NODE02, "?wait=20", node02);
    await().atMost(Duration.ofSeconds(10)).until(() -> waiters.held() == 1);
    assertFalse(held.isDone(), "held while node02 has nothing to do");
    sessions.start("golden", "node02", 0, Duration.ofSeconds(60), false);
    HttpResponse<String> r = held.get(10, TimeUnit.SECONDS);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"reimage\""), r.body());
    assertEquals(0, waiters.held(), "its place freed");
  }

  @Test
  void aHoldThatRunsOutIsAnsweredNothingToDo() throws Exception {
    String node02 = secrets.issue(NODE02);
    HttpResponse<String> r = registerAsync(NODE02, "?wait=1", node02).get(30, TimeUnit.SECONDS);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"none\""), r.body());
    assertEquals(0, waiters.held());
  }

  @Test
  void heldRegistrationsAreBoundedAndANodeThatGoesAwayFreesItsPlace() throws Exception {
    MacAddress node03 = MacAddress.parse("52:54:00:00:01:03");
    nodes.enroll(node03, "node03", Optional.of("rack2"));
    String s2 = secrets.issue(NODE02);
    String s3 = secrets.issue(node03);
    // node02 asks twice over a raw connection: its second hold ends its first, one place taken.
    try (Socket raw = new Socket(InetAddress.getByName("127.0.0.2"), server.port())) {
      byte[] body = register(NODE02).getBytes(StandardCharsets.UTF_8);
      String head =
          "POST /agent/v1/register?wait=20 HTTP/1.1\r\nHost: x\r\nAuthorization: Clonecast "
              + s2
              + "\r\nContent-Type: application/json\r\nContent-Length: "
              + body.length
              + "\r\n\r\n";
      raw.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
      raw.getOutputStream().write(body);
      raw.getOutputStream().flush();
      await().atMost(Duration.ofSeconds(10)).until(() -> waiters.held() == 1);
      CompletableFuture<HttpResponse<String>> second = registerAsync(node03, "?wait=20", s3);
      await().atMost(Duration.ofSeconds(10)).until(() -> waiters.held() == 2);
      // The bound reached: a third is answered at once (its agent asks again in a second).
      HttpResponse<String> third = post("register?wait=20", register(NODE02), "Clonecast " + s2);
      assertEquals(200, third.statusCode(), third.body());
      assertTrue(third.body().contains("\"none\""), third.body());
      assertEquals(1, waiters.refused());
      second.cancel(true);
    }
    // The raw connection closed: its hold is given up, not kept until it runs out.
    await().atMost(Duration.ofSeconds(10)).until(() -> waiters.held() <= 1);
  }

  @Test
  void aBogusWaitIsRefusedAndALongOneClamped() throws Exception {
    String node02 = secrets.issue(NODE02);
    for (String bad : List.of("abc", "-1", "1.5", "", "99999999999999999999999")) {
      HttpResponse<String> r =
          post(
              "register?wait=" + URLEncoder.encode(bad, StandardCharsets.UTF_8),
              register(NODE02),
              "Clonecast " + node02);
      assertEquals(400, r.statusCode(), bad + ": " + r.body());
      assertTrue(r.body().contains("wait '" + bad + "'"), r.body());
    }
    assertEquals(0, waiters.held(), "nothing held for a refused call");
    Request huge =
        new Request(
            HttpMethod.POST,
            "/agent/v1/register",
            Map.of("wait", List.of("86400")),
            new DefaultHttpHeaders(),
            new byte[0],
            new InetSocketAddress(0),
            false);
    assertEquals(Duration.ofSeconds(20), AgentRoutes.wait(huge, Duration.ofSeconds(20)));
    assertEquals(
        Duration.ZERO,
        AgentRoutes.wait(
            new Request(
                HttpMethod.POST,
                "/agent/v1/register",
                Map.of(),
                new DefaultHttpHeaders(),
                new byte[0],
                new InetSocketAddress(0),
                false),
            Duration.ofSeconds(20)));
  }
}

package org.clonecast.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.BootPolicy;
import org.clonecast.server.boot.BootenvInstaller;
import org.clonecast.server.boot.BootenvStatus;
import org.clonecast.server.boot.NodeBinding;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.dhcp.DhcpResponder;
import org.clonecast.server.limit.RateLimiter;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP server on loopback: 127.0.0.1 is the operator's side, 127.0.0.2 stands for the
 * provisioning address.
 */
class HttpServerTest {
  @TempDir Path dir;
  Database db;
  EventLoopGroup group;
  HttpServer server;
  String token;
  byte[] file;
  NodeStore nodes;
  EventLog events;
  final HttpClient client = HttpClient.newHttpClient();
  final AtomicLong nanos = new AtomicLong();

  /** Ten script requests a minute per address recorded, a burst of ten. */
  final RateLimiter<InetAddress> seen =
      new RateLimiter<>(new RateLimiter.Limits(10 / 60.0, 10, 100, 100, 16), nanos::get);

  @BeforeEach
  void start() throws Exception {
    db = Database.open(dir);
    nodes = new NodeStore(db, Clock.systemUTC(), 8);
    events = new EventLog(db, Clock.systemUTC());
    Path ipxe = Files.createDirectories(dir.resolve("ipxe"));
    file = new byte[100_000];
    Arrays.fill(file, 50_000, 100_000, (byte) 7);
    Files.write(ipxe.resolve("ipxe.efi"), file);
    HttpServer.Routes routes = new HttpServer.Routes();
    new BootRoutes(
            new BootPolicy(nodes, ""),
            nodes,
            events,
            ipxe,
            dir.resolve("bootenv"),
            () -> "http://127.0.0.2:1",
            () ->
                BootenvInstaller.ready(dir.resolve("bootenv"))
                    ? new BootenvStatus.Ready()
                    : new BootenvStatus.Missing(
                        "no netboot environment; run 'clonecast bootenv build'"),
            seen,
            new NodeBinding(DhcpConfig.Mode.OFF, nodes, Optional.empty(), Clock.systemUTC()),
            new NodeSecrets(db, Clock.systemUTC()))
        .register(routes);
    Inet4Address self = Ipv4.parse("10.77.0.1");
    new NodeRoutes(
            nodes,
            events,
            ip -> DhcpResponder.reservationProblem(DhcpConfig.defaults(), self, 24, ip))
        .register(routes);
    new EventRoutes(events).register(routes);
    group = Transport.group(1, "http-test");
    ApiToken t = ApiToken.loadOrCreate(dir);
    token = Files.readString(dir.resolve(ApiToken.FILE_NAME)).trim();
    server =
        HttpServer.start(
            group,
            (Inet4Address) InetAddress.getByName("127.0.0.2"),
            0,
            false,
            t,
            routes,
            new HttpServer.Limits(Duration.ofSeconds(60), 4096, 64));
  }

  @AfterEach
  void stop() {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    db.close();
  }

  private HttpResponse<String> send(
      String host, String method, String path, String body, String auth) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://" + host + ":" + server.port() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (auth != null) {
      b.header("Authorization", auth);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void enrollNeedsTheTokenAndShowsInTheList() throws Exception {
    String body = "{\"mac\":\"52:54:00:00:00:01\",\"name\":\"node01\"}";
    assertEquals(401, send("127.0.0.1", "POST", "/api/v1/nodes", body, null).statusCode());
    assertEquals(
        401, send("127.0.0.1", "POST", "/api/v1/nodes", body, "Bearer wrong").statusCode());
    assertEquals(
        201, send("127.0.0.1", "POST", "/api/v1/nodes", body, "Bearer " + token).statusCode());
    assertEquals(
        409, send("127.0.0.1", "POST", "/api/v1/nodes", body, "Bearer " + token).statusCode());
    HttpResponse<String> list = send("127.0.0.1", "GET", "/api/v1/nodes", null, null);
    assertTrue(list.body().contains("\"node01\""), list.body());
    HttpResponse<String> bad =
        send(
            "127.0.0.1",
            "PATCH",
            "/api/v1/nodes/52:54:00:00:00:01",
            "{\"action\":\"wipe\"}",
            "Bearer " + token);
    assertEquals(400, bad.statusCode());
    assertTrue(bad.body().contains("use reimage or local"), bad.body());
    assertEquals(
        400,
        send("127.0.0.1", "POST", "/api/v1/nodes", "{not json", "Bearer " + token).statusCode());
    assertEquals(
        404, send("127.0.0.1", "GET", "/api/v1/nodes/52:54:00:00:00:99", null, null).statusCode());
  }

  @Test
  void reservedAddressesMustBeHostsOfTheDhcpSubnet() throws Exception {
    String auth = "Bearer " + token;
    HttpResponse<String> outside =
        send(
            "127.0.0.1",
            "POST",
            "/api/v1/nodes",
            "{\"mac\":\"52:54:00:00:00:01\",\"name\":\"node01\",\"ip\":\"10.9.0.5\"}",
            auth);
    assertEquals(400, outside.statusCode());
    assertTrue(outside.body().contains("outside the DHCP subnets 10.77.0.0/24"), outside.body());
    HttpResponse<String> server =
        send(
            "127.0.0.1",
            "POST",
            "/api/v1/nodes",
            "{\"mac\":\"52:54:00:00:00:01\",\"name\":\"node01\",\"ip\":\"10.77.0.1\"}",
            auth);
    assertEquals(400, server.statusCode());
    HttpResponse<String> ok =
        send(
            "127.0.0.1",
            "POST",
            "/api/v1/nodes",
            "{\"mac\":\"52:54:00:00:00:01\",\"name\":\"node01\",\"ip\":\"10.77.0.20\"}",
            auth);
    assertEquals(201, ok.statusCode(), ok.body());
    assertTrue(ok.body().replace(" ", "").contains("\"reservedIp\":\"10.77.0.20\""), ok.body());
    HttpResponse<String> taken =
        send(
            "127.0.0.1",
            "POST",
            "/api/v1/nodes",
            "{\"mac\":\"52:54:00:00:00:02\",\"name\":\"node02\",\"ip\":\"10.77.0.20\"}",
            auth);
    assertEquals(409, taken.statusCode());
    HttpResponse<String> dropped =
        send("127.0.0.1", "PATCH", "/api/v1/nodes/52:54:00:00:00:01", "{\"ip\":null}", auth);
    assertTrue(dropped.body().replace(" ", "").contains("\"reservedIp\":null"), dropped.body());
    assertEquals(
        400,
        send(
                "127.0.0.1",
                "PATCH",
                "/api/v1/nodes/52:54:00:00:00:01",
                "{\"ip\":\"10.77.0.x\"}",
                auth)
            .statusCode());
  }

  @Test
  void theApiIsNotOnTheProvisioningAddressButBootScriptsAre() throws Exception {
    assertEquals(403, send("127.0.0.2", "GET", "/api/v1/nodes", null, null).statusCode());
    HttpResponse<String> s = send("127.0.0.2", "GET", "/boot/52-54-00-00-00-01.ipxe", null, null);
    assertEquals(200, s.statusCode());
    assertTrue(s.body().startsWith("#!ipxe\n"), s.body());
    assertEquals(
        404, send("127.0.0.2", "GET", "/boot/files/../api-token", null, null).statusCode());
    assertEquals(404, send("127.0.0.2", "GET", "/boot/files/.hidden", null, null).statusCode());
    assertEquals(404, send("127.0.0.2", "GET", "/bootenv/vmlinuz", null, null).statusCode());
  }

  /**
   * A marked node waits in iPXE (fetching its script again) while no netboot environment is
   * installed, and the event says what to run; once {@code bootenv/current} is a link to a build
   * (as {@code clonecast bootenv build} leaves it), the same node netboots and the files are served
   * through the link.
   */
  @Test
  void aMarkedNodeNetbootsOnlyOnceTheEnvironmentIsInstalled() throws Exception {
    String auth = "Bearer " + token;
    assertEquals(
        201,
        send(
                "127.0.0.1",
                "POST",
                "/api/v1/nodes",
                "{\"mac\":\"52:54:00:00:00:05\",\"name\":\"node05\"}",
                auth)
            .statusCode());
    assertEquals(
        200,
        send(
                "127.0.0.1",
                "PATCH",
                "/api/v1/nodes/52:54:00:00:00:05",
                "{\"action\":\"reimage\"}",
                auth)
            .statusCode());
    HttpResponse<String> before =
        send("127.0.0.2", "GET", "/boot/52:54:00:00:00:05.ipxe", null, null);
    assertTrue(
        before.body().contains("node05 is marked to re-image, but no netboot environment"),
        before.body());
    assertTrue(
        before
            .body()
            .contains("chain --replace --autofree http://127.0.0.2:1/boot/52:54:00:00:00:05.ipxe"),
        before.body());
    assertTrue(
        events.recent(5).stream()
            .anyMatch(
                e ->
                    e.toString()
                        .contains(
                            "wait for the netboot environment (no netboot"
                                + " environment; run 'clonecast bootenv build')")),
        events.recent(5).toString());

    Path build = Files.createDirectories(dir.resolve("cache/k1"));
    Files.writeString(build.resolve("vmlinuz"), "kernel");
    Files.writeString(build.resolve("initramfs.zst"), "initrd");
    Files.createSymbolicLink(dir.resolve("bootenv"), Path.of("cache/k1"));
    // With DHCP off a node is bound to its reserved address; this one has none yet: no secret, no
    // netboot.
    HttpResponse<String> unbound =
        send("127.0.0.2", "GET", "/boot/52:54:00:00:00:05.ipxe", null, null);
    assertTrue(
        unbound.body().contains("sanboot") && !unbound.body().contains("clonecast.secret"),
        unbound.body());
    MacAddress mac = MacAddress.parse("52:54:00:00:00:05");
    nodes.update(
        mac,
        new NodeStore.Change(
            Optional.empty(),
            Optional.empty(),
            Optional.empty(),
            Optional.of(Optional.of("127.0.0.1")),
            Optional.empty()));
    HttpResponse<String> after =
        send("127.0.0.2", "GET", "/boot/52:54:00:00:00:05.ipxe", null, null);
    assertTrue(
        after.body().contains("/bootenv/vmlinuz")
            && after.body().contains("clonecast.mac=52:54:00:00:00:05"),
        after.body());
    Matcher secret = Pattern.compile("clonecast\\.secret=([0-9a-f]{32}) ").matcher(after.body());
    assertTrue(secret.find(), after.body());
    NodeSecrets secrets = new NodeSecrets(db, Clock.systemUTC());
    assertTrue(
        secrets.verify(mac, Optional.of(secret.group(1))), "the script's secret is the node's");
    send("127.0.0.2", "GET", "/boot/52:54:00:00:00:05.ipxe", null, null);
    assertFalse(
        secrets.verify(mac, Optional.of(secret.group(1))),
        "a new script revokes the previous secret");
    assertEquals("kernel", send("127.0.0.2", "GET", "/bootenv/vmlinuz", null, null).body());
  }

  /**
   * 30 unauthenticated script requests for random MACs: all answered, but only the first ten (the
   * address's burst) recorded, at most 8 discovered nodes kept, and node01's address untouched by a
   * request for its own MAC.
   */
  @Test
  void scriptRequestsForRandomMacsLeaveABoundedTraceAndNeverMoveANode() throws Exception {
    MacAddress node01 = MacAddress.parse("52:54:00:00:00:21");
    nodes.enroll(node01, "node01", Optional.empty());
    nodes.recordSeen(node01, Optional.empty(), Optional.of("10.77.0.21")); // its DHCP lease
    long before = events.recent(1000).size();
    Random rnd = new Random(13);
    for (int i = 0; i < 30; i++) {
      String mac =
          String.format(
              "02:%02x:%02x:%02x:%02x:%02x",
              rnd.nextInt(256),
              rnd.nextInt(256),
              rnd.nextInt(256),
              rnd.nextInt(256),
              rnd.nextInt(256));
      HttpResponse<String> r = send("127.0.0.2", "GET", "/boot/" + mac + ".ipxe", null, null);
      assertEquals(200, r.statusCode());
      assertTrue(r.body().contains("booting the local disk"), r.body());
    }
    assertEquals(8, nodes.list().stream().filter(n -> !n.enrolled()).count(), "capped");
    assertEquals(10, events.recent(1000).size() - before, "one event per recorded request only");
    assertEquals(20, seen.refused());

    nanos.addAndGet(60_000_000_000L); // a minute later the address may leave ten traces again
    assertEquals(
        200, send("127.0.0.2", "GET", "/boot/" + node01 + ".ipxe", null, null).statusCode());
    Node n = nodes.find(node01).orElseThrow();
    assertEquals(
        Optional.of("10.77.0.21"), n.ip(), "a script request from 127.0.0.1 does not move node01");
    assertTrue(
        events.recent(1).get(0).toString().contains(node01.toString()), "recorded, not moved");
  }

  @Test
  void filesHonourRanges() throws Exception {
    URI u = URI.create("http://127.0.0.2:" + server.port() + "/boot/files/ipxe.efi");
    HttpResponse<byte[]> whole =
        client.send(HttpRequest.newBuilder(u).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, whole.statusCode());
    assertArrayEquals(file, whole.body());
    HttpResponse<byte[]> part =
        client.send(
            HttpRequest.newBuilder(u).header("Range", "bytes=49990-50009").build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(206, part.statusCode());
    assertEquals(
        "bytes 49990-50009/100000", part.headers().firstValue("Content-Range").orElseThrow());
    assertArrayEquals(Arrays.copyOfRange(file, 49990, 50010), part.body());
    HttpResponse<byte[]> outside =
        client.send(
            HttpRequest.newBuilder(u).header("Range", "bytes=100000-").build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(416, outside.statusCode());
  }
}

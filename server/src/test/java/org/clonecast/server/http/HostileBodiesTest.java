package org.clonecast.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.clonecast.common.api.Disk;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.dhcp.DhcpResponder;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.CaptureStore;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;

/**
 * Hostile bodies on every agent route and every mutating {@code /api/v1} route of a real {@link
 * HttpServer} on loopback, with the daemon's stores behind it: node01 waits in a session, a golden
 * node's capture is under way, and each call is made with and without the credential (the node's
 * secret, the API token). Random bytes, random JSON trees, and the calls' own bodies with one field
 * of a wrong type, a huge number or deep nesting: never a 5xx; every 4xx leaves the node, session,
 * image, capture and event tables as they were; and a body that is not the call's shape always gets
 * a 4xx.
 */
class HostileBodiesTest {
  static final MacAddress NODE01 = MacAddress.parse("52:54:00:00:01:01");
  static final MacAddress GOLDEN = MacAddress.parse("52:54:00:00:09:01");

  /** The provisioning address stands in as 127.0.0.2, the operator's side is 127.0.0.1. */
  static final String NODE_HOST = "127.0.0.2";

  static Path dir;
  static Database db;
  static EventLoopGroup group;
  static HttpServer server;
  static ExecutorService worker;
  static SessionManager sessions;
  static LiveFeed feed;
  static CaptureManager captures;
  static String token;
  static String node01Secret;
  static String goldenSecret;
  static long session;
  static long capture;
  static List<Call> calls;
  static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** A field's JSON type, to know which values are wrong for it. */
  enum Type {
    TEXT,
    NUMBER,
    BOOL,
    DISKS
  }

  /**
   * One call: its method and path, where it is made, its credential, and its body's fields (the
   * valid body; empty for calls that take none).
   */
  record Call(
      String method,
      String host,
      String path,
      Optional<String> authorization,
      Map<String, Type> fields,
      Map<String, String> valid) {
    @Override
    public String toString() {
      return method
          + " "
          + path
          + (authorization.isPresent() ? " (with credential)" : " (without)");
    }
  }

  @BeforeContainer
  static void start() throws Exception {
    dir = Files.createTempDirectory("hostile-bodies");
    db = Database.open(dir.resolve("state"));
    NodeStore nodes = new NodeStore(db, Clock.systemUTC());
    EventLog events = new EventLog(db, Clock.systemUTC());
    worker = Executors.newSingleThreadExecutor();
    ImageStore images =
        new ImageStore(db, dir.resolve("state/images"), Clock.systemUTC(), events, worker);
    images.recover();
    SessionStore sessionStore = new SessionStore(db, Clock.systemUTC());
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
    NodeSecrets secrets = new NodeSecrets(db, Clock.systemUTC());
    NodeAuth auth = new NodeAuth(secrets);
    HttpServer.Routes routes = new HttpServer.Routes();
    Inet4Address self = Ipv4.parse("10.77.0.1");
    new NodeRoutes(
            nodes,
            events,
            ip -> DhcpResponder.reservationProblem(DhcpConfig.defaults(), self, 24, ip))
        .register(routes);
    feed =
        new LiveFeed(
                nodes,
                images,
                sessions,
                captures,
                events,
                Clock.systemUTC(),
                Duration.ofMillis(100))
            .start();
    new EventRoutes(events, feed).register(routes);
    new ImageRoutes(images, captures).register(routes);
    new CaptureRoutes(captures, auth).register(routes);
    new SessionRoutes(sessions, id -> {}, feed).register(routes);
    new AgentRoutes(
            sessions,
            captures,
            nodes,
            Optional.of("cluster.internal"),
            dir.resolve("node-files"),
            auth)
        .register(routes);
    group = Transport.group(1, "hostile-test");
    ApiToken t = ApiToken.loadOrCreate(dir.resolve("state"));
    token = Files.readString(dir.resolve("state").resolve(ApiToken.FILE_NAME)).trim();
    server =
        HttpServer.start(
            group,
            (Inet4Address) InetAddress.getByName(NODE_HOST),
            0,
            false,
            t,
            routes,
            new HttpServer.Limits(Duration.ofSeconds(60), 4096, 256));

    Path disk = dir.resolve("golden.img");
    byte[] d = new byte[2 * CaptureManager.CHUNK_SIZE + 77];
    new Random(5).nextBytes(d);
    Files.write(disk, d);
    images.add("golden", disk);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> !images.find("golden").orElseThrow().state().equals("adding"));
    assertTrue(images.find("golden").orElseThrow().ready());
    nodes.enroll(NODE01, "node01", Optional.of("rack1"));
    session =
        sessionStore
            .create(
                "golden", "rack1", 1, 60, 9000, List.of(nodes.find(NODE01).orElseThrow()), false)
            .id();
    nodes.markForSession(NODE01, session);
    node01Secret = secrets.issue(NODE01);
    nodes.enroll(GOLDEN, "golden", Optional.empty());
    goldenSecret = secrets.issue(GOLDEN);
    HttpResponse<String> started =
        send(
            new Call(
                "POST",
                "127.0.0.1",
                "/api/v1/images/capture",
                Optional.of("Bearer " + token),
                Map.of(),
                Map.of()),
            "{\"name\":\"captured\",\"node\":\"golden\"}".getBytes(StandardCharsets.UTF_8));
    assertEquals(202, started.statusCode(), started.body());
    capture =
        captures
            .assignment(
                GOLDEN, NODE_HOST, List.of(new Disk(disk.toString(), d.length, false, "", "")))
            .orElseThrow()
            .capture()
            .id();
    calls = calls(d.length);
  }

  @AfterContainer
  static void stop() throws Exception {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    feed.close();
    sessions.close();
    captures.close();
    worker.shutdownNow();
    db.close();
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private static List<Call> calls(long diskSize) {
    String mac01 = "\"" + NODE01 + "\"";
    String macG = "\"" + GOLDEN + "\"";
    Optional<String> node01 = Optional.of("Clonecast " + node01Secret);
    Optional<String> golden = Optional.of("Clonecast " + goldenSecret);
    Optional<String> api = Optional.of("Bearer " + token);
    String cap = "/agent/v1/capture/" + capture + "/";
    List<Call> out = new ArrayList<>();
    for (boolean credential : List.of(true, false)) {
      Optional<String> n = credential ? node01 : Optional.empty();
      Optional<String> g = credential ? golden : Optional.empty();
      Optional<String> a = credential ? api : Optional.empty();
      out.add(
          new Call(
              "POST",
              NODE_HOST,
              "/agent/v1/register",
              n,
              Map.of(
                  "mac",
                  Type.TEXT,
                  "disks",
                  Type.DISKS,
                  "cpus",
                  Type.NUMBER,
                  "memoryBytes",
                  Type.NUMBER),
              Map.of(
                  "mac",
                  mac01,
                  "disks",
                  "[{\"path\":\"/dev/vda\",\"size\":1073741824,\"removable\":false}]",
                  "cpus",
                  "2",
                  "memoryBytes",
                  "1024")));
      out.add(
          new Call(
              "POST",
              NODE_HOST,
              "/agent/v1/progress",
              n,
              Map.of(
                  "mac",
                  Type.TEXT,
                  "session",
                  Type.NUMBER,
                  "phase",
                  Type.TEXT,
                  "done",
                  Type.NUMBER,
                  "total",
                  Type.NUMBER),
              Map.of(
                  "mac",
                  mac01,
                  "session",
                  Long.toString(session),
                  "phase",
                  "\"receiving\"",
                  "done",
                  "5",
                  "total",
                  "9")));
      out.add(
          new Call(
              "POST",
              NODE_HOST,
              "/agent/v1/result",
              n,
              Map.of(
                  "mac",
                  Type.TEXT,
                  "session",
                  Type.NUMBER,
                  "ok",
                  Type.BOOL,
                  "detail",
                  Type.TEXT,
                  "sshHostKey",
                  Type.TEXT),
              Map.of(
                  "mac",
                  mac01,
                  "session",
                  Long.toString(session),
                  "ok",
                  "true",
                  "detail",
                  "\"x\"",
                  "sshHostKey",
                  "\"ssh-ed25519 AAAA\"")));
      out.add(
          new Call(
              "POST",
              NODE_HOST,
              cap + "begin",
              g,
              Map.of("mac", Type.TEXT, "logicalSize", Type.NUMBER, "chunkSize", Type.NUMBER),
              Map.of(
                  "mac",
                  macG,
                  "logicalSize",
                  Long.toString(diskSize),
                  "chunkSize",
                  Integer.toString(CaptureManager.CHUNK_SIZE))));
      out.add(
          new Call(
              "POST",
              NODE_HOST,
              cap + "progress",
              g,
              Map.of("mac", Type.TEXT, "done", Type.NUMBER, "total", Type.NUMBER),
              Map.of("mac", macG, "done", "1", "total", Long.toString(diskSize))));
      out.add(
          new Call(
              "POST",
              NODE_HOST,
              cap + "result",
              g,
              Map.of("mac", Type.TEXT, "ok", Type.BOOL, "detail", Type.TEXT),
              Map.of("mac", macG, "ok", "false", "detail", "\"gave up\"")));
      out.add(
          new Call(
              "POST",
              "127.0.0.1",
              "/api/v1/nodes",
              a,
              Map.of("mac", Type.TEXT, "name", Type.TEXT, "group", Type.TEXT, "ip", Type.TEXT),
              Map.of(
                  "mac",
                  "\"52:54:00:00:07:07\"",
                  "name",
                  "\"node77\"",
                  "group",
                  "\"g\"",
                  "ip",
                  "\"10.77.0.77\"")));
      out.add(
          new Call(
              "PATCH",
              "127.0.0.1",
              "/api/v1/nodes/" + NODE01,
              a,
              Map.of(
                  "name",
                  Type.TEXT,
                  "group",
                  Type.TEXT,
                  "action",
                  Type.TEXT,
                  "ip",
                  Type.TEXT,
                  "targetDisk",
                  Type.TEXT),
              Map.of(
                  "name",
                  "\"node01b\"",
                  "group",
                  "\"g\"",
                  "action",
                  "\"local\"",
                  "ip",
                  "\"10.77.0.78\"",
                  "targetDisk",
                  "\"/dev/vdb\"")));
      out.add(
          new Call(
              "POST",
              "127.0.0.1",
              "/api/v1/images",
              a,
              Map.of("name", Type.TEXT, "source", Type.TEXT),
              Map.of("name", "\"other\"", "source", "\"" + dir.resolve("golden.img") + "\"")));
      out.add(
          new Call(
              "POST",
              "127.0.0.1",
              "/api/v1/images/capture",
              a,
              Map.of(
                  "name",
                  Type.TEXT,
                  "node",
                  Type.TEXT,
                  "disk",
                  Type.TEXT,
                  "force",
                  Type.BOOL,
                  "level",
                  Type.NUMBER),
              Map.of(
                  "name",
                  "\"again\"",
                  "node",
                  "\"node01\"",
                  "disk",
                  "\"/dev/vda\"",
                  "force",
                  "false",
                  "level",
                  "3")));
      out.add(
          new Call(
              "POST",
              "127.0.0.1",
              "/api/v1/sessions",
              a,
              Map.of(
                  "image",
                  Type.TEXT,
                  "nodes",
                  Type.TEXT,
                  "minReceivers",
                  Type.NUMBER,
                  "maxWait",
                  Type.NUMBER),
              Map.of(
                  "image", "\"golden\"", "nodes", "\"all\"", "minReceivers", "1", "maxWait", "5")));
      // Calls that take no body: with the credential only at things that do not exist, so they
      // change nothing whatever the body; without it at the real ones.
      out.add(
          new Call(
              "DELETE",
              "127.0.0.1",
              "/api/v1/nodes/" + (credential ? "52:54:00:00:0f:0f" : NODE01.toString()),
              a,
              Map.of(),
              Map.of()));
      out.add(
          new Call(
              "DELETE",
              "127.0.0.1",
              "/api/v1/images/" + (credential ? "nosuch" : "golden"),
              a,
              Map.of(),
              Map.of()));
      out.add(
          new Call(
              "POST",
              "127.0.0.1",
              "/api/v1/images/" + (credential ? "nosuch" : "captured") + "/cancel",
              a,
              Map.of(),
              Map.of()));
      out.add(
          new Call(
              "POST",
              "127.0.0.1",
              "/api/v1/sessions/" + (credential ? 999_999 : session) + "/cancel",
              a,
              Map.of(),
              Map.of()));
    }
    // Calls whose body is not JSON: an arbitrary chunk or manifest is refused, never stored.
    out.add(new Call("PUT", NODE_HOST, cap + "chunk/0?mac=" + GOLDEN, golden, Map.of(), Map.of()));
    out.add(new Call("POST", NODE_HOST, cap + "finish?mac=" + GOLDEN, golden, Map.of(), Map.of()));
    return List.copyOf(out);
  }

  static HttpResponse<String> send(Call c, byte[] body, String... headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://" + c.host() + ":" + server.port() + c.path()))
            .timeout(Duration.ofSeconds(30))
            .method(c.method(), HttpRequest.BodyPublishers.ofByteArray(body));
    c.authorization().ifPresent(a -> b.header("Authorization", a));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Every row of the tables a call could change, in order. */
  static List<String> tables() {
    return db.read(
        conn -> {
          List<String> rows = new ArrayList<>();
          for (String t :
              List.of("nodes", "sessions", "session_nodes", "images", "captures", "events")) {
            try (Statement s = conn.createStatement();
                ResultSet r = s.executeQuery("SELECT * FROM " + t + " ORDER BY rowid")) {
              int n = r.getMetaData().getColumnCount();
              while (r.next()) {
                StringBuilder sb = new StringBuilder(t);
                for (int i = 1; i <= n; i++) {
                  sb.append('|').append(r.getString(i));
                }
                rows.add(sb.toString());
              }
            }
          }
          return rows;
        });
  }

  /** Sends {@code body}: never a 5xx, and a 4xx changes nothing. Returns the status. */
  static int refusedOrHarmless(Call c, byte[] body, String... headers) throws Exception {
    List<String> before = tables();
    HttpResponse<String> r = send(c, body, headers);
    String what = c + " with " + preview(body) + ": " + r.statusCode() + " " + r.body();
    assertTrue(r.statusCode() < 500, what);
    if (r.statusCode() >= 400) {
      assertEquals(before, tables(), "a refused call changed the store: " + what);
    }
    return r.statusCode();
  }

  /** Sends a body that is not the call's shape: a 4xx, and nothing changed. */
  static void refused(Call c, byte[] body, String... headers) throws Exception {
    int status = refusedOrHarmless(c, body, headers);
    assertTrue(status >= 400 && status < 500, c + " with " + preview(body) + ": " + status);
  }

  private static String preview(byte[] body) {
    String s = new String(body, StandardCharsets.UTF_8);
    return s.length() > 300 ? s.substring(0, 300) + "... (" + body.length + " bytes)" : s;
  }

  @Property(tries = 60)
  void randomBytesAreRefused(@ForAll("bytes") byte[] body) throws Exception {
    for (Call c : calls) {
      if (c.path().contains("/chunk/")) {
        // A chunk is any bytes; what makes an arbitrary one hostile is that it does not match its
        // hash.
        refused(c, body, CaptureRoutes.KIND, "1", CaptureRoutes.SHA256, "ab".repeat(32));
      } else if (isJson(body)) {
        refusedOrHarmless(c, body);
      } else {
        refused(c, body);
      }
    }
  }

  @Property(tries = 60)
  void randomJsonIsNeverA5xxAndARefusalChangesNothing(@ForAll("trees") String body)
      throws Exception {
    for (Call c : calls) {
      refusedOrHarmless(c, body.getBytes(StandardCharsets.UTF_8));
    }
  }

  @Property(tries = 80)
  void aFieldOfTheWrongTypeIsRefused(
      @ForAll("calls") Call c,
      @ForAll("wrong") Map<Type, String> wrong,
      @ForAll("fieldIndex") int pick)
      throws Exception {
    if (c.fields().isEmpty()) {
      return;
    }
    List<String> names = new ArrayList<>(new TreeSet<>(c.fields().keySet()));
    String field = names.get(pick % names.size());
    StringBuilder sb = new StringBuilder("{");
    for (String f : names) {
      String v = f.equals(field) ? wrong.get(c.fields().get(f)) : c.valid().get(f);
      sb.append(sb.length() == 1 ? "" : ",").append('"').append(f).append("\":").append(v);
    }
    refused(c, sb.append('}').toString().getBytes(StandardCharsets.UTF_8));
  }

  @Provide
  Arbitrary<byte[]> bytes() {
    return Arbitraries.oneOf(
        Arbitraries.bytes().array(byte[].class).ofMaxSize(512),
        Arbitraries.strings().ascii().ofMaxLength(200).map(s -> s.getBytes(StandardCharsets.UTF_8)),
        Arbitraries.of(
                "{", "[]", "null", "\"x\"", "{\"mac\":", "{}{}", "\u0000", "{\"a\":1}garbage")
            .map(s -> s.getBytes(StandardCharsets.UTF_8)));
  }

  @Provide
  Arbitrary<Call> calls() {
    return Arbitraries.of(calls);
  }

  @Provide
  Arbitrary<Integer> fieldIndex() {
    return Arbitraries.integers().between(0, 16);
  }

  /** JSON trees, nesting bounded, whose keys are mostly the calls' own field names. */
  @Provide
  Arbitrary<String> trees() {
    return tree(4);
  }

  private Arbitrary<String> tree(int depth) {
    Arbitrary<String> scalar =
        Arbitraries.oneOf(
            Arbitraries.of(
                "null",
                "true",
                "false",
                "0",
                "-1",
                "1e400",
                "123456789012345678901234567890",
                "0.5",
                "\"\"",
                "\"" + NODE01 + "\"",
                "\"" + GOLDEN + "\"",
                "\"receiving\"",
                "\"identity\"",
                "\"reimage\"",
                "\"local\"",
                "\"golden\"",
                "\"all\"",
                Long.toString(session),
                Long.toString(Long.MIN_VALUE)),
            Arbitraries.strings().ofMaxLength(12).map(s -> Json.MAPPER.valueToTree(s).toString()),
            Arbitraries.longs().map(Object::toString));
    if (depth == 0) {
      return scalar;
    }
    Arbitrary<String> key =
        Arbitraries.oneOf(
            Arbitraries.of(
                "mac",
                "disks",
                "cpus",
                "memoryBytes",
                "session",
                "phase",
                "done",
                "total",
                "ok",
                "detail",
                "sshHostKey",
                "logicalSize",
                "chunkSize",
                "name",
                "group",
                "ip",
                "action",
                "targetDisk",
                "source",
                "node",
                "disk",
                "force",
                "level",
                "image",
                "nodes",
                "minReceivers",
                "maxWait",
                "path",
                "size"),
            Arbitraries.strings().alpha().ofMaxLength(6));
    Arbitrary<String> child = Arbitraries.lazy(() -> tree(depth - 1));
    Arbitrary<String> object =
        Combinators.combine(key.list().ofMaxSize(6), child.list().ofSize(6))
            .as(
                (ks, vs) -> {
                  StringBuilder sb = new StringBuilder("{");
                  for (int i = 0; i < ks.size(); i++) {
                    sb.append(i == 0 ? "" : ",")
                        .append(Json.MAPPER.valueToTree(ks.get(i)).toString())
                        .append(':')
                        .append(vs.get(i));
                  }
                  return sb.append('}').toString();
                });
    Arbitrary<String> array = child.list().ofMaxSize(4).map(vs -> "[" + String.join(",", vs) + "]");
    return depth == 4
        ? Arbitraries.frequencyOf(Tuple.of(8, object), Tuple.of(1, array), Tuple.of(1, scalar))
        : Arbitraries.oneOf(scalar, object, array);
  }

  /**
   * For each field type a value that is not of it: other types, huge or fractional numbers, deep
   * nesting.
   */
  @Provide
  Arbitrary<Map<Type, String>> wrong() {
    Arbitrary<String> deep =
        Arbitraries.integers().between(1, 3000).map(n -> "[".repeat(n) + "]".repeat(n));
    Arbitrary<String> deepObject =
        Arbitraries.integers().between(1, 3000).map(n -> "{\"a\":".repeat(n) + "1" + "}".repeat(n));
    Arbitrary<String> text =
        Arbitraries.oneOf(
            Arbitraries.of("1", "-5", "true", "[]", "{}", "1e400", "[\"x\"]", "{\"x\":\"y\"}"),
            deep,
            deepObject,
            Arbitraries.longs().map(Object::toString));
    Arbitrary<String> number =
        Arbitraries.oneOf(
            Arbitraries.of(
                "\"1\"",
                "true",
                "[]",
                "{}",
                "1e400",
                "0.5",
                "-0.0e1",
                "99999999999999999999999",
                "-99999999999999999999999",
                "\"\"",
                "[1]"),
            deep,
            deepObject);
    Arbitrary<String> bool =
        Arbitraries.oneOf(
            Arbitraries.of("\"true\"", "1", "0", "[]", "{}", "[true]", "\"\""), deep, deepObject);
    Arbitrary<String> disks =
        Arbitraries.oneOf(
            Arbitraries.of(
                "\"/dev/vda\"",
                "1",
                "true",
                "{}",
                "[5]",
                "[{\"path\":5}]",
                "[{\"size\":1}]",
                "[{\"path\":\"/dev/vda\",\"size\":\"big\"}]",
                "[{\"path\":\"/dev/vda\",\"removable\":1}]"),
            deepObject);
    return Combinators.combine(text, number, bool, disks)
        .as((t, n, b, d) -> Map.of(Type.TEXT, t, Type.NUMBER, n, Type.BOOL, b, Type.DISKS, d));
  }

  private static boolean isJson(byte[] body) {
    try {
      Json.MAPPER.readTree(body);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}

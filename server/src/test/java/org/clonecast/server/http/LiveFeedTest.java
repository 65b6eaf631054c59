package org.clonecast.server.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.CaptureStore;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pushed event streams over real HTTP on loopback: a page gets the inventory once and then only
 * what changed, progress ticks reach it without touching the database, the event log's and a
 * session's streams, a client that stops reading is dropped without stalling the feed, and (the
 * load figures in docs/dashboard.md) 500 nodes with a simulated 64-node session cost the same
 * messages whatever the number of open pages. The feed's rounds are driven by hand ({@link
 * LiveFeed#tick}), so nothing here depends on timing.
 */
class LiveFeedTest {
  @TempDir Path dir;
  Database db;
  NodeStore nodes;
  EventLog events;
  SessionStore store;
  SessionManager sessions;
  CaptureManager captures;
  ExecutorService worker;
  LiveFeed feed;
  HttpServer server;
  EventLoopGroup group;
  final HttpClient http = HttpClient.newHttpClient();
  final List<Stream> streams = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    db = Database.open(dir.resolve("state"));
    nodes = new NodeStore(db, Clock.systemUTC(), 100_000);
    events = new EventLog(db, Clock.systemUTC());
    worker = Executors.newSingleThreadExecutor();
    ImageStore images =
        new ImageStore(db, dir.resolve("state/images"), Clock.systemUTC(), events, worker);
    store = new SessionStore(db, Clock.systemUTC());
    sessions =
        new SessionManager(
            store,
            nodes,
            images,
            events,
            NetInterface.byName("lo"),
            9000,
            Duration.ofSeconds(30),
            Optional.empty());
    captures =
        new CaptureManager(new CaptureStore(db, Clock.systemUTC()), images, nodes, store, events);
    feed =
        new LiveFeed(
            nodes, images, sessions, captures, events, Clock.systemUTC(), Duration.ofMillis(500));
    feed.listen();
    HttpServer.Routes routes = new HttpServer.Routes();
    new DashboardRoutes(feed).register(routes);
    new EventRoutes(events, feed).register(routes);
    new SessionRoutes(sessions, id -> {}, feed).register(routes);
    group = Transport.group(1, "feed-test");
    server =
        HttpServer.start(
            group,
            null,
            0,
            false,
            ApiToken.loadOrCreate(dir.resolve("state")),
            routes,
            new HttpServer.Limits(Duration.ofSeconds(60), 4096, 256));
  }

  @AfterEach
  void stop() {
    streams.forEach(Stream::close);
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    feed.close();
    sessions.close();
    captures.close();
    worker.shutdownNow();
    db.close();
  }

  /** One open event stream, read on its own thread: every event as (name, JSON). */
  final class Stream implements AutoCloseable {
    record Message(String name, JsonNode data) {}

    final List<Message> messages = new CopyOnWriteArrayList<>();
    final AtomicLong bytes = new AtomicLong();
    final AtomicBoolean ended = new AtomicBoolean();
    final Thread reader;
    InputStream in;

    Stream(String path) throws Exception {
      HttpResponse<InputStream> res =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(200, res.statusCode());
      assertEquals(
          "text/event-stream; charset=utf-8", res.headers().firstValue("content-type").orElse(""));
      in = res.body();
      reader = new Thread(this::read, "stream-reader");
      reader.setDaemon(true);
      reader.start();
      streams.add(this);
    }

    private void read() {
      StringBuilder line = new StringBuilder();
      String name = "message";
      StringBuilder data = new StringBuilder();
      try {
        for (int c; (c = in.read()) >= 0; ) {
          bytes.incrementAndGet();
          if (c != '\n') {
            line.append((char) c);
            continue;
          }
          String l = line.toString();
          line.setLength(0);
          if (l.startsWith("event: ")) name = l.substring(7);
          else if (l.startsWith("data: ")) data.append(l.substring(6));
          else if (l.isEmpty() && data.length() > 0) {
            messages.add(new Message(name, Json.MAPPER.readTree(data.toString())));
            data.setLength(0);
            name = "message";
          }
        }
      } catch (IOException e) {
        // closed by the test
      }
      ended.set(true);
    }

    List<JsonNode> named(String name) {
      return messages.stream().filter(m -> m.name().equals(name)).map(Message::data).toList();
    }

    @Override
    public void close() {
      try {
        in.close();
      } catch (IOException e) {
        // already closed
      }
    }
  }

  /**
   * Runs the feed's rounds until {@code done} holds (the stream's request is served on another
   * thread).
   */
  private void tickUntil(Callable<Boolean> done) {
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              feed.tick();
              return done.call();
            });
  }

  private static MacAddress mac(int i) {
    return MacAddress.parse(String.format(Locale.ROOT, "52:54:00:00:%02x:%02x", i >> 8, i & 0xff));
  }

  @Test
  void aPageGetsTheInventoryOnceThenOnlyWhatChanged() throws Exception {
    for (int i = 1; i <= 3; i++) nodes.enroll(mac(i), "node0" + i, Optional.of("rack1"));
    Stream page = new Stream("/api/v1/stream");
    tickUntil(() -> !page.named("state").isEmpty());
    JsonNode first = page.named("state").get(0);
    assertTrue(first.path("all").asBoolean(), first.toString());
    assertEquals(3, first.path("nodes").size(), first.toString());

    nodes.enroll(mac(4), "node04", Optional.of("rack1"));
    events.node("node", mac(4).toString(), "enrolled");
    tickUntil(() -> page.named("state").size() >= 2);
    JsonNode second = page.named("state").get(1);
    assertFalse(second.path("all").asBoolean());
    assertEquals(1, second.path("nodes").size(), "only the new node: " + second);
    assertEquals("node04", second.path("nodes").get(0).path("name").asText());
    // The event is a message of its own, which may come a tick after the state.
    tickUntil(() -> page.named("events").stream().anyMatch(e -> e.toString().contains("enrolled")));
  }

  @Test
  void progressTicksArePushedAndOnlyPhaseChangesStored() throws Exception {
    List<Node> members = new ArrayList<>();
    for (int i = 1; i <= 2; i++)
      members.add(nodes.enroll(mac(i), "node0" + i, Optional.of("rack1")));
    long id = store.create("golden", "rack1", 2, 60, 9000, members, false).id();
    Stream page = new Stream("/api/v1/stream");
    tickUntil(() -> !page.named("state").isEmpty());

    sessions.progress(mac(1), id, "receiving", 0, 1000, 0);
    sessions.progress(mac(1), id, "receiving", 400, 1000, 0);
    tickUntil(
        () ->
            page.named("live").stream()
                .anyMatch(
                    l -> l.toString().contains("[\"" + mac(1) + "\",\"receiving\",400,1000")));
    SessionStore.Member stored = store.members(id).get(0);
    assertEquals("receiving", stored.state());
    assertEquals(0, stored.bytesDone(), "a tick within a phase is not written");
    assertTrue(stored.receivingSince().isPresent());
    assertEquals(400, sessions.members(id).get(0).bytesDone(), "the API shows the live bytes");

    sessions.progress(mac(1), id, "identity", 1000, 1000, 0);
    assertEquals("identity", store.members(id).get(0).state());
    assertEquals(
        1000, store.members(id).get(0).bytesDone(), "a new phase is written with its bytes");
  }

  @Test
  void theEventStreamSendsTheBacklogThenEachNewEvent() throws Exception {
    long first = events.node("node", mac(1).toString(), "one").id();
    events.node("node", mac(2).toString(), "two");
    Stream s = new Stream("/api/v1/events/stream?after=" + first);
    tickUntil(() -> s.messages.size() >= 1);
    events.node("node", mac(3).toString(), "three");
    tickUntil(() -> s.messages.size() >= 2);
    assertEquals(
        List.of("two", "three"),
        s.messages.stream().map(m -> m.data().path("message").asText()).toList());
  }

  @Test
  void aSessionStreamEndsWithTheSession() throws Exception {
    Node n = nodes.enroll(mac(1), "node01", Optional.of("rack1"));
    long id = store.create("golden", "rack1", 1, 60, 9000, List.of(n), false).id();
    Stream s = new Stream("/api/v1/sessions/" + id + "/stream");
    tickUntil(() -> !s.messages.isEmpty());
    assertEquals("waiting", s.messages.get(0).data().path("state").asText());
    store.setState(id, "failed", Optional.of("test"));
    events.record("session", Optional.empty(), Optional.of(Long.toString(id)), "ended failed");
    tickUntil(s.ended::get);
    assertEquals("failed", s.messages.get(s.messages.size() - 1).data().path("state").asText());
  }

  @Test
  void aClientThatDoesNotReadIsDroppedWithoutStallingTheFeed() throws Exception {
    // 2000 events of 8 KiB: far more than the stream's bound and the sockets' buffers.
    String big = "x".repeat(8192);
    List<Event> many =
        db.write(
            c -> {
              List<Event> out = new ArrayList<>();
              for (int i = 0; i < 2000; i++)
                out.add(events.insert(c, "test", Optional.empty(), Optional.empty(), big));
              return out;
            });
    try (Socket hostile = new Socket()) {
      hostile.setReceiveBufferSize(4096);
      hostile.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()));
      OutputStream out = hostile.getOutputStream();
      out.write(
          ("GET /api/v1/events/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Stream reader = new Stream("/api/v1/events/stream?after=" + many.get(many.size() - 1).id());
      tickUntil(() -> feed.stats().dropped() == 1);
      // The feed goes on for the client that reads.
      events.node("node", mac(1).toString(), "after the drop");
      tickUntil(
          () ->
              reader.messages.stream()
                  .anyMatch(m -> m.data().path("message").asText().equals("after the drop")));
      assertEquals(1, feed.stats().streams());
    }
  }

  /**
   * 500 enrolled nodes, a 64-node session whose agents each report once a second (simulated, two
   * feed rounds per simulated second, as the daemon's period): what a page receives per second, and
   * the feed's CPU with one page and with four. Figures go to target/dashboard-load.txt.
   */
  @Test
  void loadOfFiveHundredNodesAndASixtyFourNodeSessionDoesNotGrowWithPages() throws Exception {
    List<Node> all = new ArrayList<>();
    for (int i = 1; i <= 500; i++)
      all.add(
          nodes.enroll(
              mac(i),
              String.format(Locale.ROOT, "n%03d", i),
              Optional.of(i <= 64 ? "rack1" : "rack2")));
    StringBuilder report = new StringBuilder();
    long[] messagesPerRun = new long[2];
    int run = 0;
    for (int pages : new int[] {1, 4}) {
      long id = store.create("golden", "rack1", 64, 60, 9000, all.subList(0, 64), false).id();
      List<Stream> open = new ArrayList<>();
      for (int p = 0; p < pages; p++) open.add(new Stream("/api/v1/stream"));
      tickUntil(
          () ->
              open.stream()
                  .allMatch(s -> !s.named("state").isEmpty() && !s.named("events").isEmpty()));
      long[] bytesBefore = open.stream().mapToLong(st -> st.bytes.get()).toArray();
      LiveFeed.Stats before = feed.stats();
      ThreadMXBean mx = ManagementFactory.getThreadMXBean();
      long cpu = 0;
      int seconds = 60;
      long total = 1L << 30;
      store.setState(id, "running", Optional.empty());
      events.record(
          "session",
          Optional.empty(),
          Optional.of(Long.toString(id)),
          "transfer started with 64 receiver(s)");
      for (int sec = 0; sec < seconds; sec++) {
        for (int n = 0; n < 64; n++) {
          // Node n writes at its own pace (40 to 59 s); it reports identity, then its result.
          int needs = 40 + n % 20;
          if (sec >= needs) continue;
          long done = Math.min(total, (long) (sec + 1) * total / needs);
          sessions.progress(
              mac(n + 1), id, done >= total ? "identity" : "receiving", done, total, 0);
          if (done >= total)
            sessions.result(mac(n + 1), id, true, "written and verified", Optional.empty(), 0);
        }
        for (int half = 0; half < 2; half++) {
          long t0 = mx.getCurrentThreadCpuTime();
          feed.tick();
          cpu += mx.getCurrentThreadCpuTime() - t0;
        }
      }
      store.setState(id, "done", Optional.of("64 of 64 node(s) re-imaged"));
      events.record("session", Optional.empty(), Optional.of(Long.toString(id)), "ended done");
      feed.tick();
      LiveFeed.Stats after = feed.stats();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  open.stream()
                      .allMatch(
                          s ->
                              s.messages.stream()
                                  .anyMatch(
                                      m ->
                                          m.name().equals("events")
                                              && m.data().toString().contains("ended done"))));
      // Every page gets the same bytes: once the last of them has arrived (under load one page's
      // socket can be a message behind when the others have the end), the totals are equal.
      await("every page gets the same bytes")
          .atMost(Duration.ofSeconds(20))
          .until(() -> open.stream().mapToLong(st -> st.bytes.get()).distinct().count() == 1);
      long perPage = open.get(0).bytes.get() - bytesBefore[0];
      messagesPerRun[run++] = after.messages() - before.messages();
      report.append(
          String.format(
              Locale.ROOT,
              "%d page(s): %d messages built, %d bytes built, %.1f KiB/s to each page, feed CPU %.1f ms per simulated second"
                  + " (%.2f ms per round)%n",
              pages,
              after.messages() - before.messages(),
              after.bytesBuilt() - before.bytesBuilt(),
              perPage / 1024.0 / seconds,
              cpu / 1e6 / seconds,
              cpu / 1e6 / (2.0 * seconds)));
      open.forEach(Stream::close);
      streams.removeAll(open);
      tickUntil(() -> feed.stats().streams() == 0);
    }
    // Each message is built once for all pages: four pages cost no more building than one.
    assertEquals(messagesPerRun[0], messagesPerRun[1], report.toString());
    Path out = Path.of("target/dashboard-load.txt");
    Files.createDirectories(out.getParent());
    Files.writeString(out, report.toString());
    System.out.print(report);
  }
}

package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;

/**
 * The live dashboard: a static page (HTML, CSS, JS shipped in the jar, no build step) at
 * {@code /dashboard/}, fed by {@code GET /api/v1/stream}, server-sent events carrying the
 * inventory, the newest sessions with per-node progress, the newest captures, the session throughput and recent events
 * twice a second (only when something changed). Operator routes: loopback only unless
 * {@code http.api-remote}.
 */
public final class DashboardRoutes {
  private static final Map<String, String> FILES = Map.of(
      "index.html", "text/html; charset=utf-8",
      "app.js", "text/javascript; charset=utf-8",
      "style.css", "text/css; charset=utf-8");

  private final NodeStore nodes;
  private final SessionManager sessions;
  private final CaptureManager captures;
  private final EventLog events;
  private final Clock clock;

  public DashboardRoutes(NodeStore nodes, SessionManager sessions, CaptureManager captures, EventLog events, Clock clock) {
    this.nodes = nodes;
    this.sessions = sessions;
    this.captures = captures;
    this.events = events;
    this.clock = clock;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes
        .open("/", r -> r.path().equals("/")
            ? new Reply.Bytes(HttpResponseStatus.FOUND, "text/plain", new byte[0], Map.of("Location", "/dashboard/"))
            : Reply.error(HttpResponseStatus.NOT_FOUND, "no such path " + r.path() + "; the dashboard is at /dashboard/"))
        .api("/dashboard", this::file)
        .api("/api/v1/stream", r -> new Reply.Events(new Snapshots(), Duration.ofMillis(500)));
  }

  private Reply file(Request r) throws IOException {
    String name = r.path().replaceFirst("^/dashboard/?", "");
    if (name.isEmpty()) name = "index.html";
    String type = FILES.get(name);
    if (type == null) return Reply.error(HttpResponseStatus.NOT_FOUND, "no such file: " + name);
    try (InputStream in = DashboardRoutes.class.getResourceAsStream("/dashboard/" + name)) {
      if (in == null) return Reply.error(HttpResponseStatus.NOT_FOUND, "no such file: " + name);
      return new Reply.Bytes(HttpResponseStatus.OK, type, in.readAllBytes(), Map.of());
    }
  }

  /** One client's stream: the state as JSON, with the throughput since its previous snapshot. */
  private final class Snapshots implements java.util.function.Supplier<String> {
    private long lastBytes = -1;
    private long lastMillis;
    private double bytesPerSecond;

    @Override
    public String get() {
      Map<String, Object> m = new LinkedHashMap<>();
      List<Map<String, Object>> ns = new ArrayList<>();
      for (Node n : nodes.list()) ns.add(Json.node(n));
      List<Map<String, Object>> ss = new ArrayList<>();
      long moving = 0;
      for (var e : sessions.list(5)) {
        ss.add(Json.session(e.getKey(), e.getValue()));
        if (e.getKey().active()) {
          for (SessionStore.Member mem : e.getValue()) moving += mem.bytesDone();
        }
      }
      long now = clock.millis();
      if (lastBytes >= 0 && now > lastMillis && moving >= lastBytes) {
        bytesPerSecond = (moving - lastBytes) * 1000.0 / (now - lastMillis);
      } else if (moving == 0) {
        bytesPerSecond = 0;
      }
      lastBytes = moving;
      lastMillis = now;
      List<Map<String, Object>> cs = new ArrayList<>();
      for (CaptureManager.Status c : captures.list(5)) cs.add(Json.capture(c));
      List<Map<String, Object>> ev = new ArrayList<>();
      for (Event e : events.recent(15)) ev.add(Json.event(e));
      m.put("nodes", ns);
      m.put("sessions", ss);
      m.put("captures", cs);
      m.put("throughput", Math.round(bytesPerSecond));
      m.put("events", ev);
      return new String(Json.bytes(m), java.nio.charset.StandardCharsets.UTF_8).replace("\n", "");
    }
  }
}

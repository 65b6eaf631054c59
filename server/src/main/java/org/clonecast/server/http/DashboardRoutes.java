package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/**
 * The operator console: a static page (HTML, CSS, JS shipped in the jar, no build step, nothing
 * from the internet) at {@code /dashboard/}, fed by {@code GET /api/v1/stream}, the {@link
 * LiveFeed}'s server-sent events (docs/dashboard.md). Operator routes: loopback only unless {@code
 * http.api-remote}.
 */
public final class DashboardRoutes {
  private static final Map<String, String> FILES =
      Map.of(
          "index.html", "text/html; charset=utf-8",
          "app.js", "text/javascript; charset=utf-8",
          "style.css", "text/css; charset=utf-8");

  private final LiveFeed feed;

  public DashboardRoutes(LiveFeed feed) {
    this.feed = feed;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes
        .open(
            "/",
            r ->
                r.path().equals("/")
                    ? new Reply.Bytes(
                        HttpResponseStatus.FOUND,
                        "text/plain",
                        new byte[0],
                        Map.of("Location", "/dashboard/"))
                    : Reply.error(
                        HttpResponseStatus.NOT_FOUND,
                        "no such path " + r.path() + "; the dashboard is at /dashboard/"))
        .api("/dashboard", this::file)
        .api("/api/v1/stream", r -> feed.stream(LiveFeed.Kind.DASHBOARD, 0));
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
}

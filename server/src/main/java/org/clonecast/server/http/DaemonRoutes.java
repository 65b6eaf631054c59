package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.clonecast.server.store.DaemonRegistry;

/**
 * {@code GET /api/v1/daemons}: every daemon sharing this daemon's store (docs/scale.md), with its
 * URL, segment, state ({@code running}, {@code stopped}, {@code dead}) and whether it is the one
 * answering. On a one-daemon SQLite store, the one daemon.
 */
public final class DaemonRoutes {
  private final DaemonRegistry registry;
  private final Clock clock;

  public DaemonRoutes(DaemonRegistry registry, Clock clock) {
    this.registry = Objects.requireNonNull(registry);
    this.clock = Objects.requireNonNull(clock);
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.api("/api/v1/daemons", this::handle);
  }

  private Reply handle(Request r) {
    if (!r.method().equals(HttpMethod.GET)) {
      return Reply.error(
          HttpResponseStatus.METHOD_NOT_ALLOWED,
          "the daemons list is read-only; a daemon joins by starting on the store");
    }
    if (!r.path().equals("/api/v1/daemons") && !r.path().equals("/api/v1/daemons/")) {
      return Reply.error(
          HttpResponseStatus.NOT_FOUND, "no such path: " + r.path() + "; want /api/v1/daemons");
    }
    long now = clock.millis();
    List<Map<String, Object>> out = new ArrayList<>();
    for (DaemonRegistry.Member m : registry.list()) {
      out.add(Json.daemon(m, registry.self(), now));
    }
    return Reply.json(out);
  }
}

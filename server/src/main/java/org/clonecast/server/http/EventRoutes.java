package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.EventLog;

/**
 * {@code GET /api/v1/events?after=ID&limit=N}: events newer than {@code after} (default: the
 * newest {@code limit}, 100 unless given, at most 1000), oldest first.
 */
public final class EventRoutes {
  private final EventLog events;

  public EventRoutes(EventLog events) {
    this.events = events;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.api("/api/v1/events", this::handle);
  }

  private Reply handle(Request r) {
    if (!r.method().equals(HttpMethod.GET)) {
      return Reply.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "events are read-only");
    }
    int limit = r.param("limit").map(v -> number(v, "limit")).orElse(100L).intValue();
    if (limit < 1 || limit > 1000) {
      throw new BadRequestException("limit " + limit + " is out of range; use 1-1000");
    }
    List<Event> found = r.param("after").isPresent()
        ? events.after(number(r.param("after").get(), "after"), limit)
        : events.recent(limit);
    List<Map<String, Object>> out = new ArrayList<>();
    for (Event e : found) {
      out.add(Json.event(e));
    }
    return Reply.json(out);
  }

  private static long number(String v, String name) {
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new BadRequestException("parameter " + name + "=" + v + " is not a number");
    }
  }
}

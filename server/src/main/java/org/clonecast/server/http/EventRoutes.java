package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.EventLog;

/**
 * {@code GET /api/v1/events?after=ID&limit=N}: events newer than {@code after} (default: the newest
 * {@code limit}, 100 unless given, at most 1000), oldest first. {@code GET
 * /api/v1/events/stream?after=ID}: those after {@code after} (or the {@code Last-Event-ID} header),
 * then each new one as it is recorded, as server-sent events.
 */
public final class EventRoutes {
  private final EventLog events;
  private final Optional<LiveFeed> feed;

  /** Without a feed: the list only ({@code /stream} answers 404). */
  public EventRoutes(EventLog events) {
    this.events = events;
    this.feed = Optional.empty();
  }

  public EventRoutes(EventLog events, LiveFeed feed) {
    this.events = events;
    this.feed = Optional.of(feed);
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.api("/api/v1/events", this::handle);
  }

  private Reply handle(Request r) {
    if (!r.method().equals(HttpMethod.GET)) {
      return Reply.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "events are read-only");
    }
    if (r.path().equals("/api/v1/events/stream") && feed.isPresent()) {
      String after = r.param("after").orElse(r.headers().get("Last-Event-ID"));
      return feed.get().stream(
          LiveFeed.Kind.EVENTS,
          after == null
              ? events.recent(1).stream().mapToLong(Event::id).max().orElse(0)
              : number(after, "after"));
    }
    if (!r.path().equals("/api/v1/events") && !r.path().equals("/api/v1/events/")) {
      return Reply.error(
          HttpResponseStatus.NOT_FOUND,
          "no such path: " + r.path() + "; want /api/v1/events or /api/v1/events/stream");
    }
    int limit = r.param("limit").map(v -> number(v, "limit")).orElse(100L).intValue();
    if (limit < 1 || limit > 1000) {
      throw new BadRequestException("limit " + limit + " is out of range; use 1-1000");
    }
    List<Event> found =
        r.param("after").isPresent()
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

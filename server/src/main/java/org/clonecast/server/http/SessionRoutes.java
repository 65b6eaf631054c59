package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.NotFoundException;
import org.clonecast.server.store.SessionStore;

/**
 * {@code /api/v1/sessions}: re-imaging sessions (docs/api.md).
 *
 * <ul>
 *   <li>GET /api/v1/sessions?limit=N: the newest sessions with their nodes
 *   <li>POST /api/v1/sessions {image, nodes, minReceivers?, maxWait?}: mark the nodes (a group,
 *       all, or a selection: an array of names or MACs) and start multicasting when the rule is met
 *   <li>GET /api/v1/sessions/{id}: one session with per-node progress
 *   <li>GET /api/v1/sessions/{id}/stream: the session again (server-sent events) each time it
 *       changes, until it ends
 *   <li>POST /api/v1/sessions/{id}/cancel: stop it; unfinished nodes fail and boot locally
 * </ul>
 */
public final class SessionRoutes {
  static final String PREFIX = "/api/v1/sessions";
  private final SessionManager sessions;
  private final LongConsumer started;
  private final LiveFeed feed;

  /**
   * @param started told each new session's id (the daemon makes sure nodes have something to
   *     netboot)
   * @param feed pushes a session's changes to {@code GET /api/v1/sessions/{id}/stream}
   */
  public SessionRoutes(SessionManager sessions, LongConsumer started, LiveFeed feed) {
    this.sessions = sessions;
    this.started = started;
    this.feed = feed;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.api(PREFIX, this::handle);
  }

  private Reply handle(Request r) throws Exception {
    String rest = r.path().substring(PREFIX.length());
    if (rest.isEmpty() || rest.equals("/")) {
      if (r.method().equals(HttpMethod.GET)) {
        int limit = r.param("limit").map(SessionRoutes::number).orElse(20L).intValue();
        if (limit < 1 || limit > 1000)
          throw new BadRequestException("limit " + limit + " is out of range; use 1-1000");
        List<Map<String, Object>> out = new ArrayList<>();
        for (var e : sessions.list(limit)) out.add(Json.session(e.getKey(), e.getValue()));
        return Reply.json(out);
      }
      if (r.method().equals(HttpMethod.POST)) {
        JsonNode body = Json.object(r.body());
        String image =
            Json.text(body, "image")
                .orElseThrow(() -> new BadRequestException("field 'image' is required"));
        String nodes = selection(body);
        int min = Json.number(body, "minReceivers").orElse(0L).intValue();
        long wait = Json.number(body, "maxWait").orElse(300L);
        if (wait < 0 || wait > 86_400)
          throw new BadRequestException(
              "maxWait " + wait + " is out of range; use 0-86400 seconds");
        SessionStore.Session s =
            sessions.start(
                image, nodes, min, Duration.ofSeconds(wait), Json.bool(body, "grow").orElse(false));
        started.accept(s.id());
        return Reply.json(HttpResponseStatus.CREATED, Json.session(s, sessions.members(s.id())));
      }
      return ImageRoutes.notAllowed(r);
    }
    String[] parts = rest.substring(1).split("/");
    long id = number(parts[0]);
    if (parts.length == 1 && r.method().equals(HttpMethod.GET)) {
      SessionStore.Session s =
          sessions.store().find(id).orElseThrow(() -> new NotFoundException("no session " + id));
      return Reply.json(Json.session(s, sessions.members(id)));
    }
    if (parts.length == 2 && parts[1].equals("stream") && r.method().equals(HttpMethod.GET)) {
      sessions.store().find(id).orElseThrow(() -> new NotFoundException("no session " + id));
      return feed.stream(LiveFeed.Kind.SESSION, id);
    }
    if (parts.length == 2 && parts[1].equals("cancel") && r.method().equals(HttpMethod.POST)) {
      SessionStore.Session s = sessions.cancel(id);
      return Reply.json(Json.session(s, sessions.members(id)));
    }
    return ImageRoutes.notAllowed(r);
  }

  /**
   * Field {@code nodes}: a group, all, or a selection (an array of names or MACs, or them
   * comma-separated).
   */
  private static String selection(JsonNode body) {
    JsonNode v = body.get("nodes");
    if (v != null && v.isArray()) {
      List<String> items = new ArrayList<>();
      for (JsonNode item : v) {
        if (!item.isTextual() || item.asText().isBlank() || item.asText().contains(",")) {
          throw new BadRequestException(
              "field 'nodes' holds " + item + "; want node names or MACs");
        }
        items.add(item.asText());
      }
      if (items.isEmpty())
        throw new BadRequestException(
            "field 'nodes' is an empty selection; pick at least one node");
      return String.join(",", items);
    }
    return Json.text(body, "nodes")
        .orElseThrow(
            () ->
                new BadRequestException(
                    "field 'nodes' is required: a group name, all, or an array of node names or MACs"));
  }

  static long number(String v) {
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new BadRequestException("'" + v + "' is not a number");
    }
  }
}

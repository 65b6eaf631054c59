package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.NotFoundException;

/**
 * {@code /api/v1/nodes}: the inventory (docs/api.md).
 *
 * <ul>
 *   <li>GET /api/v1/nodes: every node
 *   <li>POST /api/v1/nodes {mac, name, group?}: enroll
 *   <li>GET /api/v1/nodes/{mac}: one node
 *   <li>PATCH /api/v1/nodes/{mac} {name?, group?, action?}: change
 *   <li>DELETE /api/v1/nodes/{mac}: forget
 * </ul>
 */
public final class NodeRoutes {
  static final String PREFIX = "/api/v1/nodes";

  private final NodeStore nodes;
  private final EventLog events;

  public NodeRoutes(NodeStore nodes, EventLog events) {
    this.nodes = nodes;
    this.events = events;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.api(PREFIX, this::handle);
  }

  private Reply handle(Request r) {
    String rest = r.path().substring(PREFIX.length());
    if (rest.isEmpty() || rest.equals("/")) {
      if (r.method().equals(HttpMethod.GET)) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Node n : nodes.list()) {
          out.add(Json.node(n));
        }
        return Reply.json(out);
      }
      if (r.method().equals(HttpMethod.POST)) {
        return enroll(Json.object(r.body()));
      }
      return notAllowed(r);
    }
    MacAddress mac = parseMac(rest.substring(1));
    if (r.method().equals(HttpMethod.GET)) {
      Node n = nodes.find(mac).orElseThrow(() -> new NotFoundException(mac + " is not known"));
      return Reply.json(Json.node(n));
    }
    if (r.method().equals(HttpMethod.PATCH)) {
      JsonNode body = Json.object(r.body());
      NodeStore.Change change = new NodeStore.Change(
          Json.text(body, "name"),
          Json.nullableText(body, "group"),
          Json.text(body, "action").map(BootAction::parse));
      Node n = nodes.update(mac, change);
      events.node("node", mac.toString(), "changed: " + describe(n));
      return Reply.json(Json.node(n));
    }
    if (r.method().equals(HttpMethod.DELETE)) {
      if (!nodes.remove(mac)) {
        throw new NotFoundException(mac + " is not known");
      }
      events.node("node", mac.toString(), "removed from the inventory");
      return Reply.json(Map.of("removed", mac.toString()));
    }
    return notAllowed(r);
  }

  private Reply enroll(JsonNode body) {
    MacAddress mac = parseMac(Json.text(body, "mac").orElseThrow(() -> new BadRequestException("field 'mac' is required")));
    String name = Json.text(body, "name").orElseThrow(() -> new BadRequestException("field 'name' is required"));
    Optional<String> group = Json.text(body, "group");
    Node n = nodes.enroll(mac, name, group);
    events.node("node", mac.toString(), "enrolled: " + describe(n));
    return Reply.json(HttpResponseStatus.CREATED, Json.node(n));
  }

  private static String describe(Node n) {
    return "name " + n.name().orElse("-") + ", group " + n.group().orElse("-") + ", action " + n.action().id();
  }

  static MacAddress parseMac(String text) {
    try {
      return MacAddress.parse(text.replace('-', ':'));
    } catch (IllegalArgumentException e) {
      throw new BadRequestException("invalid MAC address '" + text + "'; write it as aa:bb:cc:dd:ee:ff");
    }
  }

  private static Reply notAllowed(Request r) {
    return Reply.error(HttpResponseStatus.METHOD_NOT_ALLOWED, r.method() + " is not allowed on " + r.path());
  }
}

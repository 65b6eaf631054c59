package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.clonecast.protocol.wire.Ipv4;
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
 *   <li>POST /api/v1/nodes {mac, name, group?, ip?}: enroll (ip: a reserved DHCP address)
 *   <li>GET /api/v1/nodes/{mac}: one node
 *   <li>PATCH /api/v1/nodes/{mac} {name?, group?, action?, ip?}: change (ip null drops the
 *       reservation)
 *   <li>DELETE /api/v1/nodes/{mac}: forget
 * </ul>
 */
public final class NodeRoutes {
  static final String PREFIX = "/api/v1/nodes";

  private final NodeStore nodes;
  private final EventLog events;
  private final Function<Inet4Address, Optional<String>> reservationCheck;

  /** Routes that accept any IPv4 address as a reservation. */
  public NodeRoutes(NodeStore nodes, EventLog events) {
    this(nodes, events, ip -> Optional.empty());
  }

  /**
   * @param reservationCheck the problem with an address an operator wants to reserve (outside the
   *     DHCP subnets, the server's own), or empty when it is fine
   */
  public NodeRoutes(
      NodeStore nodes, EventLog events, Function<Inet4Address, Optional<String>> reservationCheck) {
    this.nodes = nodes;
    this.events = events;
    this.reservationCheck = reservationCheck;
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
      NodeStore.Change change =
          new NodeStore.Change(
              Json.text(body, "name"),
              Json.nullableText(body, "group"),
              Json.text(body, "action").map(BootAction::parse),
              Json.nullableText(body, "ip").map(ip -> ip.map(this::reservable)),
              Json.nullableText(body, "targetDisk"));
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
    MacAddress mac =
        parseMac(
            Json.text(body, "mac")
                .orElseThrow(() -> new BadRequestException("field 'mac' is required")));
    String name =
        Json.text(body, "name")
            .orElseThrow(() -> new BadRequestException("field 'name' is required"));
    Optional<String> group = Json.text(body, "group");
    Node n = nodes.enroll(mac, name, group, Json.text(body, "ip").map(this::reservable));
    events.node("node", mac.toString(), "enrolled: " + describe(n));
    return Reply.json(HttpResponseStatus.CREATED, Json.node(n));
  }

  private static String describe(Node n) {
    return "name "
        + n.name().orElse("-")
        + ", group "
        + n.group().orElse("-")
        + ", action "
        + n.action().id()
        + n.reservedIp().map(ip -> ", reserved ip " + ip).orElse("");
  }

  /** A valid address to reserve, in canonical dotted form. */
  private String reservable(String text) {
    Inet4Address ip;
    try {
      ip = Ipv4.parse(text);
    } catch (IllegalArgumentException e) {
      throw new BadRequestException(
          "invalid IPv4 address '" + text + "'; write it like 10.77.0.20");
    }
    reservationCheck
        .apply(ip)
        .ifPresent(
            problem -> {
              throw new BadRequestException(problem);
            });
    return ip.getHostAddress();
  }

  static MacAddress parseMac(String text) {
    try {
      return MacAddress.parse(text.replace('-', ':'));
    } catch (IllegalArgumentException e) {
      throw new BadRequestException(
          "invalid MAC address '" + text + "'; write it as aa:bb:cc:dd:ee:ff");
    }
  }

  private static Reply notAllowed(Request r) {
    return Reply.error(
        HttpResponseStatus.METHOD_NOT_ALLOWED, r.method() + " is not allowed on " + r.path());
  }
}

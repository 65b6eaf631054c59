package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;

/**
 * What the agent on a netbooted node calls (docs/api.md, "agent"). These answer on the
 * provisioning address without the API token; instead every call carries the node's per-boot
 * secret from its netboot script ({@link NodeAuth}), so that no other host can register, report
 * or publish a host key for it. A call without it changes nothing (403). An agent that restarts
 * registers again with the same secret.
 *
 * <ul>
 *   <li>POST /agent/v1/register {mac, disks: [{path, size, removable, model, serial}], cpus, memoryBytes}:
 *       the node's assignment: {@code capture} (capture id, image, image id, disk, chunk size,
 *       zstd level, force: then {@link CaptureRoutes}), {@code reimage} (session, image, control
 *       address, target disk, hostname, domain, per-node files), {@code none} (boot the local
 *       disk) or {@code fail} (with the reason)
 *   <li>POST /agent/v1/progress {mac, session, phase, done, total}
 *   <li>POST /agent/v1/result {mac, session, ok, detail, sshHostKey?}
 *   <li>GET /boot/known_hosts: every re-imaged node's SSH host key, as an ssh_known_hosts file
 * </ul>
 */
public final class AgentRoutes {
  static final String PREFIX = "/agent/v1/";
  private final SessionManager sessions;
  private final CaptureManager captures;
  private final NodeStore nodes;
  private final Optional<String> domain;
  private final java.nio.file.Path nodeFiles;
  private final NodeAuth auth;

  /**
   * @param domain the cluster DNS zone, for the node's fully qualified name
   * @param nodeFiles the per-node files directory ({@link org.clonecast.server.boot.NodeFiles})
   * @param auth checks each call's node secret
   */
  public AgentRoutes(SessionManager sessions, CaptureManager captures, NodeStore nodes, Optional<String> domain,
      java.nio.file.Path nodeFiles, NodeAuth auth) {
    this.sessions = sessions;
    this.captures = captures;
    this.nodes = nodes;
    this.domain = domain;
    this.nodeFiles = nodeFiles;
    this.auth = auth;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.open(PREFIX, this::handle).open("/boot/known_hosts", r -> knownHosts());
  }

  /** The node's MAC from field {@code mac} of an agent call. */
  static MacAddress mac(JsonNode body) {
    return NodeRoutes.parseMac(Json.text(body, "mac").orElseThrow(() -> new BadRequestException("field 'mac' is required")));
  }

  private Reply handle(Request r) throws java.io.IOException {
    if (!r.method().equals(HttpMethod.POST)) {
      return ImageRoutes.notAllowed(r);
    }
    JsonNode body = Json.object(r.body());
    MacAddress mac = mac(body);
    String call = r.path().substring(PREFIX.length());
    auth.require(mac, r);
    String from = r.remote().getAddress().getHostAddress();
    switch (call) {
      case "register" -> {
        List<SessionManager.Disk> disks = new ArrayList<>();
        JsonNode ds = body.get("disks");
        if (ds != null && ds.isArray()) {
          for (JsonNode d : ds) {
            disks.add(new SessionManager.Disk(Json.text(d, "path").orElseThrow(() -> new BadRequestException("disk without 'path'")),
                Json.number(d, "size").orElse(0L), Json.bool(d, "removable").orElse(false),
                Json.text(d, "model").orElse(""), Json.text(d, "serial").orElse("")));
          }
        }
        nodes.recordSeen(mac, Optional.empty(), Optional.of(from));
        Optional<CaptureManager.Assignment> capture = captures.assignment(mac, from, disks);
        if (capture.isPresent()) {
          return Reply.json(captureAssignment(capture.get()));
        }
        SessionManager.Assignment a = sessions.register(mac, disks);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("action", a.action());
        out.put("reason", a.reason().orElse(null));
        out.put("session", a.session());
        out.put("hostname", a.hostname());
        out.put("domain", domain.orElse(null));
        out.put("imageId", a.image() == null ? null : a.image().imageId().orElse(null));
        out.put("logicalSize", a.image() == null ? 0 : a.image().logicalSize());
        out.put("control", a.control());
        out.put("target", a.target());
        if (a.action().equals("reimage")) {
          try {
            out.put("files", org.clonecast.server.boot.NodeFiles.forNode(nodeFiles, a.hostname()));
          } catch (java.io.IOException e) {
            // The node would come up without files its admin meant it to have: fail it with the reason.
            sessions.result(mac, a.session(), false, "per-node files: " + e.getMessage(), Optional.empty());
            out.put("action", "fail");
            out.put("reason", "per-node files: " + e.getMessage());
          }
        }
        return Reply.json(out);
      }
      case "progress" -> {
        String phase = Json.text(body, "phase").orElse("receiving");
        if (!phase.equals("receiving") && !phase.equals("identity")) {
          // A phase is progress; only a result ends a node (done or failed).
          throw new BadRequestException("phase '" + phase + "': want receiving or identity");
        }
        sessions.progress(mac, number(body, "session"), phase, Json.number(body, "done").orElse(0L),
            Json.number(body, "total").orElse(0L));
        return Reply.json(Map.of("ok", true));
      }
      case "result" -> {
        boolean ok = Json.bool(body, "ok").orElseThrow(() -> new BadRequestException("field 'ok' is required"));
        sessions.result(mac, number(body, "session"), ok, Json.text(body, "detail").orElse(ok ? "re-imaged" : "failed"),
            Json.text(body, "sshHostKey"));
        return Reply.json(Map.of("ok", true));
      }
      default -> {
        return Reply.error(HttpResponseStatus.NOT_FOUND, "no agent call " + r.path() + "; want register, progress or result");
      }
    }
  }

  private static Map<String, Object> captureAssignment(CaptureManager.Assignment a) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("action", a.action());
    out.put("reason", a.reason().orElse(null));
    out.put("capture", a.capture().id());
    out.put("image", a.capture().image());
    out.put("imageId", a.capture().imageId().toString());
    out.put("disk", a.disk());
    out.put("chunkSize", a.capture().chunkSize());
    out.put("level", a.capture().level());
    out.put("force", a.capture().force());
    return out;
  }

  private static long number(JsonNode body, String field) {
    return Json.number(body, field).orElseThrow(() -> new BadRequestException("field '" + field + "' is required"));
  }

  /** ssh_known_hosts: "name,name.zone,ip key" per node whose agent reported a host key. */
  private Reply knownHosts() {
    StringBuilder sb = new StringBuilder("# clonecast: SSH host keys of re-imaged nodes (ssh_known_hosts format)\n");
    for (Node n : nodes.list()) {
      if (n.sshHostKey().isEmpty() || n.name().isEmpty()) continue;
      List<String> names = new ArrayList<>(List.of(n.name().get()));
      domain.ifPresent(d -> names.add(n.name().get() + "." + d));
      n.ip().ifPresent(names::add);
      String[] key = n.sshHostKey().get().split(" ");
      if (key.length < 2) continue;
      sb.append(String.join(",", names)).append(' ').append(key[0]).append(' ').append(key[1]).append('\n');
    }
    return Reply.text(HttpResponseStatus.OK, sb.toString());
  }
}

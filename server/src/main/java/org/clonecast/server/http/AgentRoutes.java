package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.clonecast.common.api.Ack;
import org.clonecast.common.api.AgentJson;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.Progress;
import org.clonecast.common.api.RegisterRequest;
import org.clonecast.common.api.Result;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.NodeFiles;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.session.NodeWaiters;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;

/**
 * What the agent on a netbooted node calls (docs/api.md, "agent"). These answer on the provisioning
 * address without the API token; instead every call carries the node's per-boot secret from its
 * netboot script ({@link NodeAuth}), so that no other host can register, report or publish a host
 * key for it. A call without it changes nothing (403). An agent that restarts registers again with
 * the same secret. Bodies are the shared records of {@link org.clonecast.common.api} read by {@link
 * AgentJson}: a missing or mistyped field is a 400 naming it, an unknown field is ignored.
 *
 * <ul>
 *   <li>POST /agent/v1/register[?wait=S] {mac, disks: [{path, size, removable, model, serial}],
 *       cpus, memoryBytes}: the node's assignment: {@code capture} (capture id, image, image id,
 *       disk, chunk size, zstd level, force: then {@link CaptureRoutes}), {@code reimage} (session,
 *       image, control address, target disk, hostname, domain, per-node files), {@code none} (boot
 *       the local disk) or {@code fail} (with the reason). With {@code wait}, a {@code none} is
 *       held up to S seconds (at most the daemon's hold) and answered as soon as a session or
 *       capture that includes the node starts ({@link NodeWaiters})
 *   <li>POST /agent/v1/progress {mac, session, phase, done, total, unicastBytes?}
 *   <li>POST /agent/v1/result {mac, session, ok, detail, sshHostKey?, unicastBytes?}
 *   <li>GET /agent/v1/sessions/{id}/image: the unicast fallback ({@link UnicastRoutes})
 *   <li>GET /boot/known_hosts: every re-imaged node's SSH host key, as an ssh_known_hosts file
 * </ul>
 */
public final class AgentRoutes {
  static final String PREFIX = "/agent/v1/";
  private final SessionManager sessions;
  private final CaptureManager captures;
  private final NodeStore nodes;
  private final Optional<String> domain;
  private final Path nodeFiles;
  private final NodeAuth auth;

  /**
   * @param domain the cluster DNS zone, for the node's fully qualified name
   * @param nodeFiles the per-node files directory ({@link org.clonecast.server.boot.NodeFiles})
   * @param auth checks each call's node secret
   */
  public AgentRoutes(
      SessionManager sessions,
      CaptureManager captures,
      NodeStore nodes,
      Optional<String> domain,
      Path nodeFiles,
      NodeAuth auth) {
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
    JsonNode v = body.get("mac");
    if (v != null && !v.isTextual()) {
      throw new BadRequestException("field 'mac' must be a string");
    }
    return NodeRoutes.parseMac(
        Json.text(body, "mac")
            .orElseThrow(() -> new BadRequestException("field 'mac' is required")));
  }

  private Reply handle(Request r) throws IOException {
    if (!r.method().equals(HttpMethod.POST)) {
      return ImageRoutes.notAllowed(r);
    }
    String call = r.path().substring(PREFIX.length());
    if (!call.equals("register") && !call.equals("progress") && !call.equals("result")) {
      return Reply.error(
          HttpResponseStatus.NOT_FOUND,
          "no agent call " + r.path() + "; want register, progress or result");
    }
    // The caller's MAC first, to check its secret before the body is taken as anything.
    JsonNode body = AgentJson.tree(r.body());
    MacAddress mac = mac(body);
    auth.require(mac, r);
    String from = r.remote().getAddress().getHostAddress();
    switch (call) {
      case "register" -> {
        RegisterRequest req = AgentJson.read(body, RegisterRequest.class);
        Duration wait = wait(r, sessions.waiters().maxHold());
        nodes.recordSeen(mac, Optional.empty(), Optional.of(from));
        return registration(mac, from, req, System.nanoTime() + wait.toNanos());
      }
      case "progress" -> {
        Progress p = AgentJson.read(body, Progress.class);
        sessions.progress(mac, p.session(), p.phase().id(), p.done(), p.total(), p.unicastBytes());
        return Reply.json(Ack.OK);
      }
      default -> {
        Result res = AgentJson.read(body, Result.class);
        sessions.result(
            mac, res.session(), res.ok(), res.detail(), res.sshHostKeyIfAny(), res.unicastBytes());
        return Reply.json(Ack.OK);
      }
    }
  }

  /**
   * The longest a registration may be held ({@code ?wait=S}, whole seconds), clamped to {@code
   * max}; zero without the parameter (an agent that does not long-poll is answered at once).
   */
  static Duration wait(Request r, Duration max) {
    Optional<String> w = r.param("wait");
    if (w.isEmpty()) return Duration.ZERO;
    long s;
    try {
      s = Long.parseLong(w.get());
    } catch (NumberFormatException e) {
      s = -1;
    }
    if (s < 0) {
      throw new BadRequestException(
          "wait '"
              + w.get()
              + "' is no whole number of seconds; want 0 or more (at most "
              + max.toSeconds()
              + " are held)");
    }
    return s > max.toSeconds() ? max : Duration.ofSeconds(s);
  }

  /**
   * A node's assignment; when it has nothing to do and may still wait ({@code deadline}, nanoTime),
   * its registration is held until a session or capture that includes it starts or the time is up
   * (a long poll, {@link NodeWaiters}), then decided again. The hold is taken before the decision,
   * so that one started in between wakes it. Past the waiters' bound, answered at once.
   */
  private Reply registration(MacAddress mac, String from, RegisterRequest req, long deadline)
      throws IOException {
    long left = deadline - System.nanoTime();
    Optional<CompletableFuture<Void>> woken =
        left > 0 ? sessions.waiters().hold(mac, Duration.ofNanos(left)) : Optional.empty();
    Assignment a = assignment(mac, from, req);
    if (!(a instanceof Assignment.None) || woken.isEmpty()) {
      woken.ifPresent(f -> f.cancel(false));
      return Reply.json(a);
    }
    return new Reply.Later(woken.get(), again -> registration(mac, from, req, deadline));
  }

  /** What a registering node is to do now: capture, re-image, fail or nothing. */
  private Assignment assignment(MacAddress mac, String from, RegisterRequest req)
      throws IOException {
    Optional<CaptureManager.Assignment> capture = captures.assignment(mac, from, req.disks());
    if (capture.isPresent()) {
      return captureAssignment(capture.get());
    }
    return sessionAssignment(mac, sessions.register(mac, req.disks()));
  }

  /** The wire form of what the session manager decided for a registering node. */
  private Assignment sessionAssignment(MacAddress mac, SessionManager.Assignment a) {
    switch (a.action()) {
      case "reimage" -> {
        Map<String, String> files;
        try {
          files = NodeFiles.forNode(nodeFiles, a.hostname());
        } catch (IOException e) {
          // The node would come up without files its admin meant it to have: fail it with the
          // reason.
          sessions.result(
              mac, a.session(), false, "per-node files: " + e.getMessage(), Optional.empty(), 0);
          return new Assignment.Fail("per-node files: " + e.getMessage());
        }
        return new Assignment.Reimage(
            a.session(),
            a.image() == null ? null : a.image().imageId().orElse(null),
            a.image() == null ? 0 : a.image().logicalSize(),
            a.control(),
            a.target(),
            a.hostname(),
            domain.orElse(null),
            files,
            a.grow());
      }
      case "fail" -> {
        return new Assignment.Fail(a.reason().orElse(null));
      }
      default -> {
        return new Assignment.None(a.reason().orElse(null));
      }
    }
  }

  /**
   * What a golden node registering for capture {@code a} is told (public for the agent's tests).
   */
  public static Assignment captureAssignment(CaptureManager.Assignment a) {
    if (!a.action().equals("capture")) {
      return a.action().equals("fail")
          ? new Assignment.Fail(a.reason().orElse(null))
          : new Assignment.None(a.reason().orElse(null));
    }
    return new Assignment.Capture(
        a.capture().id(),
        a.capture().image(),
        a.capture().imageId(),
        a.disk(),
        a.capture().chunkSize(),
        a.capture().level(),
        a.capture().force(),
        a.pooled().isEmpty()
            ? null
            : Assignment.Capture.encodePooled(a.pooled().stream().map(Sha256::bytes).toList()));
  }

  /** ssh_known_hosts: "name,name.zone,ip key" per node whose agent reported a host key. */
  private Reply knownHosts() {
    StringBuilder sb =
        new StringBuilder(
            "# clonecast: SSH host keys of re-imaged nodes (ssh_known_hosts format)\n");
    for (Node n : nodes.list()) {
      if (n.sshHostKey().isEmpty() || n.name().isEmpty()) continue;
      List<String> names = new ArrayList<>(List.of(n.name().get()));
      domain.ifPresent(d -> names.add(n.name().get() + "." + d));
      n.ip().ifPresent(names::add);
      String[] key = n.sshHostKey().get().split(" ");
      if (key.length < 2) continue;
      sb.append(String.join(",", names))
          .append(' ')
          .append(key[0])
          .append(' ')
          .append(key[1])
          .append('\n');
    }
    return Reply.text(HttpResponseStatus.OK, sb.toString());
  }
}

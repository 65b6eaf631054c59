package org.clonecast.server.http;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageCopies;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.SessionStore;

/**
 * JSON shapes of the API (docs/api.md), built explicitly so the wire format does not follow
 * internal renames.
 */
public final class Json {
  /** Thread-safe once configured. */
  public static final ObjectMapper MAPPER =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Json() {}

  public static Map<String, Object> node(Node n) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mac", n.mac().toString());
    m.put("name", n.name().orElse(null));
    m.put("group", n.group().orElse(null));
    m.put("action", n.action().id());
    m.put("state", n.state().id());
    m.put("detail", n.detail().orElse(null));
    m.put("arch", n.arch().orElse(null));
    m.put("ip", n.ip().orElse(null));
    m.put("firstSeen", n.firstSeenMillis());
    m.put("lastSeen", n.lastSeenMillis());
    m.put("reservedIp", n.reservedIp().orElse(null));
    m.put("targetDisk", n.targetDisk().orElse(null));
    m.put("sshHostKey", n.sshHostKey().orElse(null));
    return m;
  }

  public static Map<String, Object> image(Image i, Optional<long[]> progress) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", i.name());
    m.put("state", i.state());
    m.put("detail", i.detail().orElse(null));
    m.put("imageId", i.imageId().orElse(null));
    m.put("logicalSize", i.logicalSize());
    m.put("storedSize", i.storedSize());
    m.put("ownSize", i.ownSize());
    m.put("sharedSize", i.sharedSize());
    m.put("chunks", i.chunks());
    m.put("imageHash", i.imageHash().orElse(null));
    m.put("created", i.createdMillis());
    progress.ifPresent(p -> m.put("progress", Map.of("done", p[0], "total", p[1])));
    return m;
  }

  /**
   * Which daemons hold an image's bytes ({@code ready}), fetch them ({@code copying}, with stored
   * bytes done of total) or failed to (with why); {@code self} marks the one answering.
   */
  public static List<Map<String, Object>> copies(List<ImageCopies.Copy> copies, String self) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (ImageCopies.Copy c : copies) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("daemon", c.daemon());
      m.put("self", c.daemon().equals(self));
      m.put("state", c.state().id());
      m.put("done", c.done());
      m.put("total", c.total());
      m.put("detail", c.detail().orElse(null));
      m.put("updated", c.updated());
      out.add(m);
    }
    return out;
  }

  /**
   * A daemon of the store (docs/scale.md): URL, segment, state ({@code running}, {@code stopped},
   * {@code dead}) and whether it is {@code self}, the one answering.
   */
  public static Map<String, Object> daemon(DaemonRegistry.Member m, String self, long nowMillis) {
    Map<String, Object> d = new LinkedHashMap<>();
    boolean me = m.id().equals(self);
    d.put("id", m.id());
    d.put("url", m.url());
    d.put("address", m.address());
    d.put("segment", m.segment());
    // The one answering runs; on SQLite it does not beat (nobody else reads its row).
    d.put("state", me ? "running" : m.state(nowMillis));
    d.put("self", me);
    d.put("started", m.started());
    d.put("heartbeat", m.heartbeat());
    d.put("stopped", m.stopped().orElse(null));
    return d;
  }

  /** A capture: its phase and node, and what the daemon holds of its upload. */
  public static Map<String, Object> capture(CaptureManager.Status s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", s.capture().id());
    m.put("image", s.capture().image());
    m.put("mac", s.capture().mac().toString());
    m.put("disk", s.capture().disk().orElse(null));
    m.put("state", s.capture().state().id());
    m.put("detail", s.capture().detail().orElse(null));
    m.put("logicalSize", s.capture().logicalSize());
    m.put("chunksHeld", s.held().heldChunks());
    m.put("storedBytes", s.held().storedBytes());
    m.put("bytesDone", s.done());
    m.put("bytesTotal", s.total());
    m.put("created", s.capture().created());
    m.put("updated", s.capture().updated());
    return m;
  }

  public static Map<String, Object> session(
      SessionStore.Session s, List<SessionStore.Member> members) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", s.id());
    m.put("image", s.image());
    m.put("nodes", s.selector());
    m.put("minReceivers", s.minReceivers());
    m.put("maxWait", s.maxWaitSeconds());
    m.put("grow", s.grow());
    m.put("port", s.port());
    m.put("state", s.state());
    m.put("detail", s.detail().orElse(null));
    m.put("created", s.created());
    m.put("started", s.started().orElse(null));
    m.put("ended", s.ended().orElse(null));
    m.put("bytesSent", s.bytesSent());
    m.put("packetsSent", s.packetsSent());
    m.put("repairPackets", s.repairPackets());
    List<Map<String, Object>> ms = new ArrayList<>();
    for (SessionStore.Member x : members) {
      Map<String, Object> n = new LinkedHashMap<>();
      n.put("mac", x.mac());
      n.put("name", x.name());
      n.put("state", x.state());
      n.put("bytesDone", x.bytesDone());
      n.put("bytesTotal", x.bytesTotal());
      n.put("target", x.target().orElse(null));
      n.put("detail", x.detail().orElse(null));
      n.put("updated", x.updated());
      n.put("receivingSince", x.receivingSince().orElse(null));
      n.put("finished", x.finishedAt().orElse(null));
      n.put("wire", x.wire().orElse(null));
      // Which path its chunks took (docs/unicast.md): multicast, unicast or both.
      n.put("path", x.path().orElse(null));
      n.put("unicastBytes", x.unicastBytes());
      // The daemon serving it (docs/scale.md, "Sessions across daemons"); null before any did.
      n.put("daemon", x.daemon().orElse(null));
      ms.add(n);
    }
    m.put("members", ms);
    return m;
  }

  public static Map<String, Object> event(Event e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", e.id());
    m.put("time", e.timeMillis());
    m.put("kind", e.kind());
    m.put("mac", e.mac().orElse(null));
    m.put("session", e.session().orElse(null));
    m.put("message", e.message());
    return m;
  }

  public static Map<String, Object> error(String message) {
    return Map.of("error", message);
  }

  public static byte[] bytes(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise " + value.getClass(), e);
    }
  }

  /**
   * Parses a request body.
   *
   * @throws BadRequestException when it is not a JSON object
   */
  public static JsonNode object(byte[] body) {
    try {
      JsonNode n = MAPPER.readTree(body);
      if (n == null || !n.isObject()) {
        throw new BadRequestException("request body must be a JSON object");
      }
      return n;
    } catch (JacksonException e) {
      throw new BadRequestException("request body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new BadRequestException("request body cannot be read: " + e.getMessage());
    }
  }

  /** A text field, absent when missing; a present non-text value is an error. */
  /** A whole-number field, if present. */
  public static Optional<Long> number(JsonNode obj, String field) {
    JsonNode v = obj.get(field);
    if (v == null || v.isMissingNode() || v.isNull()) {
      return Optional.empty();
    }
    if (!v.canConvertToLong() || !v.isIntegralNumber()) {
      throw new BadRequestException("field '" + field + "' must be a whole number");
    }
    return Optional.of(v.asLong());
  }

  /** A boolean field, if present. */
  public static Optional<Boolean> bool(JsonNode obj, String field) {
    JsonNode v = obj.get(field);
    if (v == null || v.isMissingNode() || v.isNull()) {
      return Optional.empty();
    }
    if (!v.isBoolean()) {
      throw new BadRequestException("field '" + field + "' must be true or false");
    }
    return Optional.of(v.asBoolean());
  }

  public static Optional<String> text(JsonNode obj, String field) {
    JsonNode v = obj.get(field);
    if (v == null || v.isMissingNode()) {
      return Optional.empty();
    }
    if (!v.isTextual()) {
      throw new BadRequestException("field '" + field + "' must be a string");
    }
    return Optional.of(v.asText());
  }

  /**
   * A text field that may be explicitly null (to clear it): empty = absent, Optional.empty() inside
   * = null.
   */
  public static Optional<Optional<String>> nullableText(JsonNode obj, String field) {
    JsonNode v = obj.get(field);
    if (v == null) {
      return Optional.empty();
    }
    if (v.isNull()) {
      return Optional.of(Optional.empty());
    }
    return Optional.of(text(obj, field));
  }
}

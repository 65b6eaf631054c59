package org.clonecast.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.Node;

/**
 * JSON shapes of the API (docs/api.md), built explicitly so the wire format does not follow
 * internal renames.
 */
public final class Json {
  /** Thread-safe once configured. */
  public static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

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
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new BadRequestException("request body is not valid JSON: " + e.getOriginalMessage());
    } catch (java.io.IOException e) {
      throw new BadRequestException("request body cannot be read: " + e.getMessage());
    }
  }

  /** A text field, absent when missing; a present non-text value is an error. */
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

  /** A text field that may be explicitly null (to clear it): empty = absent, Optional.empty() inside = null. */
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

package org.clonecast.common.api;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.stream.Collectors;

/**
 * Reads and writes the agent API's bodies. Reading is strict where a call's meaning is at stake and
 * lenient where a newer peer may say more:
 *
 * <ul>
 *   <li>a required field missing or null, a value of the wrong JSON type (no number from a string,
 *       no whole number from a fraction, no text from a number), a number out of its field's range,
 *       an unknown enum value or action: {@link InvalidBodyException} naming the field;
 *   <li>unknown fields: ignored (forward compatibility).
 * </ul>
 *
 * Nesting is bounded (64 levels), so a hostile body cannot exhaust the stack. Thread-safe.
 */
public final class AgentJson {
  /** Deeper than any agent body; a hostile body deeper than this is refused, not recursed into. */
  static final int MAX_DEPTH = 64;

  private static final ObjectMapper MAPPER = configure();

  private AgentJson() {}

  private static ObjectMapper configure() {
    JsonMapper m =
        JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            // A null optional number or flag is its default, as it always was; required ones are
            // checked by their records.
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build();
    m.getFactory()
        .setStreamReadConstraints(
            StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build());
    // Text stays text and numbers stay numbers: "12" is no session id, 12 is no host key.
    for (LogicalType t :
        new LogicalType[] {
          LogicalType.Integer,
          LogicalType.Float,
          LogicalType.Boolean,
          LogicalType.Textual,
          LogicalType.Enum
        }) {
      m.coercionConfigFor(t)
          .setCoercion(
              CoercionInputShape.Integer,
              t == LogicalType.Integer || t == LogicalType.Float
                  ? CoercionAction.TryConvert
                  : CoercionAction.Fail)
          .setCoercion(
              CoercionInputShape.Float,
              t == LogicalType.Float ? CoercionAction.TryConvert : CoercionAction.Fail)
          .setCoercion(
              CoercionInputShape.Boolean,
              t == LogicalType.Boolean ? CoercionAction.TryConvert : CoercionAction.Fail)
          .setCoercion(
              CoercionInputShape.String,
              t == LogicalType.Textual || t == LogicalType.Enum
                  ? CoercionAction.TryConvert
                  : CoercionAction.Fail)
          .setCoercion(
              CoercionInputShape.EmptyString,
              t == LogicalType.Textual ? CoercionAction.TryConvert : CoercionAction.Fail);
    }
    return m;
  }

  /**
   * Parses a body as JSON, without reading it as any call yet (to learn the caller's MAC before
   * anything else).
   *
   * @throws InvalidBodyException unless it is one JSON object
   */
  public static JsonNode tree(byte[] body) {
    try {
      JsonNode n = MAPPER.readTree(body);
      if (n == null || !n.isObject()) {
        throw new InvalidBodyException("request body must be a JSON object");
      }
      return n;
    } catch (JacksonException e) {
      throw new InvalidBodyException("request body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new InvalidBodyException("request body cannot be read: " + e.getMessage());
    }
  }

  /**
   * Reads {@code body} as a {@code type}.
   *
   * @throws InvalidBodyException naming the field that is missing or wrong
   */
  public static <T> T read(byte[] body, Class<T> type) {
    return read(tree(body), type);
  }

  /**
   * Reads a parsed object as a {@code type}.
   *
   * @throws InvalidBodyException naming the field that is missing or wrong
   */
  public static <T> T read(JsonNode tree, Class<T> type) {
    if (tree == null || !tree.isObject()) {
      throw new InvalidBodyException("request body must be a JSON object");
    }
    try {
      return MAPPER.treeToValue(tree, type);
    } catch (ValueInstantiationException e) {
      // A compact constructor's check: its message names the field already.
      Throwable c = e.getCause();
      if (c instanceof IllegalArgumentException) {
        // Its message names the field within its record; put the record's place in the body before
        // it.
        String at = path(e);
        String m = c.getMessage() == null ? "" : c.getMessage();
        throw new InvalidBodyException(
            at.isEmpty()
                ? m
                : m.replaceFirst("^field '", Matcher.quoteReplacement("field '" + at + ".")));
      }
      throw new InvalidBodyException(field(e) + ": " + e.getOriginalMessage());
    } catch (InvalidTypeIdException e) {
      if (e.getTypeId() == null) {
        throw new InvalidBodyException("field 'action' is required");
      }
      throw new InvalidBodyException(
          "field 'action': '" + e.getTypeId() + "' is not one of reimage, capture, none, fail");
    } catch (MismatchedInputException e) {
      String m = e.getOriginalMessage();
      if (m != null && m.startsWith("Missing required creator property")) {
        String name = m.replaceAll("^Missing required creator property '([^']*)'.*$", "$1");
        return missing(e, name);
      }
      if (m != null && m.startsWith("Missing type id")) {
        throw new InvalidBodyException("field 'action' is required");
      }
      throw new InvalidBodyException(field(e) + " has the wrong type or value: " + firstLine(m));
    } catch (JsonProcessingException e) {
      throw new InvalidBodyException(field(e) + ": " + firstLine(e.getOriginalMessage()));
    } catch (IllegalArgumentException e) {
      throw new InvalidBodyException(firstLine(e.getMessage()));
    }
  }

  private static <T> T missing(MismatchedInputException e, String name) {
    String at = path(e);
    throw new InvalidBodyException(
        "field '"
            + (at.isEmpty() ? name : at.endsWith(name) ? at : at + "." + name)
            + "' is required");
  }

  /** Serialises an API body. */
  public static byte[] bytes(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise " + value.getClass().getName(), e);
    }
  }

  private static String field(JsonProcessingException e) {
    if (e instanceof JsonMappingException jm) {
      String p = path(jm);
      return p.isEmpty() ? "the body" : "field '" + p + "'";
    }
    return "the body";
  }

  /** The field a mapping error is about, as {@code disks[0].path}. */
  private static String path(JsonMappingException e) {
    return e.getPath().stream()
        .map(
            r ->
                r.getFieldName() != null
                    ? "." + r.getFieldName()
                    : r.getIndex() >= 0 ? "[" + r.getIndex() + "]" : "")
        .collect(Collectors.joining())
        .replaceFirst("^\\.", "");
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    String line = nl < 0 ? s : s.substring(0, nl);
    return line.length() > 200 ? line.substring(0, 200) + "..." : line;
  }
}

package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Locale;

/**
 * {@code POST /agent/v1/progress}: how far a node's re-imaging is. Progress never ends a node; only
 * a {@link Result} does.
 *
 * @param mac the node
 * @param session its session
 * @param phase what it is doing
 * @param done bytes written
 * @param total bytes to write
 * @param unicastBytes of {@code done}, bytes written from chunks fetched by unicast (the fallback
 *     for nodes multicast does not reach, docs/unicast.md); absent: 0
 */
public record Progress(
    @JsonProperty(required = true) String mac,
    @JsonProperty(required = true) long session,
    @JsonProperty(required = true) Phase phase,
    long done,
    long total,
    long unicastBytes) {
  public Progress {
    Fields.required(mac, "mac");
    Fields.id(session, "session");
    Fields.required(phase, "phase");
    Fields.notNegative(done, "done");
    Fields.notNegative(total, "total");
    Fields.notNegative(unicastBytes, "unicastBytes");
  }

  /** What a node is doing. */
  public enum Phase {
    /** Receiving and writing the image. */
    @JsonProperty("receiving")
    RECEIVING,
    /** Written and verified; setting its identity. */
    @JsonProperty("identity")
    IDENTITY;

    /** The wire name. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }
}

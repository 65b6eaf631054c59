package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Optional;

/**
 * {@code POST /agent/v1/result}: the node is done (ok) or failed; only this report may publish its
 * SSH host key.
 *
 * @param mac the node
 * @param session its session
 * @param ok whether it was re-imaged
 * @param detail what happened (null: "re-imaged" or "failed")
 * @param sshHostKey its new SSH host key, {@code type base64} (null: none)
 * @param unicastBytes of the bytes it wrote, those from chunks fetched by unicast
 *     (docs/unicast.md); absent: 0
 */
public record Result(
    @JsonProperty(required = true) String mac,
    @JsonProperty(required = true) long session,
    @JsonProperty(required = true) Boolean ok,
    String detail,
    @JsonInclude(JsonInclude.Include.NON_NULL) String sshHostKey,
    long unicastBytes) {
  public Result {
    Fields.required(mac, "mac");
    Fields.id(session, "session");
    Fields.required(ok, "ok");
    Fields.notNegative(unicastBytes, "unicastBytes");
    detail = detail == null ? (ok ? "re-imaged" : "failed") : detail;
  }

  public Optional<String> sshHostKeyIfAny() {
    return Optional.ofNullable(sshHostKey);
  }
}

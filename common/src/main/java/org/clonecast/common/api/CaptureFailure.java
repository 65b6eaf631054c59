package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code POST /agent/v1/capture/{id}/result}: the agent gave up. A capture succeeds only by its
 * finish call, so {@code ok} must be false.
 *
 * @param mac the node
 * @param ok false
 * @param detail why (null: "the agent failed")
 */
public record CaptureFailure(@JsonProperty(required = true) String mac, boolean ok, String detail) {
  public CaptureFailure {
    Fields.required(mac, "mac");
    if (ok) {
      throw new InvalidBodyException(
          "field 'ok': a capture succeeds by its finish call; result only reports a failure");
    }
    detail = detail == null ? "the agent failed" : detail;
  }

  public static CaptureFailure of(String mac, String detail) {
    return new CaptureFailure(mac, false, detail);
  }
}

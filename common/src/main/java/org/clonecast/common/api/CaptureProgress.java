package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code POST /agent/v1/capture/{id}/progress}: logical bytes read so far.
 *
 * @param mac the node
 * @param done bytes read
 * @param total bytes to read
 */
public record CaptureProgress(
    @JsonProperty(required = true) String mac,
    @JsonProperty(required = true) long done,
    @JsonProperty(required = true) long total) {
  public CaptureProgress {
    Fields.required(mac, "mac");
  }
}

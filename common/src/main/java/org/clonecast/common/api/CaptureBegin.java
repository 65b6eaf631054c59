package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code POST /agent/v1/capture/{id}/begin}: starts or resumes a capture; the answer is {@link
 * CaptureHeld}.
 *
 * @param mac the node
 * @param logicalSize the disk's size in bytes
 * @param chunkSize logical bytes per chunk
 */
public record CaptureBegin(
    @JsonProperty(required = true) String mac,
    @JsonProperty(required = true) long logicalSize,
    @JsonProperty(required = true) int chunkSize) {
  public CaptureBegin {
    Fields.required(mac, "mac");
  }
}

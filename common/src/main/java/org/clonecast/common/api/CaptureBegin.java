package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * {@code POST /agent/v1/capture/{id}/begin}: starts or resumes a capture; the answer is {@link
 * CaptureHeld}.
 *
 * @param mac the node
 * @param logicalSize the disk's size in bytes
 * @param chunkSize logical bytes per chunk
 * @param hashOfChunks whether the manifest the agent will send is of version 3 (its image hash that
 *     of the chunk digests); absent (false) from agents that predate version 3
 */
public record CaptureBegin(
    @JsonProperty(required = true) String mac,
    @JsonProperty(required = true) long logicalSize,
    @JsonProperty(required = true) int chunkSize,
    @JsonProperty boolean hashOfChunks) {
  public CaptureBegin {
    Fields.required(mac, "mac");
  }

  /**
   * The call of an agent whose manifest has the image hash of all logical bytes (versions 1 and 2).
   */
  public CaptureBegin(String mac, long logicalSize, int chunkSize) {
    this(mac, logicalSize, chunkSize, false);
  }
}

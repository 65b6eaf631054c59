package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The answer to {@link CaptureBegin}: what the daemon holds of the upload.
 *
 * @param heldThrough every stored chunk up to this index is held (-1: none)
 * @param heldChunks how many chunks are held
 * @param storedBytes their stored bytes
 */
public record CaptureHeld(
    @JsonProperty(required = true) int heldThrough,
    @JsonProperty(required = true) int heldChunks,
    @JsonProperty(required = true) long storedBytes) {}

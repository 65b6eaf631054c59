package org.clonecast.common.api;

/**
 * The answer to {@code PUT /agent/v1/capture/{id}/chunk/{index}}.
 *
 * @param stored always true (a refusal is a 4xx)
 * @param duplicate whether the daemon already held the chunk
 */
public record ChunkStored(boolean stored, boolean duplicate) {}

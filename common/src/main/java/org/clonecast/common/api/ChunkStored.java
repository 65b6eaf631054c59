package org.clonecast.common.api;

/**
 * The answer to {@code PUT /agent/v1/capture/{id}/chunk/{index}}.
 *
 * @param stored always true (a refusal is a 4xx)
 * @param duplicate whether the daemon already held the chunk (or holds it waiting for the chunk it
 *     follows)
 * @param heldThrough the highest chunk index the daemon holds now: every stored chunk up to it is
 *     appended to the image (a chunk that arrived before the chunk it follows waits in memory and
 *     is not yet counted)
 */
public record ChunkStored(boolean stored, boolean duplicate, int heldThrough) {}

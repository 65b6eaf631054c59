package org.clonecast.common.api;

/**
 * The answer to {@code PUT /agent/v1/capture/{id}/chunk/{index}}.
 *
 * @param stored false only for a reference (header {@code X-Clonecast-Pooled}) to a chunk the
 *     daemon's pool does not hold: nothing was stored, send the chunk's bytes; true otherwise (a
 *     refusal is a 4xx)
 * @param duplicate whether the daemon already held the chunk (or holds it waiting for the chunk it
 *     follows)
 * @param heldThrough the highest chunk index the daemon holds now: every stored chunk up to it is
 *     appended to the image (a chunk that arrived before the chunk it follows waits in memory and
 *     is not yet counted)
 */
public record ChunkStored(boolean stored, boolean duplicate, int heldThrough) {}

package org.clonecast.common.api;

/**
 * The answer to {@code POST /agent/v1/capture/{id}/finish}: the published image's figures.
 *
 * @param imageId its UUID
 * @param logicalSize the disk's size in bytes
 * @param chunks its chunk count
 * @param storedBytes bytes stored
 * @param imageHash SHA-256 over the logical image, hex
 */
public record CaptureFinished(
    String imageId, long logicalSize, int chunks, long storedBytes, String imageHash) {}

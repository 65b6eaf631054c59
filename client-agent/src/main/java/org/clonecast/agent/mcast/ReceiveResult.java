package org.clonecast.agent.mcast;

/**
 * How a receive ended. {@code ok} only when every chunk was written, verified against the manifest
 * and flushed to stable storage.
 */
public record ReceiveResult(
    boolean ok,
    String reason,
    long bytesWritten,
    long nanos,
    long packets,
    long repairs,
    long duplicates,
    long rejected) {}

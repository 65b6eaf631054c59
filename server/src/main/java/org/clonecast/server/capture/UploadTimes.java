package org.clonecast.server.capture;

import java.util.Locale;

/**
 * Where a capture's upload time went on the daemon, for the line logged when the image is
 * published: how long chunk requests were being handled (at least one at a time) against the span
 * from the first chunk to the last, so an operator sees whether the daemon or the node was the
 * slower side (an idle daemon waited for the node; a daemon busy all along was what the node waited
 * for), and the thread-seconds spent checking and appending.
 *
 * <p>Takes times as arguments ({@code System.nanoTime()} in the caller), so it is tested without a
 * clock. Thread-safe: the chunks in flight are handled on several threads.
 */
final class UploadTimes {
  private long first = -1;
  private long last;
  private int active;
  private long busySince;
  private long busy;
  private long checking;
  private long appending;
  private int chunks;
  private int early;
  private long received;
  private int referenced;
  private long referencedBytes;

  /** A chunk request's handling begins at {@code now}. */
  synchronized void started(long now) {
    if (first < 0) {
      first = now;
    }
    if (active++ == 0) {
      busySince = now;
    }
  }

  /**
   * The request that began at {@code start} ends at {@code now}, having spent {@code check}
   * nanoseconds decoding and hashing and {@code append} appending (this chunk and any that waited
   * for it).
   */
  synchronized void ended(long start, long check, long append, long now) {
    if (active == 0) {
      throw new IllegalStateException("a chunk request ended that never started");
    }
    if (--active == 0) {
      busy += now - busySince;
    }
    last = Math.max(last, now);
    checking += check;
    appending += append;
    chunks++;
  }

  /**
   * A chunk request carried {@code body} bytes and, for a reference the daemon took from its pool,
   * the {@code pooled} stored bytes it did not have to receive (0 otherwise).
   */
  synchronized void counted(long body, long pooled) {
    received += body;
    if (pooled > 0) {
      referenced++;
      referencedBytes += pooled;
    }
  }

  /** Bytes the chunk requests carried. */
  synchronized long received() {
    return received;
  }

  /** Chunks taken from the pool by reference. */
  synchronized int referenced() {
    return referenced;
  }

  /** A chunk arrived before the chunk it follows and waits for it. */
  synchronized void waited() {
    early++;
  }

  /** Nanoseconds from the first chunk request's start to the last one's end. */
  synchronized long span() {
    return first < 0 ? 0 : last - first;
  }

  /** Nanoseconds in which at least one chunk request was being handled. */
  synchronized long busy() {
    return busy;
  }

  /**
   * e.g. "955 chunks in 7.8 s: handling chunks 5.1 s, idle between them 2.7 s; checking 4.9
   * thread-s, appending 0.3 s; 12 arrived before their predecessor; 812345678 bytes received, 3
   * chunks (2345678 bytes) taken from the pool by reference".
   */
  synchronized String summary() {
    long span = span();
    return String.format(
        Locale.ROOT,
        "%d chunks in %.1f s: handling chunks %.1f s, idle between them %.1f s;"
            + " checking %.1f thread-s, appending %.1f s; %d arrived before their predecessor;"
            + " %d bytes received, %d chunks (%d bytes) taken from the pool by reference",
        chunks,
        span / 1e9,
        busy / 1e9,
        Math.max(0, span - busy) / 1e9,
        checking / 1e9,
        appending / 1e9,
        early,
        received,
        referenced,
        referencedBytes);
  }
}

package org.clonecast.common.api;

/**
 * The answer to a report (progress, result, capture progress and failure): {@code {"ok": true}}.
 *
 * @param ok true
 */
public record Ack(boolean ok) {
  public static final Ack OK = new Ack(true);
}

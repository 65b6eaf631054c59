package org.clonecast.server.store;

import java.util.Objects;
import java.util.Optional;

/**
 * One line of the daemon's event log: a boot step, an inventory change, a session milestone.
 *
 * @param id increasing; clients poll for events after the last id they saw
 * @param timeMillis epoch ms
 * @param kind subsystem: dhcp, tftp, http, node, session, daemon
 * @param mac the node concerned, if any
 * @param session the session concerned, if any
 * @param message what happened, one line
 */
public record Event(
    long id,
    long timeMillis,
    String kind,
    Optional<String> mac,
    Optional<String> session,
    String message) {
  public Event {
    Objects.requireNonNull(kind);
    Objects.requireNonNull(mac);
    Objects.requireNonNull(session);
    Objects.requireNonNull(message);
  }
}

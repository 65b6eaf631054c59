package org.clonecast.server.dhcp;

import java.net.Inet4Address;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;

/**
 * What the lease table knows about one address.
 *
 * @param ip the address
 * @param mac its holder; empty while quarantined after a DECLINE
 * @param state see {@link State}
 * @param expiresMillis epoch ms when the offer, lease or quarantine ends (wall clock: leases
 *     outlive the process, so a monotonic clock would not do)
 *     <p>Immutable; thread-safe.
 */
public record Lease(
    Inet4Address ip, Optional<MacAddress> mac, Lease.State state, long expiresMillis) {
  /** Where an address is in its life. Only {@link #OFFERED} is never stored. */
  public enum State {
    /** Offered, held for the client until the offer times out; in memory only. */
    OFFERED,
    /** Acknowledged: the client uses it until it expires. */
    BOUND,
    /** Given back (RELEASE) or replaced; free, but the same MAC gets it again first. */
    RELEASED,
    /** A client found it in use (DECLINE): nobody gets it until the quarantine ends. */
    DECLINED;

    /** Lower-case name as stored. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The state with a stored name. */
    public static State parse(String id) {
      return valueOf(id.toUpperCase(Locale.ROOT));
    }
  }

  public Lease {
    Objects.requireNonNull(ip);
    Objects.requireNonNull(mac);
    Objects.requireNonNull(state);
    if (mac.isEmpty() != (state == State.DECLINED)) {
      throw new IllegalArgumentException(
          "lease of " + ip.getHostAddress() + ": a MAC is required unless declined");
    }
  }

  /**
   * Whether the address is taken at {@code nowMillis}: offered, bound or quarantined and not yet
   * expired.
   */
  public boolean activeAt(long nowMillis) {
    return state != State.RELEASED && nowMillis < expiresMillis;
  }

  /**
   * Whether {@code mac} may use the address at {@code nowMillis}: nobody else holds it and it is
   * not quarantined.
   */
  public boolean freeFor(MacAddress other, long nowMillis) {
    return !activeAt(nowMillis) || mac.equals(Optional.of(other));
  }
}

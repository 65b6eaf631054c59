package org.clonecast.protocol.dhcp;

import java.util.Optional;

/** Option 53 values (RFC 2132 §9.6). Thread-safe. */
public enum DhcpMessageType {
  DISCOVER(1),
  OFFER(2),
  REQUEST(3),
  DECLINE(4),
  ACK(5),
  NAK(6),
  RELEASE(7),
  INFORM(8);

  private final int code;

  DhcpMessageType(int code) {
    this.code = code;
  }

  /** The value on the wire. */
  public int code() {
    return code;
  }

  /**
   * The type for a wire value; empty for values RFC 2132 does not define (e.g. RFC 4388's 10-13).
   */
  public static Optional<DhcpMessageType> of(int code) {
    return code >= 1 && code <= 8 ? Optional.of(values()[code - 1]) : Optional.empty();
  }
}

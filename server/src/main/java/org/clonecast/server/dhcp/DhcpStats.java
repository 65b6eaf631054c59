package org.clonecast.server.dhcp;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.clonecast.protocol.dhcp.DhcpMessageType;

/**
 * The DHCP responder's counters, for the metrics endpoint: datagrams received and replies sent per
 * message type, and those that were malformed, ignored (not for us, nothing to say) or dropped (a
 * lease could not be stored, so its ACK was not sent); and the store transactions ({@code commits}:
 * far fewer than ACKs under load, since a burst shares one).
 *
 * <p>Thread-safe.
 */
public final class DhcpStats {
  private final Map<DhcpMessageType, LongAdder> rx = new EnumMap<>(DhcpMessageType.class);
  private final Map<DhcpMessageType, LongAdder> tx = new EnumMap<>(DhcpMessageType.class);
  private final LongAdder malformed = new LongAdder();
  private final LongAdder ignored = new LongAdder();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder commits = new LongAdder();
  private final LongAdder conflicts = new LongAdder();

  public DhcpStats() {
    for (DhcpMessageType t : DhcpMessageType.values()) {
      rx.put(t, new LongAdder());
      tx.put(t, new LongAdder());
    }
  }

  void received(DhcpMessageType t) {
    rx.get(t).increment();
  }

  void sent(DhcpMessageType t) {
    tx.get(t).increment();
  }

  void countMalformed() {
    malformed.increment();
  }

  void countIgnored() {
    ignored.increment();
  }

  void countDropped(int n) {
    dropped.add(n);
  }

  void countError() {
    errors.increment();
  }

  void countConflicts(int n) {
    conflicts.add(n);
  }

  /**
   * Decisions the store refused because another daemon sharing it had given the address to another
   * client (docs/scale.md).
   */
  public long conflicts() {
    return conflicts.sum();
  }

  void countCommit() {
    commits.increment();
  }

  public long rx(DhcpMessageType t) {
    return rx.get(t).sum();
  }

  public long tx(DhcpMessageType t) {
    return tx.get(t).sum();
  }

  public long malformed() {
    return malformed.sum();
  }

  public long ignored() {
    return ignored.sum();
  }

  public long dropped() {
    return dropped.sum();
  }

  public long errors() {
    return errors.sum();
  }

  public long commits() {
    return commits.sum();
  }
}

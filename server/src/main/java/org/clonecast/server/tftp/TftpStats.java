package org.clonecast.server.tftp;

import java.util.concurrent.atomic.LongAdder;

/** Counters of the TFTP server, for {@code /metrics}. Thread-safe. */
public final class TftpStats {
  /** Datagrams received, on port 69 and on transfer ports. */
  public final LongAdder rx = new LongAdder();

  /** Datagrams sent. */
  public final LongAdder tx = new LongAdder();

  /** Datagrams that did not decode; dropped. */
  public final LongAdder malformed = new LongAdder();

  /**
   * Well-formed packets that changed nothing: duplicate requests, stale ACKs, DATA/ACK sent to port
   * 69.
   */
  public final LongAdder ignored = new LongAdder();

  /** Packets to a transfer port from another address or port, answered with ERROR 5. */
  public final LongAdder wrongTid = new LongAdder();

  /** DATA and OACK packets sent again after a timeout. */
  public final LongAdder retransmits = new LongAdder();

  /** Transfers whose last block was acknowledged. */
  public final LongAdder transfersOk = new LongAdder();

  /** Transfers that ended in an error or a timeout after they started. */
  public final LongAdder transfersFailed = new LongAdder();

  /** EDK2-style size probes: OACK with tsize, then the client's ERROR 8. */
  public final LongAdder probes = new LongAdder();

  /** Requests answered with an ERROR (missing file, outside the root, WRQ, mode). */
  public final LongAdder refused = new LongAdder();

  /** Requests refused because max-transfers were running (or, for refusals, no slot was free). */
  public final LongAdder busy = new LongAdder();

  /** Requests refused because max-transfers-per-client were running for the requester's address. */
  public final LongAdder busyClient = new LongAdder();

  /** DATA payload bytes sent, retransmissions included. */
  public final LongAdder bytesSent = new LongAdder();
}

package org.clonecast.server.http;

import java.util.concurrent.atomic.LongAdder;

/** Counters of the HTTP server, for {@code /metrics}. Thread-safe. */
public final class HttpStats {
  public final LongAdder requests = new LongAdder();
  public final LongAdder clientErrors = new LongAdder();
  public final LongAdder serverErrors = new LongAdder();
  public final LongAdder bytesSent = new LongAdder();

  /** Connections refused at accept: http.max-connections were open. */
  public final LongAdder refusedFull = new LongAdder();

  /** Connections refused at accept: http.max-connections-per-client were open from that address. */
  public final LongAdder refusedClient = new LongAdder();

  /** Connections closed after http.idle-timeout with no byte moving. */
  public final LongAdder idleClosed = new LongAdder();
}

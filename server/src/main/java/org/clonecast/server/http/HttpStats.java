package org.clonecast.server.http;

import java.util.concurrent.atomic.LongAdder;

/** Counters of the HTTP server, for {@code /metrics}. Thread-safe. */
public final class HttpStats {
  public final LongAdder requests = new LongAdder();
  public final LongAdder clientErrors = new LongAdder();
  public final LongAdder serverErrors = new LongAdder();
  public final LongAdder bytesSent = new LongAdder();
}

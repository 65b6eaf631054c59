package org.clonecast.server.dns;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.xbill.DNS.Rcode;

/** Counters of the DNS responder, for {@code /metrics}. Thread-safe. */
public final class DnsStats {
  /** Queries that parsed and were answered (or forwarded). */
  public final LongAdder queries = new LongAdder();

  /** Packets that did not parse: answered FORMERR when the header was readable, else dropped. */
  public final LongAdder malformed = new LongAdder();

  /** Packets dropped on purpose: responses (QR=1) sent to us. */
  public final LongAdder ignored = new LongAdder();

  /** UDP answers cut to the client's size with TC set. */
  public final LongAdder truncated = new LongAdder();

  /** Queries sent on to a forwarder. */
  public final LongAdder forwarded = new LongAdder();

  /** Forwarded queries no forwarder answered (SERVFAIL). */
  public final LongAdder forwardFailures = new LongAdder();

  /** Unexpected failures inside the responder (answered SERVFAIL or dropped); should stay 0. */
  public final LongAdder errors = new LongAdder();

  /** RFC 2136 updates the site's server accepted, and those given up after every retry. */
  public final LongAdder updatesSent = new LongAdder();

  public final LongAdder updatesFailed = new LongAdder();

  /** Answers sent, by response code (extended codes up to 4095, RFC 6891). */
  private final AtomicLongArray byRcode = new AtomicLongArray(24);

  void answered(int rcode) {
    byRcode.incrementAndGet(rcode >= 0 && rcode < byRcode.length() ? rcode : byRcode.length() - 1);
  }

  /**
   * Answers sent per response code, by mnemonic (NOERROR, NXDOMAIN, ...); codes never sent are left
   * out.
   */
  public Map<String, Long> answersByRcode() {
    Map<String, Long> out = new TreeMap<>();
    for (int i = 0; i < byRcode.length(); i++) {
      long n = byRcode.get(i);
      if (n > 0) {
        out.put(Rcode.string(i), n);
      }
    }
    return out;
  }

  /** Answers sent with {@code rcode}. */
  public long answers(int rcode) {
    return byRcode.get(rcode);
  }
}

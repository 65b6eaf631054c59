package org.clonecast.server.dns;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;

/**
 * Sends queries for names outside the cluster zone to the site's resolvers, one after the other
 * until one answers (dnsjava {@link SimpleResolver}: UDP, TCP on truncation). Only built when
 * {@code dns.forwarders} is set; without it the responder is never an open resolver.
 *
 * <p>Thread-safe.
 */
public final class DnsForwarder {
  private final List<SimpleResolver> upstreams = new ArrayList<>();
  private final SecureRandom random = new SecureRandom();

  /**
   * @param timeout how long to wait for each forwarder
   */
  public DnsForwarder(List<InetSocketAddress> servers, Duration timeout) {
    if (servers.isEmpty()) {
      throw new IllegalArgumentException("no forwarders");
    }
    for (InetSocketAddress s : servers) {
      SimpleResolver r = new SimpleResolver(s);
      r.setTimeout(timeout);
      r.setEDNS(0, DnsAuthority.EDNS_PAYLOAD, 0);
      upstreams.add(r);
    }
  }

  /**
   * Asks the forwarders for {@code query}'s question with a fresh random id (the client's id is not
   * reused upstream). Completes with the first answer that is not SERVFAIL or REFUSED,
   * exceptionally when none answered.
   */
  public CompletionStage<Message> forward(Message query) {
    Record question = query.getQuestion();
    Message upstream = new Message(random.nextInt(0x10000));
    upstream.getHeader().setFlag(Flags.RD);
    if (query.getHeader().getFlag(Flags.CD)) {
      upstream.getHeader().setFlag(Flags.CD);
    }
    upstream.addRecord(question, Section.QUESTION);
    return tryFrom(0, upstream, null);
  }

  private CompletionStage<Message> tryFrom(int i, Message q, Message lastAnswer) {
    if (i >= upstreams.size()) {
      return lastAnswer != null
          ? CompletableFuture.completedFuture(lastAnswer)
          : CompletableFuture.failedFuture(new IOException("no forwarder answered"));
    }
    return upstreams
        .get(i)
        .sendAsync(q)
        .handle(
            (m, e) -> {
              if (e == null && m.getRcode() != Rcode.SERVFAIL && m.getRcode() != Rcode.REFUSED) {
                return CompletableFuture.completedFuture(m);
              }
              return tryFrom(i + 1, q, e == null ? m : lastAnswer);
            })
        .thenCompose(s -> s);
  }
}

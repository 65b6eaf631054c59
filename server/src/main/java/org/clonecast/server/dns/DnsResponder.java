package org.clonecast.server.dns;

import java.util.Objects;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Section;

/**
 * The responder's wire side, still without I/O: packet bytes in, response bytes (or silence) out.
 * Shared by the UDP and TCP shells.
 *
 * <ul>
 *   <li>shorter than a header (12 bytes): silence, counted malformed (there is no id to answer);
 *   <li>QR set (a response sent to us): silence, counted ignored, so two servers never loop;
 *   <li>a readable header with an unparseable body (bad counts, labels, compression loops,
 *       truncation, even with TC set): FORMERR, counted malformed (RFC 1035 §4.1.1);
 *   <li>UDP answers larger than the client's limit (512, or its EDNS payload size up to {@link
 *       DnsAuthority#EDNS_PAYLOAD}) are cut at a record set boundary with TC set (RFC 2181 §9),
 *       keeping the OPT record; the client retries over TCP.
 * </ul>
 *
 * <p>Thread-safe; never throws.
 */
public final class DnsResponder {
  /** RFC 1035 §4.2.1: the UDP limit without EDNS. */
  public static final int UDP_LIMIT = 512;

  /** RFC 1035 §4.2.2: TCP messages carry a 16-bit length. */
  public static final int TCP_LIMIT = 65_535;

  /** What to do with one packet. */
  public sealed interface Outcome {
    /** Send these bytes back to the sender. */
    record Reply(byte[] wire) implements Outcome {}

    /** Ask a forwarder, then {@link #forwarded} or {@link #forwardFailed}. */
    record Forward(Message query) implements Outcome {}

    /** Send nothing; {@code reason} is for the DEBUG log. */
    record Silence(String reason) implements Outcome {}
  }

  private final DnsAuthority authority;
  private final DnsStats stats;

  public DnsResponder(DnsAuthority authority, DnsStats stats) {
    this.authority = Objects.requireNonNull(authority);
    this.stats = Objects.requireNonNull(stats);
  }

  public DnsStats stats() {
    return stats;
  }

  /** Handles one packet received over UDP ({@code tcp} false) or one TCP message. */
  public Outcome respond(byte[] packet, boolean tcp) {
    if (packet.length < Header.LENGTH) {
      stats.malformed.increment();
      return new Outcome.Silence(packet.length + " bytes, shorter than a DNS header");
    }
    Header header;
    try {
      header = new Header(packet);
    } catch (Exception e) {
      stats.malformed.increment();
      return new Outcome.Silence("unreadable header: " + e.getMessage());
    }
    if (header.getFlag(Flags.QR)) {
      stats.ignored.increment();
      return new Outcome.Silence("a response (QR=1), not a query");
    }
    Message query;
    try {
      query = new Message(packet);
    } catch (Exception e) {
      // dnsjava throws WireParseException for most damage; anything else is damage too.
      stats.malformed.increment();
      return reply(null, authority.formatError(header), tcp);
    }
    if (!countsMatch(query)) {
      stats.malformed.increment();
      return reply(null, authority.formatError(header), tcp);
    }
    stats.queries.increment();
    try {
      DnsAuthority.Decision d = authority.resolve(query);
      if (d instanceof DnsAuthority.Decision.Forward f) {
        stats.forwarded.increment();
        return new Outcome.Forward(f.query());
      }
      return reply(query, ((DnsAuthority.Decision.Answer) d).response(), tcp);
    } catch (RuntimeException e) {
      stats.errors.increment();
      return reply(query, authority.serverFailure(query), tcp);
    }
  }

  /**
   * Whether every section holds as many records as the header says. dnsjava accepts a message with
   * TC set that ends early (a truncated response is legal); a query cut short is damage.
   */
  private static boolean countsMatch(Message m) {
    for (int section = Section.QUESTION; section <= Section.ADDITIONAL; section++) {
      if (m.getSection(section).size() != m.getHeader().getCount(section)) {
        return false;
      }
    }
    return true;
  }

  /** Our answer to {@code query} from a forwarder's response. */
  public Outcome forwarded(Message query, Message upstream, boolean tcp) {
    try {
      return reply(query, authority.fromForwarder(query, upstream), tcp);
    } catch (RuntimeException e) {
      stats.errors.increment();
      return new Outcome.Silence("cannot relay the forwarder's answer: " + e);
    }
  }

  /** SERVFAIL after no forwarder answered {@code query}. */
  public Outcome forwardFailed(Message query, boolean tcp) {
    stats.forwardFailures.increment();
    return reply(query, authority.serverFailure(query), tcp);
  }

  /** The size a UDP answer to {@code query} may have (RFC 6891 §6.2.5). */
  static int udpLimit(Message query) {
    OPTRecord opt = query == null ? null : query.getOPT();
    if (opt == null) {
      return UDP_LIMIT;
    }
    // Payload sizes below 512 are treated as 512 (RFC 6891 §6.2.5).
    return Math.max(UDP_LIMIT, Math.min(opt.getPayloadSize(), DnsAuthority.EDNS_PAYLOAD));
  }

  private Outcome reply(Message query, Message response, boolean tcp) {
    try {
      int limit = tcp ? TCP_LIMIT : udpLimit(query);
      byte[] wire = response.toWire(limit);
      if (wire.length < Header.LENGTH) {
        stats.errors.increment();
        return new Outcome.Silence("response did not fit in " + limit + " bytes");
      }
      if ((wire[2] & 0x02) != 0 && !response.getHeader().getFlag(Flags.TC)) {
        stats.truncated.increment();
      }
      stats.answered(response.getRcode());
      return new Outcome.Reply(wire);
    } catch (RuntimeException e) {
      stats.errors.increment();
      return new Outcome.Silence("cannot encode the response: " + e);
    }
  }
}

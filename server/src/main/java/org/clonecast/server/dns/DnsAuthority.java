package org.clonecast.server.dns;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.RRset;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The responder's decisions: a parsed query in, a response (or "forward this") out. No I/O, no
 * clock: the zone comes from the {@link HostDirectory} at each query and is rebuilt only when the
 * directory hands out a different list; the SOA serial then goes up by one.
 *
 * <ul>
 *   <li>opcode other than QUERY: NOTIMP (RFC 1035 §4.1.1); not exactly one question: FORMERR;
 *   <li>EDNS (RFC 6891): an OPT in the query gets ours back; version above 0 gets BADVERS, two OPTs
 *       FORMERR;
 *   <li>names in the zones: AA, the records, or NODATA / NXDOMAIN with the SOA in the authority
 *       section (RFC 2308); zone transfers are REFUSED;
 *   <li>anything else: REFUSED, or {@link Decision.Forward} when forwarders are configured (then RA
 *       is set on every answer).
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class DnsAuthority {
  /** The UDP payload size we advertise and accept at most (the DNS Flag Day 2020 value). */
  public static final int EDNS_PAYLOAD = 1232;

  /** RFC 6891 §6.1.3: the extended rcode for an unsupported EDNS version. */
  static final int BADVERS = Rcode.BADVERS;

  /** What to do with a query. */
  public sealed interface Decision {
    /** Send this response. */
    record Answer(Message response) implements Decision {}

    /** Ask a forwarder; {@link DnsAuthority#fromForwarder} turns its answer into our response. */
    record Forward(Message query) implements Decision {}
  }

  private final DnsZone.Spec spec;
  private final HostDirectory directory;
  private final boolean recursion;
  private final AtomicReference<Snapshot> zone;

  private record Snapshot(List<HostDirectory.Host> source, DnsZone zone) {}

  /**
   * @param initialSerial the first SOA serial (e.g. the start time in seconds, so a restarted
   *     server's serials still go up)
   * @param recursion whether names outside the zone go to forwarders
   */
  public DnsAuthority(
      DnsZone.Spec spec, HostDirectory directory, long initialSerial, boolean recursion) {
    this.spec = Objects.requireNonNull(spec);
    this.directory = Objects.requireNonNull(directory);
    this.recursion = recursion;
    List<HostDirectory.Host> hosts = directory.hosts();
    this.zone =
        new AtomicReference<>(new Snapshot(hosts, DnsZone.build(spec, hosts, initialSerial)));
  }

  /** The zone as of now: rebuilt, with the next serial, when the directory's data changed. */
  public DnsZone zone() {
    List<HostDirectory.Host> hosts = directory.hosts();
    while (true) {
      Snapshot s = zone.get();
      if (s.source() == hosts) {
        return s.zone();
      }
      // A new list with the same content (a write that changed nothing here) keeps the serial.
      DnsZone z =
          s.source().equals(hosts) ? s.zone() : DnsZone.build(spec, hosts, s.zone().serial() + 1);
      if (zone.compareAndSet(s, new Snapshot(hosts, z))) {
        return z;
      }
    }
  }

  /** Decides the answer to {@code query} (a parsed message with QR clear). */
  public Decision resolve(Message query) {
    Header qh = query.getHeader();
    Record question = query.getQuestion();
    if (qh.getOpcode() != Opcode.QUERY) {
      return answer(query, question, Rcode.NOTIMP);
    }
    if (query.getSection(Section.QUESTION).size() != 1) {
      return answer(query, null, Rcode.FORMERR);
    }
    List<Record> additional = query.getSection(Section.ADDITIONAL);
    if (additional.stream().filter(r -> r.getType() == Type.OPT).count() > 1) {
      return answer(query, question, Rcode.FORMERR);
    }
    OPTRecord opt = query.getOPT();
    if (opt != null && opt.getVersion() > 0) {
      return answer(query, question, BADVERS);
    }
    int qclass = question.getDClass();
    int qtype = question.getType();
    DnsZone z = zone();
    Name qname = question.getName();
    if (z.apexOf(qname).isEmpty() || (qclass != DClass.IN && qclass != DClass.ANY)) {
      if (recursion && qclass == DClass.IN) {
        return new Decision.Forward(query);
      }
      return answer(query, question, Rcode.REFUSED);
    }
    if (qtype == Type.AXFR || qtype == Type.IXFR) {
      return answer(query, question, Rcode.REFUSED);
    }
    DnsZone.Lookup found = z.lookup(qname, qtype);
    Message r =
        response(
            query,
            question,
            found.kind() == DnsZone.Kind.NXDOMAIN ? Rcode.NXDOMAIN : Rcode.NOERROR);
    r.getHeader().setFlag(Flags.AA);
    if (found.kind() == DnsZone.Kind.ANSWER) {
      for (RRset set : found.answer()) {
        for (Record rr : set.rrs(false)) {
          // The owner as the client spelt it: resolvers that randomise case (0x20) compare it.
          r.addRecord(rr.withName(qname), Section.ANSWER);
        }
      }
    } else {
      // RFC 2308 §3: the SOA's TTL in a negative answer is the lesser of its TTL and MINIMUM;
      // DnsZone makes both the configured TTL.
      SOARecord soa = z.soa(found.apex());
      r.addRecord(soa, Section.AUTHORITY);
    }
    return new Decision.Answer(r);
  }

  /**
   * Our response from a forwarder's {@code upstream} answer to {@code query}: its records with our
   * id, flags and EDNS.
   */
  public Message fromForwarder(Message query, Message upstream) {
    Message r = response(query, query.getQuestion(), upstream.getRcode());
    Header h = r.getHeader();
    if (upstream.getHeader().getFlag(Flags.AD) && query.getHeader().getFlag(Flags.AD)) {
      h.setFlag(Flags.AD);
    }
    for (int section : new int[] {Section.ANSWER, Section.AUTHORITY, Section.ADDITIONAL}) {
      for (Record rr : upstream.getSection(section)) {
        if (rr.getType() != Type.OPT && rr.getType() != Type.TSIG) {
          r.addRecord(rr, section);
        }
      }
    }
    return r;
  }

  /** SERVFAIL for a query no forwarder answered. */
  public Message serverFailure(Message query) {
    return response(query, query.getQuestion(), Rcode.SERVFAIL);
  }

  /**
   * FORMERR for a packet whose header was readable but whose body was not (RFC 1035 §4.1.1). The
   * question cannot be echoed: it is what failed to parse.
   */
  public Message formatError(Header queryHeader) {
    Message r = reply(queryHeader);
    r.getHeader().setRcode(Rcode.FORMERR);
    return r;
  }

  /**
   * An empty response to a query with header {@code qh}: id, opcode, RD and CD copied; RA when
   * recursing.
   */
  private Message reply(Header qh) {
    Message r = new Message(qh.getID());
    Header h = r.getHeader();
    h.setFlag(Flags.QR);
    h.setOpcode(qh.getOpcode());
    for (int copied : new int[] {Flags.RD, Flags.CD}) {
      if (qh.getFlag(copied)) {
        h.setFlag(copied);
      }
    }
    if (recursion) {
      h.setFlag(Flags.RA);
    }
    return r;
  }

  private Decision answer(Message query, Record question, int rcode) {
    return new Decision.Answer(response(query, question, rcode));
  }

  /** The response to {@code query}: {@link #reply} with the question, the rcode and EDNS echoed. */
  private Message response(Message query, Record question, int rcode) {
    Message r = reply(query.getHeader());
    r.getHeader().setRcode(rcode & 0xf);
    if (question != null) {
      r.addRecord(question, Section.QUESTION);
    }
    if (query.getOPT() != null) {
      // RFC 6891 §6.1.1: answer an OPT with an OPT: our payload size, the upper rcode bits, version
      // 0.
      r.addRecord(new OPTRecord(EDNS_PAYLOAD, rcode >>> 4, 0, 0), Section.ADDITIONAL);
    } else if (rcode > 0xf) {
      throw new IllegalArgumentException("rcode " + rcode + " needs EDNS");
    }
    return r;
  }
}

package org.clonecast.server.metrics;

import java.time.Clock;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.server.boot.RouterAdvertiser;
import org.clonecast.server.dhcp.DhcpStats;
import org.clonecast.server.dhcp.Lease;
import org.clonecast.server.dhcp.LeaseStore;
import org.clonecast.server.dns.DnsStats;
import org.clonecast.server.http.HttpStats;
import org.clonecast.server.http.PeerRoutes;
import org.clonecast.server.http.UnicastRoutes;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeState;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.clonecast.server.tftp.TftpStats;

/**
 * The daemon's metric families, one method per subsystem, each registered once that subsystem runs.
 * Names follow Prometheus conventions: {@code clonecast_<subsystem>_<what>[_total]}.
 */
public final class DaemonMetrics {
  private DaemonMetrics() {}

  /**
   * @param open connections open now
   */
  public static void http(Metrics m, HttpStats s, IntSupplier open) {
    m.counter(
            "clonecast_http_requests_total",
            "HTTP requests served (nodes, API, dashboard).",
            s.requests::sum)
        .counter(
            "clonecast_http_client_errors_total",
            "HTTP requests answered 4xx.",
            s.clientErrors::sum)
        .counter(
            "clonecast_http_server_errors_total",
            "HTTP requests answered 5xx.",
            s.serverErrors::sum)
        .counter("clonecast_http_sent_bytes_total", "HTTP response bytes sent.", s.bytesSent::sum)
        .gauge("clonecast_http_connections", "HTTP connections open now.", open::getAsInt)
        .family(
            "clonecast_http_connections_refused_total",
            "counter",
            "HTTP connections refused at accept, by the limit reached.",
            () ->
                List.of(
                    Metrics.Sample.of("limit", "max_connections", s.refusedFull.sum()),
                    Metrics.Sample.of("limit", "per_client", s.refusedClient.sum())))
        .counter(
            "clonecast_http_idle_closed_total",
            "HTTP connections closed after http.idle-timeout with no byte moving.",
            s.idleClosed::sum);
  }

  /** Nodes in the inventory by state (read from the store at scrape time). */
  public static void nodes(Metrics m, NodeStore nodes) {
    m.family(
        "clonecast_nodes",
        "gauge",
        "Nodes in the inventory, by state.",
        () -> {
          Map<NodeState, Integer> count = new EnumMap<>(NodeState.class);
          for (NodeState st : NodeState.values()) count.put(st, 0);
          for (Node n : nodes.list()) count.merge(n.state(), 1, Integer::sum);
          List<Metrics.Sample> out = new ArrayList<>();
          count.forEach((st, n) -> out.add(Metrics.Sample.of("state", st.id(), n)));
          return out;
        });
  }

  public static void routerAdverts(Metrics m, RouterAdvertiser ra) {
    m.counter(
            "clonecast_ra_solicitations_total",
            "IPv6 Router Solicitations received.",
            ra::solicitations)
        .counter("clonecast_ra_adverts_total", "IPv6 Router Advertisements sent.", ra::adverts)
        .counter(
            "clonecast_ra_malformed_total",
            "ICMPv6 packets dropped as malformed solicitations.",
            ra::malformed);
  }

  public static void dns(Metrics m, DnsStats s) {
    m.counter("clonecast_dns_queries_total", "DNS queries answered or forwarded.", s.queries::sum)
        .counter(
            "clonecast_dns_malformed_total", "DNS packets that did not parse.", s.malformed::sum)
        .counter(
            "clonecast_dns_ignored_total",
            "DNS packets dropped on purpose (responses sent to us).",
            s.ignored::sum)
        .counter(
            "clonecast_dns_truncated_total", "UDP answers truncated (TC set).", s.truncated::sum)
        .counter(
            "clonecast_dns_forwarded_total", "Queries sent on to a forwarder.", s.forwarded::sum)
        .counter(
            "clonecast_dns_forward_failures_total",
            "Forwarded queries no forwarder answered.",
            s.forwardFailures::sum)
        .counter(
            "clonecast_dns_errors_total",
            "Unexpected failures inside the DNS responder.",
            s.errors::sum)
        .counter(
            "clonecast_dns_updates_total",
            "RFC 2136 updates accepted by the site's DNS server.",
            s.updatesSent::sum)
        .counter(
            "clonecast_dns_update_failures_total",
            "RFC 2136 updates given up after every retry.",
            s.updatesFailed::sum)
        .family(
            "clonecast_dns_answers_total",
            "counter",
            "DNS answers sent, by response code.",
            () -> {
              List<Metrics.Sample> out = new ArrayList<>();
              s.answersByRcode()
                  .forEach((rcode, n) -> out.add(Metrics.Sample.of("rcode", rcode, n)));
              return out;
            });
  }

  /**
   * DHCP messages by type and direction, drops, store commits, and the leases held now (from the
   * store).
   */
  public static void dhcp(Metrics m, DhcpStats s, LeaseStore leases, Clock clock) {
    m.family(
            "clonecast_dhcp_messages_total",
            "counter",
            "DHCP messages, by type and direction (rx, tx).",
            () -> {
              List<Metrics.Sample> out = new ArrayList<>();
              for (DhcpMessageType t : DhcpMessageType.values()) {
                String type = t.name().toLowerCase(Locale.ROOT);
                out.add(new Metrics.Sample(Map.of("type", type, "direction", "rx"), s.rx(t)));
                out.add(new Metrics.Sample(Map.of("type", type, "direction", "tx"), s.tx(t)));
              }
              return out;
            })
        .counter("clonecast_dhcp_malformed_total", "DHCP packets that did not parse.", s::malformed)
        .counter(
            "clonecast_dhcp_ignored_total",
            "DHCP packets not for us or needing no answer.",
            s::ignored)
        .counter(
            "clonecast_dhcp_dropped_total",
            "DHCP replies not sent because their lease could not be stored.",
            s::dropped)
        .counter(
            "clonecast_dhcp_conflicts_total",
            "DHCP decisions the store refused: another daemon sharing it had given the address to"
                + " another client (decided again at once).",
            s::conflicts)
        .counter(
            "clonecast_dhcp_errors_total",
            "Unexpected failures inside the DHCP responder.",
            s::errors)
        .counter(
            "clonecast_dhcp_commits_total",
            "Lease store transactions (a burst of ACKs shares one).",
            s::commits)
        .gauge(
            "clonecast_dhcp_leases",
            "Addresses leased now (acknowledged, not expired or released).",
            () -> {
              long now = clock.millis();
              return leases.loadAll().stream()
                  .filter(l -> l.state() == Lease.State.BOUND && l.activeAt(now))
                  .count();
            });
  }

  /** Sessions by state, what their multicast sent, and each node's progress in running sessions. */
  /** The unicast fallback's chunk requests (docs/unicast.md). */
  public static void unicast(Metrics m, UnicastRoutes unicast) {
    UnicastRoutes.Stats s = unicast.stats();
    m.counter(
            "clonecast_unicast_sent_bytes_total",
            "Image bytes served to nodes by the unicast fallback.",
            s.bytes::sum)
        .counter(
            "clonecast_unicast_requests_total",
            "Chunk range requests the unicast fallback served.",
            s.requests::sum)
        .counter(
            "clonecast_unicast_throttled_total",
            "Chunk requests answered 429: over session.unicast-rate or session.unicast-streams.",
            s.throttled::sum)
        .counter(
            "clonecast_unicast_refused_total",
            "Chunk requests refused: not a node of a running session, or a bad range.",
            s.refused::sum)
        .gauge(
            "clonecast_unicast_streams", "Chunk requests being served now.", unicast::streamsHeld);
  }

  /** What this daemon served other daemons replicating images (docs/scale.md). */
  public static void peers(Metrics m, PeerRoutes peers) {
    PeerRoutes.Stats s = peers.stats();
    m.counter(
            "clonecast_peer_sent_bytes_total",
            "Manifest and chunk bytes served to other daemons.",
            s.bytes::sum)
        .counter(
            "clonecast_peer_requests_total",
            "Manifest and chunk requests served to other daemons.",
            s.requests::sum)
        .counter(
            "clonecast_peer_unauthorized_total",
            "Peer requests refused 401: no daemon's id and peer secret.",
            s.unauthorized::sum)
        .counter(
            "clonecast_peer_not_found_total",
            "Peer requests for an image or chunk this daemon does not hold.",
            s.notFound::sum)
        .counter(
            "clonecast_peer_throttled_total",
            "Peer requests answered 429: too many at once.",
            s.throttled::sum);
  }

  public static void sessions(Metrics m, SessionManager sessions) {
    m.family(
            "clonecast_sessions",
            "gauge",
            "Re-imaging sessions (the newest 1000), by state.",
            () -> {
              Map<String, Integer> count = new TreeMap<>();
              for (String st : List.of("waiting", "running", "done", "failed", "cancelled"))
                count.put(st, 0);
              for (SessionStore.Session s : sessions.store().list(1000))
                count.merge(s.state(), 1, Integer::sum);
              List<Metrics.Sample> out = new ArrayList<>();
              count.forEach((st, n) -> out.add(Metrics.Sample.of("state", st, n)));
              return out;
            })
        .counter(
            "clonecast_session_sent_bytes_total",
            "Multicast bytes sent by sessions.",
            sessions::bytesSent)
        .family(
            "clonecast_session_packets_total",
            "counter",
            "Multicast packets sent by sessions: source data and FEC repair.",
            () -> {
              long all = sessions.packetsSent();
              long repair = sessions.repairPacketsSent();
              return List.of(
                  Metrics.Sample.of("kind", "source", all - repair),
                  Metrics.Sample.of("kind", "repair", repair));
            })
        .family(
            "clonecast_session_node_bytes",
            "gauge",
            "Bytes each node of a waiting or running session has written.",
            perNode(
                sessions,
                (s, mem) ->
                    new Metrics.Sample(
                        Map.of(
                            "session",
                            Long.toString(s.id()),
                            "node",
                            mem.name(),
                            "state",
                            mem.state()),
                        mem.bytesDone())))
        .family(
            "clonecast_session_node_total_bytes",
            "gauge",
            "Bytes each node of a waiting or running session has to write.",
            perNode(
                sessions,
                (s, mem) ->
                    new Metrics.Sample(
                        Map.of("session", Long.toString(s.id()), "node", mem.name()),
                        mem.bytesTotal())));
  }

  public static void tftp(Metrics m, TftpStats s) {
    m.counter("clonecast_tftp_received_total", "TFTP packets received.", s.rx::sum)
        .counter("clonecast_tftp_sent_total", "TFTP packets sent.", s.tx::sum)
        .counter(
            "clonecast_tftp_malformed_total", "TFTP packets that did not parse.", s.malformed::sum)
        .counter(
            "clonecast_tftp_ignored_total",
            "TFTP packets dropped (stale, duplicate, out of turn).",
            s.ignored::sum)
        .counter(
            "clonecast_tftp_wrong_tid_total",
            "TFTP packets from a wrong transfer id (answered ERROR 5).",
            s.wrongTid::sum)
        .counter(
            "clonecast_tftp_retransmits_total",
            "TFTP DATA blocks sent again after a timeout or gap.",
            s.retransmits::sum)
        .family(
            "clonecast_tftp_transfers_total",
            "counter",
            "TFTP transfers ended, by result.",
            () ->
                List.of(
                    Metrics.Sample.of("result", "ok", s.transfersOk.sum()),
                    Metrics.Sample.of("result", "failed", s.transfersFailed.sum()),
                    Metrics.Sample.of("result", "size_probe", s.probes.sum()),
                    Metrics.Sample.of("result", "refused", s.refused.sum()),
                    Metrics.Sample.of("result", "busy", s.busy.sum()),
                    Metrics.Sample.of("result", "busy_client", s.busyClient.sum())))
        .counter("clonecast_tftp_sent_bytes_total", "File bytes sent by TFTP.", s.bytesSent::sum);
  }

  /** One sample for each node of each waiting or running session. */
  private static Supplier<List<Metrics.Sample>> perNode(
      SessionManager sessions,
      BiFunction<SessionStore.Session, SessionStore.Member, Metrics.Sample> sample) {
    return () -> {
      List<Metrics.Sample> out = new ArrayList<>();
      for (SessionStore.Session s : sessions.store().active()) {
        for (SessionStore.Member mem : sessions.members(s.id())) {
          out.add(sample.apply(s, mem));
        }
      }
      return out;
    };
  }
}

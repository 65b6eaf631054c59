package org.clonecast.server.mcast;

import com.sun.jna.LastErrorException;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.clonecast.common.net.NetInterface;
import org.clonecast.protocol.igmp.IgmpDatagram;
import org.clonecast.protocol.igmp.IgmpMessage;
import org.clonecast.protocol.igmp.QuerierElection;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.clonecast.server.net.RawSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's IGMP querier on the provisioning interface ({@code session.igmp-querier}, {@code
 * auto} by default: it queries unless a querier is already there when it starts): a switch with
 * IGMP snooping and no querier on the VLAN forgets the group memberships after its membership
 * interval (often 260 s) and stops forwarding a session's multicast. Sends IGMPv2 General Queries
 * to 224.0.0.1 (TTL 1, Router Alert), so every host's kernel reports its groups and the switch
 * keeps forwarding them; stands down while a querier with a lower address is heard (the election of
 * {@link QuerierElection}), as RFC 2236 asks of every querier, so it never fights a site's router.
 * Malformed IGMP is counted and dropped.
 *
 * <p>One daemon thread owns the raw socket; every receive waits at most 250 ms, so the thread sees
 * {@link #close} and its query deadlines in time. If the socket cannot be opened (no CAP_NET_RAW)
 * the daemon runs without and says so once. Each change of role (querying, standing down, deferring
 * to a querier found at start) goes to the {@code events} callback, one line each. Thread-safe.
 */
public final class IgmpQuerier implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IgmpQuerier.class);
  private static final int IPPROTO_IP = 0;
  private static final int IPPROTO_IGMP = 2;
  private static final int IP_OPTIONS = 4;
  private static final int IP_MULTICAST_IF = 32;
  private static final int IP_MULTICAST_TTL = 33;
  private static final int IP_MULTICAST_LOOP = 34;
  private static final int SOCKADDR_IN_LEN = 16;
  private static final int POLL_MILLIS = 250;

  /** RFC 2236 §8.3: 10 s, or less when the query interval is shorter (tests). */
  private static final long MAX_RESPONSE_NANOS = TimeUnit.SECONDS.toNanos(10);

  /**
   * RFC 2113 Router Alert, padded to a 4-byte option field: hosts and switches look at the packet.
   */
  private static final byte[] ROUTER_ALERT = {(byte) 0x94, 0x04, 0x00, 0x00};

  private static final byte[] ALL_HOSTS = sockaddr(0xe0000001);

  private final RawSocket socket;
  private final NetInterface nif;
  private final QuerierElection election;
  private final byte[] query;
  private final Thread thread;
  private final AtomicLong queriesSent = new AtomicLong();
  private final AtomicLong queriesHeard = new AtomicLong();
  private final AtomicLong malformed = new AtomicLong();
  private final AtomicLong standDowns = new AtomicLong();
  private final Consumer<String> events;
  private volatile boolean querier;
  private volatile boolean stopping;
  private long lastWarn;

  private IgmpQuerier(
      RawSocket socket,
      NetInterface nif,
      QuerierElection.Mode mode,
      Duration queryInterval,
      Consumer<String> events) {
    this.socket = socket;
    this.nif = nif;
    this.events = events;
    long interval = queryInterval.toNanos();
    long maxResponse = Math.min(MAX_RESPONSE_NANOS, interval / 2);
    this.election =
        new QuerierElection(
            mode, Ipv4.toInt(nif.address()), interval, maxResponse, System.nanoTime());
    this.query =
        IgmpMessage.generalQuery(
                (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(maxResponse) / 100))
            .encode();
    this.thread = new Thread(this::run, "igmp-" + nif.name());
    thread.setDaemon(true);
  }

  /**
   * Starts the querier on {@code nif} in {@code mode} ({@link QuerierElection.Mode#AUTO} listens a
   * whole {@code queryInterval} first): a General Query every {@code queryInterval} while it is the
   * querier (two startup queries a quarter of it apart first).
   *
   * @param events receives one line for each change of role
   * @return empty, with one WARN naming the reason, when it cannot run here
   */
  public static Optional<IgmpQuerier> start(
      NetInterface nif,
      QuerierElection.Mode mode,
      Duration queryInterval,
      Consumer<String> events) {
    RawSocket raw;
    try {
      raw = RawSocket.open(RawSocket.AF_INET, IPPROTO_IGMP, "IGMP", nif.name(), POLL_MILLIS);
    } catch (IllegalStateException e) {
      LOG.warn(
          "igmp: {}; no IGMP querier on {} (behind a snooping switch without a querier, multicast stops after its"
              + " membership interval; set session.igmp-querier = false to silence this)",
          e.getMessage(),
          nif.name());
      return Optional.empty();
    }
    try {
      raw.option(IPPROTO_IP, IP_MULTICAST_IF, nif.address().getAddress(), "IP_MULTICAST_IF");
      raw.option(IPPROTO_IP, IP_MULTICAST_TTL, RawSocket.ints(1), "IP_MULTICAST_TTL");
      raw.option(IPPROTO_IP, IP_MULTICAST_LOOP, RawSocket.ints(0), "IP_MULTICAST_LOOP");
      raw.option(IPPROTO_IP, IP_OPTIONS, ROUTER_ALERT, "IP_OPTIONS router alert");
    } catch (IllegalStateException e) {
      raw.close();
      LOG.warn("igmp: {}; no IGMP querier on {}", e.getMessage(), nif.name());
      return Optional.empty();
    }
    IgmpQuerier q = new IgmpQuerier(raw, nif, mode, queryInterval, events);
    q.thread.start();
    LOG.info(
        "igmp: querier ({}) on {} ({}), a General Query every {} s {}",
        mode.name().toLowerCase(Locale.ROOT),
        nif.name(),
        nif.address().getHostAddress(),
        queryInterval.toSeconds(),
        mode == QuerierElection.Mode.AUTO
            ? "unless another querier is heard first"
            : "unless a querier with a lower address is heard");
    return Optional.of(q);
  }

  private static byte[] sockaddr(int address) {
    return ByteBuffer.allocate(SOCKADDR_IN_LEN)
        .order(ByteOrder.nativeOrder())
        .putShort((short) RawSocket.AF_INET)
        .order(ByteOrder.BIG_ENDIAN)
        .putShort((short) 0)
        .putInt(address)
        .array();
  }

  private void run() {
    while (!stopping) {
      try {
        long now = System.nanoTime();
        if (election.queryDue(now)) {
          if (!querier) {
            role(
                election.otherQuerier() == 0
                    ? "no other IGMP querier heard on " + nif.name() + "; the daemon is its querier"
                    : "no IGMP query heard from "
                        + Ipv4.fromInt(election.otherQuerier()).getHostAddress()
                        + " for the other-querier interval; the daemon queries on "
                        + nif.name()
                        + " again");
          }
          querier = true;
          socket.sendTo(query, ALL_HOSTS);
          queriesSent.incrementAndGet();
        }
        Optional<RawSocket.Datagram> d = socket.receive(1500, SOCKADDR_IN_LEN);
        if (d.isPresent()) heard(d.get());
      } catch (LastErrorException | IllegalStateException e) {
        // The interface went down or lost its address: keep trying, quietly, at the poll rate.
        LOG.debug("igmp: {}", e.getMessage());
        sleepQuietly();
      } catch (RuntimeException e) {
        // A bug, not the network: say so (once a minute at most), and keep the querier running.
        long now = System.nanoTime();
        if (lastWarn == 0 || now - lastWarn > TimeUnit.MINUTES.toNanos(1)) {
          lastWarn = now;
          LOG.warn("igmp: {}", e.toString(), e);
        }
        sleepQuietly();
      }
    }
  }

  /** An IGMP packet with its IPv4 header, as a raw socket delivers it. */
  private void heard(RawSocket.Datagram d) {
    IgmpDatagram datagram;
    try {
      datagram = IgmpDatagram.decode(Unpooled.wrappedBuffer(d.data()));
    } catch (MalformedPacketException e) {
      malformed.incrementAndGet();
      LOG.debug("igmp: malformed message: {}", e.getMessage());
      return;
    }
    IgmpMessage m = datagram.message();
    if (!m.generalQuery()) return;
    queriesHeard.incrementAndGet();
    int source = datagram.source();
    int before = election.otherQuerier();
    if (election.heardQuery(source, System.nanoTime())) {
      querier = false;
      standDowns.incrementAndGet();
      role(
          Ipv4.fromInt(source).getHostAddress()
              + " queries on "
              + nif.name()
              + " and has the lower address; the daemon stands down while it does");
    } else if (!querier && election.otherQuerier() == source && before != source) {
      role(
          "IGMP querier "
              + Ipv4.fromInt(source).getHostAddress()
              + " found on "
              + nif.name()
              + "; the daemon does not query while it does");
    }
  }

  /** A change of role: logged, and one line to the event log. Nothing thrown reaches the thread. */
  private void role(String line) {
    LOG.info("igmp: {}", line);
    try {
      events.accept(line);
    } catch (RuntimeException e) {
      LOG.warn("igmp: cannot record the event: {}", e.toString());
    }
  }

  private static void sleepQuietly() {
    try {
      Thread.sleep(POLL_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Whether we are the segment's querier now. */
  public boolean querier() {
    return querier;
  }

  public long queriesSent() {
    return queriesSent.get();
  }

  /** General Queries heard from other hosts (ours do not loop back). */
  public long queriesHeard() {
    return queriesHeard.get();
  }

  public long malformed() {
    return malformed.get();
  }

  /** How often we stopped querying for a lower-addressed querier. */
  public long standDowns() {
    return standDowns.get();
  }

  @Override
  public void close() {
    stopping = true;
    try {
      thread.join(2 * POLL_MILLIS + 500);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    socket.close();
  }
}

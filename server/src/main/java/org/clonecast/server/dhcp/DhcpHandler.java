package org.clonecast.server.dhcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.clonecast.protocol.dhcp.DhcpPacket;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty adapter of one DHCP socket (67 or 4011): decodes, asks the {@link DhcpResponder} to
 * decide over the in-memory {@link Inventory}, and at the end of each read burst commits the
 * leases, inventory sightings and events of every decision of the burst in one transaction (group
 * commit: one fsync for many ACKs), then sends the replies. A reply whose lease could not be stored
 * is not sent: a client never holds an address the server may forget. When daemons share the store
 * (docs/scale.md), the store refuses a lease whose address another daemon's client holds; that
 * decision leaves nothing stored, the tables take the stored rows, and the request is decided again
 * (a REQUEST is then NAKed).
 *
 * <p>Malformed datagrams are counted, logged at DEBUG with sender and hex, and dropped; nothing a
 * client sends closes the socket. Runs on its channel's event loop only; both sockets share one
 * loop, so the responder is never used from two threads.
 */
final class DhcpHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(DhcpHandler.class);
  private static final long WARN_EVERY_NANOS = 10_000_000_000L;

  private final DhcpResponder responder;
  private final boolean bootPort;
  private final DhcpStats stats;
  private final Database db;
  private final EventLog events;
  private final NodeStore nodes;
  private final Inventory inventory;
  private final Clock clock;
  private final List<Pending> pending = new ArrayList<>();
  private long lastWarnNanos = System.nanoTime() - WARN_EVERY_NANOS;

  DhcpHandler(
      DhcpResponder responder,
      boolean bootPort,
      DhcpStats stats,
      Database db,
      EventLog events,
      NodeStore nodes,
      Inventory inventory,
      Clock clock) {
    this.responder = responder;
    this.bootPort = bootPort;
    this.stats = stats;
    this.db = db;
    this.events = events;
    this.nodes = nodes;
    this.inventory = inventory;
    this.clock = clock;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof DatagramPacket dp)) {
      ctx.fireChannelRead(msg);
      return;
    }
    try {
      DhcpPacket p;
      try {
        p = DhcpPacket.decode(dp.content());
      } catch (MalformedPacketException e) {
        stats.countMalformed();
        if (LOG.isDebugEnabled()) {
          LOG.debug(
              "dhcp: malformed from {}: {}\n{}",
              dp.sender(),
              e.getMessage(),
              ByteBufs.prettyHexDump(dp.content()));
        }
        return;
      }
      p.messageType().ifPresent(stats::received);
      DhcpResponder.Result r =
          responder.handle(p, dp.sender(), bootPort, inventory, clock.millis());
      if (r.ignored().isPresent()) {
        stats.countIgnored();
        LOG.debug(
            "dhcp: ignored {} from {} ({}): {}",
            p.messageType().map(Enum::name).orElse("?"),
            dp.sender(),
            p.mac().map(Object::toString).orElse("?"),
            r.ignored().get());
      }
      if (r.reply().isPresent() || r.changesState()) {
        pending.add(new Pending(p, dp.sender(), r));
      }
    } catch (RuntimeException e) {
      // A bug or a store failure while answering one client must not take the responder down.
      stats.countError();
      warn("dhcp: answering " + dp.sender() + " failed", e);
    } finally {
      dp.release();
    }
  }

  /** A decision waiting for the burst's commit, with the request it answers. */
  private record Pending(
      DhcpPacket request, InetSocketAddress sender, DhcpResponder.Result result) {
    /** The client whose request changed the leases (every change of a result is its). */
    MacAddress client() {
      return request.mac().orElseThrow();
    }
  }

  /**
   * What one commit did: the decisions whose leases another daemon's client holds (nothing of them
   * was written), and the stored rows of their addresses.
   */
  private record Stored(Set<Pending> refused, List<Lease> rows, List<Event> events) {}

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (pending.isEmpty()) {
      return;
    }
    List<Pending> batch = List.copyOf(pending);
    pending.clear();
    // A decision refused by the store (another daemon sharing it gave the address away) is taken
    // again once, over the tables that now hold the stored rows: a REQUEST is then NAKed at once
    // and the client starts over, instead of waiting for its retransmission.
    for (int round = 0; round < 2 && !batch.isEmpty(); round++) {
      Stored stored = store(batch);
      List<Pending> again = new ArrayList<>();
      for (Pending pd : batch) {
        DhcpResponder.Result r = pd.result();
        if (r.reply().isEmpty()) {
          continue;
        }
        if (stored == null && !r.changes().isEmpty()) {
          stats.countDropped(1);
          continue;
        }
        if (stored != null && stored.refused().contains(pd)) {
          if (round == 0) {
            again.add(
                new Pending(
                    pd.request(),
                    pd.sender(),
                    responder.handle(
                        pd.request(), pd.sender(), bootPort, inventory, clock.millis())));
          } else {
            stats.countDropped(1);
          }
          continue;
        }
        send(ctx, r.reply().get());
      }
      batch = again;
    }
    ctx.flush();
  }

  private void send(ChannelHandlerContext ctx, DhcpResponder.Outgoing out) {
    ByteBuf buf = ctx.alloc().buffer(576);
    out.packet().encode(buf);
    out.packet().messageType().ifPresent(stats::sent);
    ctx.write(new DatagramPacket(buf, out.to()))
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                stats.countError();
                warn("dhcp: sending to " + out.to() + " failed", f.cause());
              }
            });
  }

  /**
   * Commits the batch's leases, sightings and events in one transaction: the leases of all its
   * decisions in one batch of writes, then the sightings, then the events in one statement, so that
   * on PostgreSQL a burst costs a few round trips however many decisions it holds. A decision whose
   * lease the store refuses (another daemon's client holds the address) leaves nothing behind, and
   * the tables take the stored rows of its addresses. Null if the commit failed.
   */
  private Stored store(List<Pending> batch) {
    if (batch.stream().allMatch(pd -> !stateChanging(pd.result()))) {
      return new Stored(Set.of(), List.of(), List.of());
    }
    Stored stored;
    List<NodeStore.NodeChange> nodeChanges = new ArrayList<>();
    try {
      stored =
          db.write(
              c -> {
                // Runs again if the transaction loses a race on PostgreSQL: start from nothing.
                nodeChanges.clear();
                Set<Pending> refused = Collections.newSetFromMap(new IdentityHashMap<>());
                List<Lease> rows = new ArrayList<>();
                long now = clock.millis();
                // First: a refused lease rolls the transaction back to here.
                writeLeases(c, batch, refused, rows, now);
                List<Pending> kept =
                    batch.stream()
                        .filter(pd -> stateChanging(pd.result()) && !refused.contains(pd))
                        .toList();
                // In MAC order, as the leases are in address order: daemons sharing the store
                // then lock the rows they both update in one order.
                List<DhcpResponder.Seen> seen =
                    kept.stream()
                        .flatMap(pd -> pd.result().seen().stream())
                        .sorted(Comparator.comparing(s -> s.mac().toString()))
                        .toList();
                for (DhcpResponder.Seen s : seen) {
                  nodeChanges.addAll(
                      nodes.recordSeen(
                          c, s.mac(), s.arch(), s.ip().map(Inet4Address::getHostAddress)));
                }
                List<EventLog.Draft> drafts = new ArrayList<>();
                for (Pending pd : kept) {
                  pd.result()
                      .event()
                      .ifPresent(
                          m ->
                              drafts.add(
                                  new EventLog.Draft(
                                      "dhcp",
                                      Optional.of(m.mac().toString()),
                                      Optional.empty(),
                                      m.message())));
                }
                return new Stored(refused, rows, events.insertAll(c, drafts));
              });
    } catch (RuntimeException e) {
      stats.countError();
      warn(
          "dhcp: storing the leases and sightings of "
              + batch.size()
              + " decisions failed; replies with leases are not sent",
          e);
      return null;
    }
    stats.countCommit();
    if (!stored.refused().isEmpty()) {
      stats.countConflicts(stored.refused().size());
      responder.adopt(stored.rows());
      LOG.debug(
          "dhcp: {} leases refused by the store (another daemon's clients hold them): {}",
          stored.refused().size(),
          stored.rows());
    }
    nodes.publish(nodeChanges);
    stored.events().forEach(events::publish);
    return stored;
  }

  /**
   * Writes the leases of the batch's decisions in one batch of writes, in address order (a stable
   * sort: two writes of one address keep their decisions' order), so that two daemons sharing the
   * store lock the rows they both write in one order and never deadlock. A decision any of whose
   * writes the store refuses is undone whole (the transaction rolled back, and the others written
   * again without it) and added to {@code refused}, the stored rows of its addresses to {@code
   * rows}. Each round refuses at least one decision, so it ends. Must be the first work of its
   * transaction: the rollback undoes exactly these writes (a savepoint would do the same at the
   * price of one more round trip to PostgreSQL per burst, refused or not).
   */
  private static void writeLeases(
      Connection c, List<Pending> batch, Set<Pending> refused, List<Lease> rows, long now)
      throws SQLException {
    if (batch.stream().allMatch(pd -> pd.result().changes().isEmpty())) {
      return;
    }
    while (true) {
      List<Pending> owners = new ArrayList<>();
      List<LeaseStore.Write> writes = new ArrayList<>();
      for (Pending pd : batch) {
        if (!refused.contains(pd)) {
          for (Lease l : pd.result().changes()) {
            owners.add(pd);
            writes.add(new LeaseStore.Write(pd.client(), l));
          }
        }
      }
      Integer[] order = new Integer[writes.size()];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      Arrays.sort(
          order,
          Comparator.comparingLong(
              i -> Integer.toUnsignedLong(Ipv4.toInt(writes.get(i).lease().ip()))));
      List<LeaseStore.Write> sorted = new ArrayList<>(writes.size());
      for (int i : order) {
        sorted.add(writes.get(i));
      }
      boolean[] written = LeaseStore.write(c, sorted, now);
      Set<Pending> lost = Collections.newSetFromMap(new IdentityHashMap<>());
      for (int i = 0; i < order.length; i++) {
        if (!written[i]) {
          lost.add(owners.get(order[i]));
        }
      }
      if (lost.isEmpty()) {
        return;
      }
      c.rollback();
      refused.addAll(lost);
      for (Pending pd : lost) {
        rows.addAll(LeaseStore.rows(c, pd.result().changes().stream().map(Lease::ip).toList()));
      }
    }
  }

  private static boolean stateChanging(DhcpResponder.Result r) {
    return !r.changes().isEmpty() || !r.seen().isEmpty() || r.event().isPresent();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    stats.countError();
    warn("dhcp: socket error on " + ctx.channel().localAddress(), cause);
  }

  private void warn(String what, Throwable cause) {
    long now = System.nanoTime();
    if (now - lastWarnNanos >= WARN_EVERY_NANOS) {
      lastWarnNanos = now;
      LOG.warn("{} (further failures within 10 s are only counted)", what, cause);
    }
  }
}

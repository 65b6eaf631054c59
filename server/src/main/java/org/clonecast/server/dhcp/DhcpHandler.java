package org.clonecast.server.dhcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import java.net.Inet4Address;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.dhcp.DhcpPacket;
import org.clonecast.protocol.wire.ByteBufs;
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
 * is not sent: a client never holds an address the server may forget.
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
  private final List<DhcpResponder.Result> pending = new ArrayList<>();
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
        pending.add(r);
      }
    } catch (RuntimeException e) {
      // A bug or a store failure while answering one client must not take the responder down.
      stats.countError();
      warn("dhcp: answering " + dp.sender() + " failed", e);
    } finally {
      dp.release();
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (pending.isEmpty()) {
      return;
    }
    List<DhcpResponder.Result> batch = List.copyOf(pending);
    pending.clear();
    boolean stored = store(batch);
    for (DhcpResponder.Result r : batch) {
      if (r.reply().isEmpty()) {
        continue;
      }
      if (!stored && !r.changes().isEmpty()) {
        stats.countDropped(1);
        continue;
      }
      DhcpResponder.Outgoing out = r.reply().get();
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
    ctx.flush();
  }

  /** Commits the batch's leases, sightings and events in one transaction; false if that failed. */
  private boolean store(List<DhcpResponder.Result> batch) {
    List<Lease> changes = new ArrayList<>();
    List<DhcpResponder.Seen> seen = new ArrayList<>();
    List<DhcpResponder.Milestone> milestones = new ArrayList<>();
    for (DhcpResponder.Result r : batch) {
      changes.addAll(r.changes());
      seen.addAll(r.seen());
      r.event().ifPresent(milestones::add);
    }
    if (changes.isEmpty() && seen.isEmpty() && milestones.isEmpty()) {
      return true;
    }
    List<NodeStore.NodeChange> nodeChanges = new ArrayList<>();
    List<Event> recorded;
    try {
      recorded =
          db.write(
              c -> {
                LeaseStore.save(c, changes);
                for (DhcpResponder.Seen s : seen) {
                  nodeChanges.addAll(
                      nodes.recordSeen(
                          c, s.mac(), s.arch(), s.ip().map(Inet4Address::getHostAddress)));
                }
                List<Event> out = new ArrayList<>();
                for (DhcpResponder.Milestone m : milestones) {
                  out.add(
                      events.insert(
                          c,
                          "dhcp",
                          Optional.of(m.mac().toString()),
                          Optional.empty(),
                          m.message()));
                }
                return out;
              });
    } catch (RuntimeException e) {
      stats.countError();
      warn(
          "dhcp: storing "
              + changes.size()
              + " leases and "
              + seen.size()
              + " sightings failed; replies with leases are"
              + " not sent",
          e);
      return false;
    }
    stats.countCommit();
    nodes.publish(nodeChanges);
    recorded.forEach(events::publish);
    return true;
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

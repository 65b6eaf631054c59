package org.clonecast.agent.udpcast;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.agent.disk.Target;
import org.clonecast.agent.receive.SocketDrops;
import org.clonecast.agent.receive.WritePipeline;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.PeerPackets;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.udpcast.Udpcast;
import org.clonecast.protocol.udpcast.UdpcastMessage;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Action;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Join;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Send;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.State;
import org.clonecast.protocol.udpcast.UdpcastReceiverMachine.Write;
import org.clonecast.protocol.wire.Ipv4;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Receives one udpcast session from a stock {@code udp-sender} (or ours) into a {@link Target}: one
 * UDP channel bound to the wildcard address:portbase, so it sees unicast, the subnet broadcast
 * (HELLO) and, once joined, the data group, and sends every reply from that port. The network runs
 * on its own event loop; slices are written by a separate thread so answers stay fast (§3.2.4).
 */
public final class UdpcastReceiver {
  private static final Logger log = LoggerFactory.getLogger(UdpcastReceiver.class);
  private static final long TICK_NANOS = 20_000_000L;
  private static final int RCVBUF = 8 << 20;

  /** What came of the session. */
  public record Result(
      boolean ok,
      String reason,
      long bytes,
      long nanos,
      long packets,
      long duplicates,
      long retransmitRequests,
      long fecRecovered,
      long malformed,
      long rogue,
      boolean verified,
      long rejoins) {}

  /** Counters for metrics. Thread-safe. */
  public static final class Counters {
    public final AtomicLong rx = new AtomicLong();
    public final AtomicLong malformed = new AtomicLong();
    public final AtomicLong tx = new AtomicLong();
  }

  private final int portbase;
  private final NetInterface nif;
  private final Target target;
  private final Duration joinTimeout;
  private final Duration igmpRejoin;
  private final Counters counters = new Counters();
  private final CompletableFuture<Result> done = new CompletableFuture<>();

  /** Writes the slices, one worker: in the order they come. */
  private WritePipeline writer;

  private UdpcastReceiverMachine machine;
  private EventLoopGroup loopGroup;

  /** The kernel's drop counter of the port's socket, and its value once bound (-1: unreadable). */
  private SocketDrops socketDrops;

  private long dropsAtBind = -1;
  private EventLoop loop;
  private DatagramChannel udp;
  private long startNanos;
  private long firstDataNanos;
  private boolean finishing;
  private boolean sizeChecked;
  private ScheduledFuture<?> rejoinTimer;
  private long rejoins;

  /**
   * @param joinTimeout give up when no sender answers within this; zero waits for ever
   * @param igmpRejoin how often to leave and re-join the data group while receiving (zero: never),
   *     as the native receiver does, so that a snooping switch that never hears a querier keeps
   *     forwarding the group to this port
   */
  public UdpcastReceiver(
      int portbase, NetInterface nif, Target target, Duration joinTimeout, Duration igmpRejoin) {
    this.portbase = portbase;
    this.nif = nif;
    this.target = target;
    this.joinTimeout = joinTimeout;
    this.igmpRejoin = igmpRejoin;
  }

  /** Binds, starts asking to connect; the future completes when the session has ended. */
  public CompletableFuture<Result> start() throws InterruptedException {
    loopGroup = Transport.group(1, "udpcast-recv");
    loop = loopGroup.next();
    writer = new WritePipeline(1, "udpcast-write", loop);
    try {
      udp =
          (DatagramChannel)
              new Bootstrap()
                  .group(loop)
                  .channel(Transport.datagram())
                  .option(ChannelOption.SO_BROADCAST, true)
                  .option(ChannelOption.SO_RCVBUF, RCVBUF)
                  .option(ChannelOption.IP_MULTICAST_IF, nif.nif())
                  .handler(new Handler())
                  .bind(new InetSocketAddress(portbase))
                  .sync()
                  .channel();
    } catch (Exception e) {
      shutdown();
      throw new IllegalStateException(
          "cannot bind UDP port "
              + portbase
              + ": "
              + e.getMessage()
              + " (another udp-receiver on this host? only one receiver per IP and portbase)",
          e);
    }
    socketDrops = new SocketDrops(portbase);
    dropsAtBind = socketDrops.read();
    loop.execute(
        () -> {
          startNanos = System.nanoTime();
          // Seeded by our address: receivers that boot together spread their CONNECT_REQ retries.
          machine =
              new UdpcastReceiverMachine(
                  UdpcastReceiverMachine.Settings.defaults(portbase, rcvbuf()),
                  startNanos,
                  Ipv4.toInt(nif.address()));
          log.info(
              "udpcast receiver on {} ({}), portbase {}",
              nif.name(),
              nif.address().getHostAddress(),
              portbase);
          loop.scheduleAtFixedRate(this::tick, 0, TICK_NANOS, TimeUnit.NANOSECONDS);
        });
    return done;
  }

  private int rcvbuf() {
    Object v = udp.config().getOption(ChannelOption.SO_RCVBUF);
    return v instanceof Integer i ? i : RCVBUF;
  }

  private void tick() {
    if (finishing) return;
    long now = System.nanoTime();
    if (!joinTimeout.isZero()
        && machine.state() == State.CONNECTING
        && now - startNanos >= joinTimeout.toNanos()) {
      machine.abort("no udpcast sender answered within " + joinTimeout.toSeconds() + " s");
    }
    machine.tick(now);
    act();
  }

  /** Carries out the machine's actions, then ends the session if it is over. */
  private void act() {
    for (Action a : machine.drain()) {
      if (a instanceof Send s) {
        ByteBuf b = udp.alloc().buffer(160);
        s.message().encode(b);
        Inet4Address to = s.ip() == 0 ? nif.broadcast() : Ipv4.fromInt(s.ip());
        udp.write(new DatagramPacket(b, new InetSocketAddress(to, s.port())));
        counters.tx.incrementAndGet();
      } else if (a instanceof Write w) {
        writer.submit(new SlicePiece(w));
      } else if (a instanceof Join j) {
        log.info(
            "udpcast {} {}; joining {}",
            machine.passive()
                ? "following async sender"
                : "connected as #" + machine.clNr() + " to",
            Ipv4.fromInt(machine.senderIp()).getHostAddress(),
            j.group().getHostAddress());
        InetSocketAddress group = new InetSocketAddress(j.group(), portbase);
        udp.joinGroup(group, nif.nif())
            .addListener(
                f -> {
                  if (!f.isSuccess())
                    log.warn(
                        "udpcast cannot join {}: {}; unicast data only",
                        j.group().getHostAddress(),
                        f.cause().toString());
                });
        long every = igmpRejoin.toMillis();
        if (every > 0 && rejoinTimer == null) {
          rejoinTimer =
              loop.scheduleAtFixedRate(() -> rejoin(group), every, every, TimeUnit.MILLISECONDS);
        }
      }
    }
    udp.flush();
    if (!sizeChecked && machine.expectedBytes() >= 0) {
      sizeChecked = true;
      checkRoom(machine.expectedBytes());
    }
    State st = machine.state();
    if ((st == State.DONE || st == State.FAILED) && !finishing) finish(st == State.DONE);
  }

  /**
   * Leaves and at once re-joins the data group, so the kernel sends a fresh membership report
   * (docs/protocol.md, IGMP re-joins: the same as the native receiver). A failed re-join is logged,
   * not fatal: udpcast senders also reach a receiver by unicast retransmissions.
   */
  private void rejoin(InetSocketAddress group) {
    State st = machine.state();
    if (finishing || st == State.DONE || st == State.FAILED) return;
    rejoins++;
    udp.leaveGroup(group, nif.nif())
        .addListener(
            left ->
                udp.joinGroup(group, nif.nif())
                    .addListener(
                        f -> {
                          if (!f.isSuccess())
                            log.warn(
                                "udpcast cannot re-join {}: {}",
                                group.getAddress().getHostAddress(),
                                f.cause().toString());
                        }));
  }

  /**
   * A clonecast sender announces the image length (udpcast carries none): refuse at once, with
   * DISCONNECT, an image that cannot fit, instead of failing at the first write past the end.
   */
  private void checkRoom(long bytes) {
    log.info("udpcast sender announces an image of {} bytes (clonecast extension)", bytes);
    String problem;
    try {
      problem = target.roomFor(bytes).orElse(null);
    } catch (IOException e) {
      problem = "cannot check the room on " + target.path() + ": " + e.getMessage();
    }
    if (problem != null) {
      machine.abort(problem);
      act();
    }
  }

  /** A slice's data, as the machine handed it over: written at its offset. */
  private final class SlicePiece implements WritePipeline.Piece<Write> {
    private final Write w;

    SlicePiece(Write w) {
      this.w = w;
    }

    @Override
    public Write decode() {
      return w; // a raw stream: its hash is checked over the whole image, at the end
    }

    @Override
    public long write(Write slice) throws IOException {
      target.write(slice.offset(), slice.data(), slice.data().length);
      return slice.data().length;
    }

    @Override
    public void written(long bytes) {
      machine.written(w);
    }

    @Override
    public void failed(Throwable e) {
      machine.abort(
          "cannot write " + target.path() + " at offset " + w.offset() + ": " + e.getMessage());
      act();
    }
  }

  /**
   * Waits for the writer, syncs (when the session succeeded), and completes; the DISCONNECT has
   * been flushed already.
   */
  private void finish(boolean ok) {
    finishing = true;
    if (rejoinTimer != null) rejoinTimer.cancel(false);
    long end = System.nanoTime();
    if (ok) {
      writer.sync(
          target,
          error ->
              complete(
                  error.isEmpty(),
                  error
                      .map(e -> "cannot sync " + target.path() + ": " + e.getMessage())
                      .orElse(machine.reason()),
                  end));
    } else {
      writer.drain(() -> complete(false, machine.reason(), end));
    }
  }

  private void complete(boolean ok, String reason, long end) {
    long from = firstDataNanos > 0 ? firstDataNanos : startNanos;
    Result r =
        new Result(
            ok,
            reason,
            machine.bytesQueued(),
            end - from,
            machine.dataPackets(),
            machine.duplicates(),
            machine.retransmitRequests(),
            machine.fecRecovered(),
            counters.malformed.get(),
            machine.rogue(),
            machine.verified(),
            rejoins);
    // What bounded this receiver: the wire, or its writer's disk (the writer overlaps receiving).
    log.info(
        "udpcast receive time: {} s from the first packet to the end; {} packets dropped by the socket (receive buffer full); {}",
        WritePipeline.secs(end - from),
        SocketDrops.since(socketDrops, dropsAtBind),
        writer.describeTimes());
    shutdown();
    done.complete(r);
  }

  private void shutdown() {
    if (udp != null) udp.close();
    if (loopGroup != null) loopGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    if (writer != null) writer.close();
  }

  /**
   * Ends the session from our side (interrupt): a DISCONNECT goes out, so the sender does not wait
   * for us. Waits up to a second for it to leave.
   */
  public void stop(String reason) {
    if (loop == null || loop.isShuttingDown()) return;
    try {
      loop.submit(
              () -> {
                if (machine != null && !finishing) {
                  machine.abort(reason);
                  act();
                }
              })
          .get(1, TimeUnit.SECONDS);
      done.get(2, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.debug("udpcast stop: {}", e.toString());
    }
  }

  public Counters counters() {
    return counters;
  }

  /** Messages from the sender, on the one channel. */
  private final class Handler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
      counters.rx.incrementAndGet();
      if (machine == null || finishing || !(p.sender().getAddress() instanceof Inet4Address from))
        return;
      UdpcastMessage m =
          PeerPackets.decode(p, UdpcastMessage::decode, counters.malformed, log, "udpcast");
      if (m == null) return;
      long now = System.nanoTime();
      if (firstDataNanos == 0 && m.opcode() == Udpcast.OP_DATA) firstDataNanos = now;
      machine.receive(Ipv4.toInt(from), p.sender().getPort(), m, now);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (machine != null && !finishing) act();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.warn("udpcast socket error: {}", cause.toString());
    }
  }
}

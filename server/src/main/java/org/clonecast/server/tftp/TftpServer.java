package org.clonecast.server.tftp;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpError;
import org.clonecast.protocol.tftp.TftpPacket;
import org.clonecast.protocol.tftp.TftpReadRequest;
import org.clonecast.protocol.tftp.TftpTransfer;
import org.clonecast.protocol.tftp.TftpWriteRequest;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.clonecast.server.limit.Slots;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Read-only TFTP server (RFC 1350, 2347-2349, 7440; docs/tftp.md). Requests arrive on {@code port}
 * of one address; each accepted read gets its own channel on an ephemeral port of the same address
 * (its TID, RFC 1350 §4), run by a {@link TftpSession} on that channel's event loop. At most {@code
 * maxTransfers} run at once, and at most {@code maxPerClient} for one client address (so one host
 * flooding requests never takes the whole table); beyond either a request gets ERROR 0 "busy" from
 * the request port. A transfer nobody answers ends, and frees its slot, after the server's
 * retransmission bound (see {@link TftpTransfer}). Answers that refuse a request (missing file,
 * outside the root, WRQ, mode) come from a fresh port too, as tftp-hpa and dnsmasq send them. The
 * same client port asking again while its transfer runs is a retransmitted request and is ignored.
 *
 * <p>Thread-safe: {@link #close} and the accessors may be called from any thread.
 */
public final class TftpServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TftpServer.class);

  /**
   * What the server runs with.
   *
   * @param port request port (0 picks one, for tests)
   * @param root the directory served
   * @param transfer negotiation limits and retransmission policy of every transfer
   * @param maxTransfers transfer channels at once (refusals count while their port is open)
   * @param maxPerClient transfer channels at once for one client address
   */
  public record Settings(
      int port, Path root, TftpTransfer.Settings transfer, int maxTransfers, int maxPerClient) {
    public Settings {
      Objects.requireNonNull(root, "root");
      Objects.requireNonNull(transfer, "transfer");
      if (maxTransfers < 1) {
        throw new IllegalArgumentException("maxTransfers " + maxTransfers + " < 1");
      }
      if (maxPerClient < 1) {
        throw new IllegalArgumentException("maxPerClient " + maxPerClient + " < 1");
      }
    }
  }

  private final EventLoopGroup group;
  private final InetAddress address;
  private final Settings settings;
  private final TftpRoot root;
  private final TftpOverlay overlay;
  private final TftpStats stats = new TftpStats();
  private final Slots<InetAddress> slots;
  private final Map<InetSocketAddress, TftpSession> transfers = new ConcurrentHashMap<>();
  private final WarnLimiter warn = new WarnLimiter();
  private Channel listener;

  private TftpServer(
      EventLoopGroup group,
      InetAddress address,
      Settings settings,
      TftpRoot root,
      TftpOverlay overlay) {
    this.overlay = overlay;
    this.group = group;
    this.address = address;
    this.settings = settings;
    this.root = root;
    this.slots = new Slots<>(settings.maxTransfers(), settings.maxPerClient());
  }

  /**
   * Binds the request port.
   *
   * @throws IOException when the root does not exist
   */
  public static TftpServer start(EventLoopGroup group, InetAddress address, Settings settings)
      throws IOException, InterruptedException {
    return start(group, address, settings, TftpOverlay.NONE);
  }

  /**
   * Binds the request port; {@code overlay} is asked for every name before the root.
   *
   * @throws IOException when the root does not exist
   */
  public static TftpServer start(
      EventLoopGroup group, InetAddress address, Settings settings, TftpOverlay overlay)
      throws IOException, InterruptedException {
    TftpServer s = new TftpServer(group, address, settings, new TftpRoot(settings.root()), overlay);
    s.listener =
        new Bootstrap()
            .group(group)
            .channel(Transport.datagram())
            .handler(s.new RequestHandler())
            .bind(new InetSocketAddress(address, settings.port()))
            .sync()
            .channel();
    LOG.info(
        "tftp: serving {} on {}:{} (blksize up to {}, windowsize up to {}, {} transfers at once, {} per client)",
        s.root.path(),
        address.getHostAddress(),
        s.port(),
        settings.transfer().maxBlksize(),
        settings.transfer().maxWindowsize(),
        settings.maxTransfers(),
        settings.maxPerClient());
    return s;
  }

  /**
   * @return the bound request port
   */
  public int port() {
    return ((InetSocketAddress) listener.localAddress()).getPort();
  }

  public TftpStats stats() {
    return stats;
  }

  /**
   * @return transfer and refusal channels open now
   */
  public int activeTransfers() {
    return slots.held();
  }

  /**
   * @return transfer and refusal channels open now for one client address
   */
  public int activeTransfers(InetAddress client) {
    return slots.held(client);
  }

  @Override
  public void close() {
    if (listener != null) {
      listener.close().syncUninterruptibly();
    }
    for (TftpSession s : transfers.values()) {
      s.channel().close().syncUninterruptibly();
    }
  }

  /** Requests on the well-known port. Runs on the listener's event loop. */
  private final class RequestHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket dp) {
      stats.rx.increment();
      InetSocketAddress client = dp.sender();
      TftpPacket p = decodeOrCount(dp, stats);
      if (p == null) {
        return;
      }
      if (p instanceof TftpReadRequest rrq) {
        onRead(ctx, client, rrq);
      } else if (p instanceof TftpWriteRequest wrq) {
        refuse(
            client,
            wrq.filename(),
            new TftpError(Tftp.ERR_ACCESS_VIOLATION, "read-only server: writes are refused"));
      } else {
        stats.ignored.increment();
        LOG.debug(
            "tftp: {} from {} to the request port ignored", p.getClass().getSimpleName(), client);
      }
    }

    private void onRead(ChannelHandlerContext ctx, InetSocketAddress client, TftpReadRequest rrq) {
      TftpSession running = transfers.get(client);
      if (running != null && running.isRepeatOf(rrq)) {
        stats.ignored.increment();
        LOG.debug(
            "tftp: repeated RRQ {} from {} while its transfer runs; ignored",
            rrq.filename(),
            client);
        return;
      }
      Optional<TftpError> refusal = TftpTransfer.refusal(rrq);
      if (refusal.isPresent()) {
        refuse(client, rrq.filename(), refusal.get());
        return;
      }
      switch (slots.take(client.getAddress())) {
        case FULL -> {
          stats.busy.increment();
          send(
              ctx.channel(),
              client,
              new TftpError(
                  Tftp.ERR_NOT_DEFINED,
                  "server busy: " + settings.maxTransfers() + " transfers running; try again"));
          warn.warn(
              "tftp: busy, refused "
                  + rrq.filename()
                  + " from "
                  + client
                  + " ("
                  + settings.maxTransfers()
                  + " transfers running; raise tftp.max-transfers?)",
              null);
          return;
        }
        case CLIENT_FULL -> {
          stats.busyClient.increment();
          send(
              ctx.channel(),
              client,
              new TftpError(
                  Tftp.ERR_NOT_DEFINED,
                  "server busy: "
                      + settings.maxPerClient()
                      + " transfers running for "
                      + client.getAddress().getHostAddress()
                      + "; try again when one ends"));
          LOG.debug(
              "tftp: {} from {} refused: {} transfers running for that address",
              rrq.filename(),
              client,
              settings.maxPerClient());
          return;
        }
        case TAKEN -> {}
      }
      String relative = rrq.filename().replace('\\', '/').replaceFirst("^/+", "");
      TftpRoot.Lookup lookup =
          overlay.open(relative, client.getAddress()).orElseGet(() -> root.open(rrq.filename()));
      if (lookup instanceof TftpRoot.Found f) {
        startTransfer(client, rrq, f);
      } else {
        slots.release(client.getAddress());
        refuse(client, rrq.filename(), ((TftpRoot.Refused) lookup).error());
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      warn.warn("tftp: request port error", cause);
    }
  }

  /**
   * Decodes a datagram; a malformed one is counted, logged at DEBUG with its sender and hex, and
   * dropped.
   *
   * @return the packet, or null when it was malformed
   */
  static TftpPacket decodeOrCount(DatagramPacket dp, TftpStats stats) {
    try {
      return TftpPacket.decode(dp.content());
    } catch (MalformedPacketException e) {
      stats.malformed.increment();
      LOG.debug(
          "tftp: malformed packet from {}: {}; {}",
          dp.sender(),
          e.getMessage(),
          ByteBufs.hexDump(dp.content()));
      return null;
    }
  }

  private void startTransfer(InetSocketAddress client, TftpReadRequest rrq, TftpRoot.Found file) {
    TftpTransfer machine = TftpTransfer.create(rrq, file.size(), settings.transfer());
    TftpSession session =
        new TftpSession(client, rrq, file.channel(), machine, stats, warn, transfers);
    ChannelFuture bound =
        new Bootstrap()
            .group(group)
            .channel(Transport.datagram())
            .handler(session)
            .bind(new InetSocketAddress(address, 0));
    Channel ch = bound.channel();
    session.attach(ch);
    // Entered before any close can happen, so the close listener always finds this entry. A
    // different request from the same port replaces an older transfer's entry: the client has
    // moved on, and the older one ends by its own timeout.
    transfers.put(client, session);
    ch.closeFuture()
        .addListener(
            f -> {
              transfers.remove(client, session);
              slots.release(client.getAddress());
            });
    bound.addListener(
        (ChannelFutureListener)
            f -> {
              if (!f.isSuccess()) {
                stats.transfersFailed.increment();
                LOG.warn(
                    "tftp: cannot open a transfer port for {} to {}: {}",
                    rrq.filename(),
                    client,
                    f.cause().toString());
                session.abandon();
                f.channel().close();
              }
            });
  }

  /** Answers a request with {@code error} from a fresh port, then closes that port. */
  private void refuse(InetSocketAddress client, String file, TftpError error) {
    stats.refused.increment();
    LOG.info("tftp: refused {} to {}: ERROR {} {}", file, client, error.code(), error.message());
    if (slots.take(client.getAddress()) != Slots.Result.TAKEN) {
      stats.busy.increment();
      return;
    }
    new Bootstrap()
        .group(group)
        .channel(Transport.datagram())
        .handler(new ChannelInboundHandlerAdapter())
        .bind(new InetSocketAddress(address, 0))
        .addListener(
            (ChannelFutureListener)
                f -> {
                  f.channel().closeFuture().addListener(c -> slots.release(client.getAddress()));
                  if (f.isSuccess()) {
                    send(f.channel(), client, error).addListener(ChannelFutureListener.CLOSE);
                  } else {
                    f.channel().close();
                  }
                });
  }

  private ChannelFuture send(Channel ch, InetSocketAddress to, TftpPacket p) {
    ByteBuf buf = ch.alloc().buffer();
    p.encode(buf);
    stats.tx.increment();
    return ch.writeAndFlush(new DatagramPacket(buf, to));
  }

  /** Logs a WARN at most every 10 s, so a storm of errors cannot flood the log. Thread-safe. */
  static final class WarnLimiter {
    private static final long INTERVAL = 10_000_000_000L;
    private final AtomicLong last = new AtomicLong(System.nanoTime() - INTERVAL);
    private final AtomicInteger suppressed = new AtomicInteger();

    /**
     * @param cause what went wrong, or null for a plain condition
     */
    void warn(String what, Throwable cause) {
      long now = System.nanoTime();
      long prev = last.get();
      if (now - prev >= INTERVAL && last.compareAndSet(prev, now)) {
        int skipped = suppressed.getAndSet(0);
        LOG.warn(
            "{}{}{}",
            what,
            cause == null ? "" : ": " + cause,
            skipped == 0 ? "" : " (" + skipped + " more warnings suppressed)");
      } else {
        suppressed.incrementAndGet();
      }
    }
  }
}

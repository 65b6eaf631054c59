package org.clonecast.server.dns;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.clonecast.common.net.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Message;

/**
 * The DNS responder's sockets: UDP and TCP (RFC 1035 §4.2, RFC 7766) on each given address, one
 * port for all. Thin shells around {@link DnsResponder}: nothing here decides an answer.
 *
 * <p>TCP messages carry a 2-byte length; a connection may send several queries, is closed after
 * {@link #TCP_IDLE_SECONDS} idle, and at most {@link #MAX_TCP_CONNECTIONS} are open at once.
 *
 * <p>Thread-safe.
 */
public final class DnsServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DnsServer.class);

  /** RFC 7766 §6.2.3 suggests seconds, not minutes. */
  static final int TCP_IDLE_SECONDS = 10;

  static final int MAX_TCP_CONNECTIONS = 256;

  /** Large enough for any UDP datagram: a cut datagram would parse as damage. */
  private static final int UDP_RECV_BUFFER = 65_536;

  private static final long WARN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final DnsResponder responder;
  private final Optional<DnsForwarder> forwarder;
  private final List<Channel> channels = new ArrayList<>();
  private final AtomicInteger tcpOpen = new AtomicInteger();
  private final AtomicLong lastWarn = new AtomicLong(System.nanoTime() - WARN_INTERVAL_NANOS);
  private int port;

  private DnsServer(DnsResponder responder, Optional<DnsForwarder> forwarder) {
    this.responder = responder;
    this.forwarder = forwarder;
  }

  /**
   * Binds UDP and TCP on every address.
   *
   * @param port the port (0 picks a free one on the first address, then used everywhere)
   */
  public static DnsServer start(
      EventLoopGroup group,
      List<InetAddress> addresses,
      int port,
      DnsResponder responder,
      Optional<DnsForwarder> forwarder)
      throws InterruptedException {
    DnsServer s = new DnsServer(responder, forwarder);
    try {
      s.port = port;
      for (InetAddress a : addresses) {
        Channel udp = s.bindUdp(group, new InetSocketAddress(a, s.port));
        s.port = ((InetSocketAddress) udp.localAddress()).getPort();
        s.bindTcp(group, new InetSocketAddress(a, s.port));
      }
      return s;
    } catch (InterruptedException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** The port bound. */
  public int port() {
    return port;
  }

  public DnsStats stats() {
    return responder.stats();
  }

  private Channel bindUdp(EventLoopGroup group, InetSocketAddress at) throws InterruptedException {
    Channel ch =
        new Bootstrap()
            .group(group)
            .channel(Transport.datagram())
            .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(UDP_RECV_BUFFER))
            .handler(new UdpHandler())
            .bind(at)
            .sync()
            .channel();
    channels.add(ch);
    return ch;
  }

  private void bindTcp(EventLoopGroup group, InetSocketAddress at) throws InterruptedException {
    Channel ch =
        Transport.tcpServer(
                group,
                Transport.initializer(
                    c -> {
                      if (tcpOpen.incrementAndGet() > MAX_TCP_CONNECTIONS) {
                        tcpOpen.decrementAndGet();
                        warn(
                            "dns: more than "
                                + MAX_TCP_CONNECTIONS
                                + " TCP connections; refusing "
                                + c.remoteAddress(),
                            null);
                        c.close();
                        return;
                      }
                      c.closeFuture().addListener(f -> tcpOpen.decrementAndGet());
                      c.pipeline()
                          .addLast(new IdleStateHandler(0, 0, TCP_IDLE_SECONDS))
                          .addLast(
                              new LengthFieldBasedFrameDecoder(DnsResponder.TCP_LIMIT, 0, 2, 0, 2))
                          .addLast(new LengthFieldPrepender(2))
                          .addLast(new TcpHandler());
                    }))
            .bind(at)
            .sync()
            .channel();
    channels.add(ch);
  }

  /** Runs the responder; a forward completes later on the channel's event loop. */
  private void handle(
      Channel ch, byte[] packet, SocketAddress from, boolean tcp, Consumer<byte[]> send) {
    DnsResponder.Outcome o = responder.respond(packet, tcp);
    if (o instanceof DnsResponder.Outcome.Reply r) {
      send.accept(r.wire());
    } else if (o instanceof DnsResponder.Outcome.Silence s) {
      if (LOG.isDebugEnabled()) {
        LOG.debug(
            "dns: dropped {} bytes from {}: {}; {}",
            packet.length,
            from,
            s.reason(),
            ByteBufUtil.hexDump(packet, 0, Math.min(packet.length, 128)));
      }
    } else if (o instanceof DnsResponder.Outcome.Forward f && forwarder.isPresent()) {
      Message query = f.query();
      forwarder
          .get()
          .forward(query)
          .whenComplete(
              (upstream, e) ->
                  ch.eventLoop()
                      .execute(
                          () -> {
                            DnsResponder.Outcome after =
                                e == null
                                    ? responder.forwarded(query, upstream, tcp)
                                    : responder.forwardFailed(query, tcp);
                            if (e != null) {
                              warn(
                                  "dns: no forwarder answered "
                                      + query.getQuestion()
                                      + ": "
                                      + e.getMessage(),
                                  null);
                            }
                            if (after instanceof DnsResponder.Outcome.Reply r && ch.isActive()) {
                              send.accept(r.wire());
                              ch.flush();
                            }
                          }));
    }
  }

  private void warn(String message, Throwable cause) {
    long now = System.nanoTime();
    long last = lastWarn.get();
    if (now - last >= WARN_INTERVAL_NANOS && lastWarn.compareAndSet(last, now)) {
      LOG.warn(message + " (further warnings for 10 s suppressed)", cause);
    }
  }

  /** One datagram, one answer to its sender. */
  private final class UdpHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
      byte[] packet = ByteBufUtil.getBytes(p.content());
      InetSocketAddress from = p.sender();
      handle(
          ctx.channel(),
          packet,
          from,
          false,
          wire -> ctx.write(new DatagramPacket(Unpooled.wrappedBuffer(wire), from)));
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ctx.flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // Never close the UDP socket for one bad packet or one failed send.
      responder.stats().errors.increment();
      warn("dns: udp error", cause);
    }
  }

  /** Length-framed messages on one connection; answers go back in the order they are ready. */
  private final class TcpHandler extends SimpleChannelInboundHandler<ByteBuf> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) {
      byte[] packet = ByteBufUtil.getBytes(frame);
      handle(
          ctx.channel(),
          packet,
          ctx.channel().remoteAddress(),
          true,
          wire -> ctx.write(Unpooled.wrappedBuffer(wire)));
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      ctx.flush();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof IdleStateEvent) {
        ctx.close();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // A frame over 64 KiB cannot happen (2-byte length); resets and the like end this connection
      // only.
      LOG.debug("dns: tcp connection from {} failed", ctx.channel().remoteAddress(), cause);
      ctx.close();
    }
  }

  @Override
  public void close() {
    for (Channel ch : channels) {
      ch.close().syncUninterruptibly();
    }
  }
}

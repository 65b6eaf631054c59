package org.clonecast.common.net;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.ThreadFactory;
import java.util.function.Consumer;

/**
 * Picks Netty's epoll transport (recvmmsg, UDP GSO) and falls back to NIO where epoll is not
 * available, so the programs still run (more slowly) on an unusual JVM or kernel.
 */
public final class Transport {
  /** Netty's switch for its buffer allocators' JFR events. */
  static final String NETTY_JFR = "io.netty.jfr.enabled";

  private Transport() {}

  /**
   * Turns Netty's JFR events off unless the command line asks for them ({@code
   * -Dio.netty.jfr.enabled=true}); call first in {@code main}, before any Netty class is used.
   * Netty enables them wherever the JDK has {@code jdk.jfr}, and its first buffer allocation then
   * brings up the JFR framework even with no recording: 0.5-1.3 s of wall time (80 ms of CPU) on a
   * busy host, measured, which fell on an agent's path from its first datagram to its first byte
   * and on a sender's first announcement. The netboot JRE has no {@code jdk.jfr}, so its agent had
   * them off already; a JDK's agent and the daemon now start alike.
   */
  public static void noJfrEventsUnlessAsked() {
    if (System.getProperty(NETTY_JFR) == null) System.setProperty(NETTY_JFR, "false");
  }

  public static boolean epoll() {
    return Epoll.isAvailable();
  }

  public static EventLoopGroup group(int threads, String name) {
    ThreadFactory tf = new DefaultThreadFactory(name, true);
    IoHandlerFactory f = epoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    return new MultiThreadIoEventLoopGroup(threads, tf, f);
  }

  /**
   * Options of a socket that sends bulk multicast on {@code nif}: a large send buffer, the group's
   * interface and TTL, no loopback to ourselves, and write-buffer marks that let the sender see
   * back-pressure (both senders, native and udpcast, set up their data socket this way).
   */
  public static Bootstrap multicastSender(Bootstrap b, NetInterface nif, int ttl) {
    return b.option(ChannelOption.SO_SNDBUF, 4 << 20)
        .option(ChannelOption.IP_MULTICAST_IF, nif.nif())
        .option(ChannelOption.IP_MULTICAST_TTL, ttl)
        .option(ChannelOption.IP_MULTICAST_LOOP_DISABLED, true)
        .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 4 << 20));
  }

  /**
   * A TCP server on {@code group} (accepting and serving on the same loops), with the address
   * reusable at once after a restart, whose accepted connections {@code childHandler} sets up.
   */
  public static ServerBootstrap tcpServer(EventLoopGroup group, ChannelHandler childHandler) {
    return new ServerBootstrap()
        .group(group)
        .channel(server())
        .option(ChannelOption.SO_REUSEADDR, true)
        .childHandler(childHandler);
  }

  /** A handler that sets up each new connection with {@code init} (its pipeline, its limits). */
  public static ChannelInitializer<SocketChannel> initializer(Consumer<SocketChannel> init) {
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(SocketChannel ch) {
        init.accept(ch);
      }
    };
  }

  public static Class<? extends DatagramChannel> datagram() {
    return epoll() ? EpollDatagramChannel.class : NioDatagramChannel.class;
  }

  public static Class<? extends ServerSocketChannel> server() {
    return epoll() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  public static Class<? extends SocketChannel> socket() {
    return epoll() ? EpollSocketChannel.class : NioSocketChannel.class;
  }
}

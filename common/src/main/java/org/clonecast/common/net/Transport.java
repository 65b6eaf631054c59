package org.clonecast.common.net;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
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
import java.util.concurrent.ThreadFactory;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * Picks Netty's epoll transport (recvmmsg, UDP GSO) and falls back to NIO where epoll is not
 * available, so the programs still run (more slowly) on an unusual JVM or kernel.
 */
public final class Transport {
  private Transport() {}

  public static boolean epoll() {
    return Epoll.isAvailable();
  }

  public static EventLoopGroup group(int threads, String name) {
    ThreadFactory tf = new DefaultThreadFactory(name, true);
    IoHandlerFactory f = epoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    return new MultiThreadIoEventLoopGroup(threads, tf, f);
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

package org.clonecast.server.dhcp;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.unix.RawUnixChannelOption;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.Transport;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DHCP sockets: UDP 67 (full or proxy) and UDP 4011 (PXE boot server), both bound to the
 * wildcard address (broadcasts arrive there) and tied to the provisioning interface with
 * SO_BINDTODEVICE, so on a multi-homed head node requests from other networks are never seen and
 * replies, broadcasts included, leave through the provisioning interface only. Both sockets run on
 * one event loop of their own, which owns the {@link DhcpResponder}.
 *
 * <p>Thread-safe: start and close from any thread.
 */
public final class DhcpServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DhcpServer.class);

  /** Linux IFNAMSIZ: an interface name and its NUL. */
  static final int IFNAMSIZ = 16;

  /**
   * setsockopt(SOL_SOCKET = 1, SO_BINDTODEVICE = 25, "eth0\0"): Netty has no named option for it.
   */
  public static final RawUnixChannelOption SO_BINDTODEVICE =
      new RawUnixChannelOption("SO_BINDTODEVICE", 1, 25, IFNAMSIZ);

  private final EventLoopGroup group;
  private final Channel main;
  private final Channel boot;
  private final DhcpStats stats;
  private final Inventory inventory;

  private final Optional<LeaseMerge> merge;

  private DhcpServer(
      EventLoopGroup group,
      Channel main,
      Channel boot,
      DhcpStats stats,
      Inventory inventory,
      Optional<LeaseMerge> merge) {
    this.merge = merge;
    this.inventory = inventory;
    this.group = group;
    this.main = main;
    this.boot = boot;
    this.stats = stats;
  }

  /** How often a daemon on a shared store reads the other daemons' leases. */
  static final long MERGE_SECONDS = 2;

  /**
   * Binds both sockets and starts answering.
   *
   * @param device the provisioning interface's name (SO_BINDTODEVICE)
   * @param bindAddress the wildcard address in production; 127.0.0.1 in loopback tests
   * @throws IllegalStateException when the epoll transport (needed for SO_BINDTODEVICE) is missing
   * @throws InterruptedException while binding
   */
  public static DhcpServer start(
      DhcpConfig config,
      String device,
      InetAddress bindAddress,
      DhcpResponder responder,
      DhcpStats stats,
      Database db,
      EventLog events,
      NodeStore nodes,
      Clock clock)
      throws InterruptedException {
    if (!Transport.epoll()) {
      throw new IllegalStateException(
          "the DHCP responder needs Netty's epoll transport (Linux) to bind to "
              + device
              + " with SO_BINDTODEVICE; it is not available on this JVM/OS");
    }
    Inventory inventory = Inventory.following(nodes);
    EventLoopGroup group = Transport.group(1, "dhcp");
    try {
      EventLoop loop = group.next();
      Channel main =
          bind(
              loop,
              device,
              new InetSocketAddress(bindAddress, config.port()),
              new DhcpHandler(responder, false, stats, db, events, nodes, inventory, clock));
      Channel boot;
      try {
        boot =
            bind(
                loop,
                device,
                new InetSocketAddress(bindAddress, config.proxyPort()),
                new DhcpHandler(responder, true, stats, db, events, nodes, inventory, clock));
      } catch (InterruptedException | RuntimeException e) {
        main.close().sync();
        throw e;
      }
      // Other daemons share the store (docs/scale.md): their leases come into our tables every
      // few seconds, read off the event loop. A write never relies on this: the store refuses to
      // take an address from its holder whatever our tables say.
      LeaseMerge merge =
          db.shared()
              ? LeaseMerge.start(
                  loop,
                  responder,
                  new LeaseStore(db)::loadAll,
                  clock,
                  Duration.ofSeconds(MERGE_SECONDS))
              : null;
      DhcpServer s =
          new DhcpServer(group, main, boot, stats, inventory, Optional.ofNullable(merge));
      LOG.info(
          "dhcp: {} mode on {} ports {} and {}",
          config.mode().id(),
          device,
          s.port(),
          s.proxyPort());
      return s;
    } catch (InterruptedException | RuntimeException e) {
      inventory.close();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw e;
    }
  }

  private static Channel bind(
      EventLoop loop, String device, InetSocketAddress at, DhcpHandler handler)
      throws InterruptedException {
    return new Bootstrap()
        .group(loop)
        .channel(Transport.datagram())
        .option(ChannelOption.SO_BROADCAST, true)
        .option(ChannelOption.SO_RCVBUF, 1 << 20)
        // A DHCP message fits 1500 octets; read many per wake-up so one commit covers a burst.
        .option(
            ChannelOption.RCVBUF_ALLOCATOR,
            new FixedRecvByteBufAllocator(2048).maxMessagesPerRead(64))
        .option(SO_BINDTODEVICE, deviceName(device))
        .handler(handler)
        .bind(at)
        .sync()
        .channel();
  }

  /** The SO_BINDTODEVICE value: the name, NUL-padded to IFNAMSIZ. */
  static ByteBuffer deviceName(String device) {
    byte[] name = device.getBytes(StandardCharsets.US_ASCII);
    if (name.length == 0 || name.length >= IFNAMSIZ) {
      throw new IllegalArgumentException("interface name '" + device + "' must be 1-15 characters");
    }
    ByteBuffer b = ByteBuffer.allocateDirect(IFNAMSIZ);
    b.put(name);
    b.position(0);
    return b;
  }

  /** The interface a socket is bound to, as the kernel reports it (getsockopt SO_BINDTODEVICE). */
  static String boundDevice(Channel ch) {
    ByteBuffer b = ch.config().getOption(SO_BINDTODEVICE);
    StringBuilder sb = new StringBuilder();
    while (b.hasRemaining()) {
      byte c = b.get();
      if (c == 0) {
        break;
      }
      sb.append((char) c);
    }
    return sb.toString();
  }

  /** The devices both sockets are bound to, main first. */
  public String[] boundDevices() {
    return new String[] {boundDevice(main), boundDevice(boot)};
  }

  /** The DHCP port actually bound. */
  public int port() {
    return ((InetSocketAddress) main.localAddress()).getPort();
  }

  /** The PXE boot-server port actually bound. */
  public int proxyPort() {
    return ((InetSocketAddress) boot.localAddress()).getPort();
  }

  public DhcpStats stats() {
    return stats;
  }

  @Override
  public void close() {
    merge.ifPresent(LeaseMerge::close);
    main.close().syncUninterruptibly();
    boot.close().syncUninterruptibly();
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    inventory.close();
  }

  @Override
  public String toString() {
    return "dhcp server on ports " + port() + "/" + proxyPort();
  }
}

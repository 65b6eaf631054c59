package org.clonecast.server.boot;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * A raw ICMPv6 socket pinned to one interface (Linux, through libc via JNA: neither the JDK nor
 * Netty has raw sockets). It receives only Router Solicitations and sends with hop limit 255, as
 * Neighbor Discovery requires (RFC 4861 §6.1.2). Needs CAP_NET_RAW.
 *
 * <p>Not thread-safe: one thread receives and sends; {@link #close} may come from another thread
 * only after that thread has stopped.
 */
final class Icmp6Socket implements AutoCloseable {
  private static final int AF_INET6 = 10;
  private static final int SOCK_RAW = 3;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int IPPROTO_ICMPV6 = 58;
  private static final int IPPROTO_IPV6 = 41;
  private static final int SOL_SOCKET = 1;
  private static final int SO_RCVTIMEO = 20;
  private static final int SO_BINDTODEVICE = 25;
  private static final int IPV6_UNICAST_HOPS = 16;
  private static final int IPV6_MULTICAST_IF = 17;
  private static final int IPV6_MULTICAST_HOPS = 18;
  private static final int IPV6_JOIN_GROUP = 20;
  private static final int ICMP6_FILTER = 1;
  private static final int EAGAIN = 11;
  private static final int EINTR = 4;
  private static final int EADDRNOTAVAIL = 99;
  private static final int SOCKADDR_IN6_LEN = 28;

  /** The libc calls used; errno comes back as a {@link LastErrorException}. */
  private interface LibC extends Library {
    int socket(int domain, int type, int protocol) throws LastErrorException;

    int setsockopt(int fd, int level, int optname, byte[] optval, int optlen) throws LastErrorException;

    long sendto(int fd, byte[] buf, long len, int flags, byte[] addr, int addrlen) throws LastErrorException;

    long recvfrom(int fd, byte[] buf, long len, int flags, byte[] addr, IntByReference addrlen) throws LastErrorException;

    int close(int fd) throws LastErrorException;
  }

  private static volatile LibC libc;

  private final int fd;
  private final int ifindex;

  /** A received datagram: the ICMPv6 message and its source address. */
  record Received(byte[] message, Inet6Address source) {}

  private Icmp6Socket(int fd, int ifindex) {
    this.fd = fd;
    this.ifindex = ifindex;
  }

  private static LibC libc() {
    if (libc == null) {
      libc = Native.load("c", LibC.class);
    }
    return libc;
  }

  /**
   * Opens the socket on {@code ifname}, joined to all-routers (ff02::2) so solicitations arrive.
   *
   * @param receiveTimeoutMillis how long {@link #receive} blocks at most
   * @throws IllegalStateException naming the failed call and errno (e.g. EPERM without CAP_NET_RAW)
   */
  static Icmp6Socket open(String ifname, int ifindex, int receiveTimeoutMillis) {
    int fd;
    try {
      fd = libc().socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    } catch (LastErrorException | UnsatisfiedLinkError e) {
      throw new IllegalStateException("cannot open a raw ICMPv6 socket (" + e.getMessage() + "); it needs CAP_NET_RAW", e);
    }
    Icmp6Socket s = new Icmp6Socket(fd, ifindex);
    try {
      byte[] name = Arrays.copyOf(ifname.getBytes(StandardCharsets.US_ASCII), ifname.length() + 1);
      s.option(SOL_SOCKET, SO_BINDTODEVICE, name, "SO_BINDTODEVICE " + ifname);
      s.option(IPPROTO_IPV6, IPV6_UNICAST_HOPS, ints(255), "IPV6_UNICAST_HOPS");
      s.option(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ints(255), "IPV6_MULTICAST_HOPS");
      s.option(IPPROTO_IPV6, IPV6_MULTICAST_IF, ints(ifindex), "IPV6_MULTICAST_IF");
      s.option(IPPROTO_ICMPV6, ICMP6_FILTER, passOnly(133), "ICMP6_FILTER");
      byte[] mreq = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder())
          .put(address("ff02::2").getAddress()).putInt(ifindex).array();
      s.option(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq, "IPV6_JOIN_GROUP ff02::2");
      long sec = receiveTimeoutMillis / 1000;
      long usec = (receiveTimeoutMillis % 1000) * 1000L;
      s.option(SOL_SOCKET, SO_RCVTIMEO, ByteBuffer.allocate(16).order(ByteOrder.nativeOrder()).putLong(sec).putLong(usec).array(),
          "SO_RCVTIMEO");
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private void option(int level, int name, byte[] value, String what) {
    try {
      libc().setsockopt(fd, level, name, value, value.length);
    } catch (LastErrorException e) {
      throw new IllegalStateException("setsockopt " + what + " failed: errno " + e.getErrorCode(), e);
    }
  }

  private static byte[] ints(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }

  /** struct icmp6_filter: a set bit blocks that type (RFC 3542 §3.2). */
  private static byte[] passOnly(int type) {
    int[] words = new int[8];
    Arrays.fill(words, -1);
    words[type >> 5] &= ~(1 << (type & 31));
    ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.nativeOrder());
    for (int w : words) b.putInt(w);
    return b.array();
  }

  static Inet6Address address(String literal) {
    try {
      return (Inet6Address) InetAddress.getByName(literal);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(literal, e);
    }
  }

  /** Sends {@code message} to {@code dest} on this socket's interface. */
  void send(byte[] message, Inet6Address dest) {
    byte[] sa = ByteBuffer.allocate(SOCKADDR_IN6_LEN).order(ByteOrder.nativeOrder())
        .putShort((short) AF_INET6)
        .putShort((short) 0)          // port: unused for raw sockets
        .putInt(0)                    // flowinfo
        .put(dest.getAddress())
        .putInt(ifindex)              // scope id: link-local and multicast need the interface
        .array();
    try {
      libc().sendto(fd, message, message.length, 0, sa, sa.length);
    } catch (LastErrorException e) {
      if (e.getErrorCode() == EADDRNOTAVAIL) {
        throw new IllegalStateException("no IPv6 link-local address to send from yet (IPv6 off on the interface, or duplicate"
            + " address detection still running)", e);
      }
      throw new IllegalStateException("sendto " + dest.getHostAddress() + " failed: errno " + e.getErrorCode(), e);
    }
  }

  /**
   * Waits up to the receive timeout for a datagram.
   *
   * @return empty on timeout
   */
  Optional<Received> receive() {
    byte[] buf = new byte[1500];
    byte[] sa = new byte[SOCKADDR_IN6_LEN];
    IntByReference len = new IntByReference(sa.length);
    long n;
    try {
      n = libc().recvfrom(fd, buf, buf.length, 0, sa, len);
    } catch (LastErrorException e) {
      if (e.getErrorCode() == EAGAIN || e.getErrorCode() == EINTR) return Optional.empty();
      throw new IllegalStateException("recvfrom failed: errno " + e.getErrorCode(), e);
    }
    try {
      Inet6Address src = (Inet6Address) InetAddress.getByAddress(Arrays.copyOfRange(sa, 8, 24));
      return Optional.of(new Received(Arrays.copyOf(buf, (int) n), src));
    } catch (UnknownHostException e) {
      throw new IllegalStateException("recvfrom returned a bad source address", e);
    }
  }

  @Override
  public void close() {
    try {
      libc().close(fd);
    } catch (LastErrorException e) {
      // Nothing to do: the descriptor is gone either way.
    }
  }
}

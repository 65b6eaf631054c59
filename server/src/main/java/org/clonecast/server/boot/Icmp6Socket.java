package org.clonecast.server.boot;

import com.sun.jna.LastErrorException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Optional;
import org.clonecast.server.net.RawSocket;

/**
 * A raw ICMPv6 socket pinned to one interface (Linux, through libc via JNA: neither the JDK nor
 * Netty has raw sockets). It receives only Router Solicitations and sends with hop limit 255, as
 * Neighbor Discovery requires (RFC 4861 §6.1.2). Needs CAP_NET_RAW.
 *
 * <p>Not thread-safe: one thread receives and sends; {@link #close} may come from another thread
 * only after that thread has stopped.
 */
final class Icmp6Socket implements AutoCloseable {
  private static final int IPPROTO_ICMPV6 = 58;
  private static final int IPPROTO_IPV6 = 41;
  private static final int IPV6_UNICAST_HOPS = 16;
  private static final int IPV6_MULTICAST_IF = 17;
  private static final int IPV6_MULTICAST_HOPS = 18;
  private static final int IPV6_JOIN_GROUP = 20;
  private static final int ICMP6_FILTER = 1;
  private static final int SOCKADDR_IN6_LEN = 28;

  private final RawSocket socket;
  private final int ifindex;

  /** A received datagram: the ICMPv6 message and its source address. */
  record Received(byte[] message, Inet6Address source) {}

  private Icmp6Socket(RawSocket socket, int ifindex) {
    this.socket = socket;
    this.ifindex = ifindex;
  }

  /**
   * Opens the socket on {@code ifname}, joined to all-routers (ff02::2) so solicitations arrive.
   *
   * @param receiveTimeoutMillis how long {@link #receive} blocks at most
   * @throws IllegalStateException naming the failed call and errno (e.g. EPERM without CAP_NET_RAW)
   */
  static Icmp6Socket open(String ifname, int ifindex, int receiveTimeoutMillis) {
    RawSocket raw =
        RawSocket.open(RawSocket.AF_INET6, IPPROTO_ICMPV6, "ICMPv6", ifname, receiveTimeoutMillis);
    try {
      raw.option(IPPROTO_IPV6, IPV6_UNICAST_HOPS, RawSocket.ints(255), "IPV6_UNICAST_HOPS");
      raw.option(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, RawSocket.ints(255), "IPV6_MULTICAST_HOPS");
      raw.option(IPPROTO_IPV6, IPV6_MULTICAST_IF, RawSocket.ints(ifindex), "IPV6_MULTICAST_IF");
      raw.option(IPPROTO_ICMPV6, ICMP6_FILTER, passOnly(133), "ICMP6_FILTER");
      byte[] mreq =
          ByteBuffer.allocate(20)
              .order(ByteOrder.nativeOrder())
              .put(address("ff02::2").getAddress())
              .putInt(ifindex)
              .array();
      raw.option(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq, "IPV6_JOIN_GROUP ff02::2");
      return new Icmp6Socket(raw, ifindex);
    } catch (RuntimeException e) {
      raw.close();
      throw e;
    }
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
    byte[] sa =
        ByteBuffer.allocate(SOCKADDR_IN6_LEN)
            .order(ByteOrder.nativeOrder())
            .putShort((short) RawSocket.AF_INET6)
            .putShort((short) 0) // port: unused for raw sockets
            .putInt(0) // flowinfo
            .put(dest.getAddress())
            .putInt(ifindex) // scope id: link-local and multicast need the interface
            .array();
    try {
      socket.sendTo(message, sa);
    } catch (LastErrorException e) {
      if (e.getErrorCode() == RawSocket.EADDRNOTAVAIL) {
        throw new IllegalStateException(
            "no IPv6 link-local address to send from yet (IPv6 off on the interface, or duplicate"
                + " address detection still running)",
            e);
      }
      throw new IllegalStateException(
          "sendto " + dest.getHostAddress() + " failed: errno " + e.getErrorCode(), e);
    }
  }

  /**
   * Waits up to the receive timeout for a datagram.
   *
   * @return empty on timeout
   */
  Optional<Received> receive() {
    Optional<RawSocket.Datagram> d = socket.receive(1500, SOCKADDR_IN6_LEN);
    if (d.isEmpty()) return Optional.empty();
    try {
      Inet6Address src =
          (Inet6Address) InetAddress.getByAddress(Arrays.copyOfRange(d.get().address(), 8, 24));
      return Optional.of(new Received(d.get().data(), src));
    } catch (UnknownHostException e) {
      throw new IllegalStateException("recvfrom returned a bad source address", e);
    }
  }

  @Override
  public void close() {
    socket.close();
  }
}

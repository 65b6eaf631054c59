package org.clonecast.server.net;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * A raw IP socket (Linux, through libc via JNA: neither the JDK nor Netty has raw sockets), for the
 * few protocols the daemon speaks below UDP: ICMPv6 Router Advertisements and IGMP queries. Needs
 * CAP_NET_RAW. Failures name the call and its errno.
 *
 * <p>Not thread-safe: one thread receives and sends; {@link #close} may come from another thread
 * only after that thread has stopped.
 */
public final class RawSocket implements AutoCloseable {
  public static final int AF_INET = 2;
  public static final int AF_INET6 = 10;
  public static final int SOL_SOCKET = 1;
  public static final int EADDRNOTAVAIL = 99;
  private static final int SOCK_RAW = 3;
  private static final int SOCK_CLOEXEC = 0x80000;
  private static final int SO_RCVTIMEO = 20;
  private static final int SO_BINDTODEVICE = 25;
  private static final int EAGAIN = 11;
  private static final int EINTR = 4;

  /** The libc calls used; errno comes back as a {@link LastErrorException}. */
  private interface LibC extends Library {
    int socket(int domain, int type, int protocol) throws LastErrorException;

    int setsockopt(int fd, int level, int optname, byte[] optval, int optlen)
        throws LastErrorException;

    long sendto(int fd, byte[] buf, long len, int flags, byte[] addr, int addrlen)
        throws LastErrorException;

    long recvfrom(int fd, byte[] buf, long len, int flags, byte[] addr, IntByReference addrlen)
        throws LastErrorException;

    int close(int fd) throws LastErrorException;
  }

  private static volatile LibC libc;

  private final int fd;

  /** A received datagram and the sender's socket address (struct sockaddr_in or _in6). */
  public record Datagram(byte[] data, byte[] address) {}

  private RawSocket(int fd) {
    this.fd = fd;
  }

  private static LibC libc() {
    if (libc == null) {
      libc = Native.load("c", LibC.class);
    }
    return libc;
  }

  /**
   * Opens a raw socket of {@code protocol} in {@code family}, bound to {@code ifname}, whose {@link
   * #receive} blocks at most {@code receiveTimeoutMillis}.
   *
   * @throws IllegalStateException naming the failed call and errno (e.g. EPERM without CAP_NET_RAW)
   */
  public static RawSocket open(
      int family, int protocol, String what, String ifname, int receiveTimeoutMillis) {
    int fd;
    try {
      fd = libc().socket(family, SOCK_RAW | SOCK_CLOEXEC, protocol);
    } catch (LastErrorException | UnsatisfiedLinkError e) {
      throw new IllegalStateException(
          "cannot open a raw " + what + " socket (" + e.getMessage() + "); it needs CAP_NET_RAW",
          e);
    }
    RawSocket s = new RawSocket(fd);
    try {
      byte[] name = Arrays.copyOf(ifname.getBytes(StandardCharsets.US_ASCII), ifname.length() + 1);
      s.option(SOL_SOCKET, SO_BINDTODEVICE, name, "SO_BINDTODEVICE " + ifname);
      long sec = receiveTimeoutMillis / 1000;
      long usec = (receiveTimeoutMillis % 1000) * 1000L;
      s.option(
          SOL_SOCKET,
          SO_RCVTIMEO,
          ByteBuffer.allocate(16).order(ByteOrder.nativeOrder()).putLong(sec).putLong(usec).array(),
          "SO_RCVTIMEO");
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** setsockopt; {@code what} names it in the error. */
  public void option(int level, int name, byte[] value, String what) {
    try {
      libc().setsockopt(fd, level, name, value, value.length);
    } catch (LastErrorException e) {
      throw new IllegalStateException(
          "setsockopt " + what + " failed: errno " + e.getErrorCode(), e);
    }
  }

  /** An int option value in the machine's byte order. */
  public static byte[] ints(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }

  /**
   * Sends {@code message} to the socket address {@code address}.
   *
   * @throws LastErrorException with the errno when the kernel refuses
   */
  public void sendTo(byte[] message, byte[] address) {
    libc().sendto(fd, message, message.length, 0, address, address.length);
  }

  /**
   * Waits up to the receive timeout for a datagram of at most {@code max} bytes.
   *
   * @param addressLength the size of the family's socket address
   * @return empty on timeout
   */
  public Optional<Datagram> receive(int max, int addressLength) {
    byte[] buf = new byte[max];
    byte[] sa = new byte[addressLength];
    IntByReference len = new IntByReference(sa.length);
    long n;
    try {
      n = libc().recvfrom(fd, buf, buf.length, 0, sa, len);
    } catch (LastErrorException e) {
      if (e.getErrorCode() == EAGAIN || e.getErrorCode() == EINTR) return Optional.empty();
      throw new IllegalStateException("recvfrom failed: errno " + e.getErrorCode(), e);
    }
    return Optional.of(new Datagram(Arrays.copyOf(buf, (int) n), sa));
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

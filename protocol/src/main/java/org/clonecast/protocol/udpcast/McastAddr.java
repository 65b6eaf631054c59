package org.clonecast.protocol.udpcast;

import io.netty.buffer.ByteBuf;
import java.net.Inet4Address;
import java.util.Arrays;
import org.clonecast.protocol.wire.Hex;
import org.clonecast.protocol.wire.Ipv4;

/**
 * The 16-byte {@code mcastAddr} field of HELLO and CONNECT_REPLY (docs/ref/udpcast-protocol.md
 * §1.2): the IPv4 data group in the first 4 bytes, 12 bytes after it that udpcast leaves
 * uninitialised (zero in every capture). All 16 bytes are kept so a decoded message re-encodes
 * identically.
 *
 * <p>Immutable (the array is cloned in and out); thread-safe.
 *
 * @param bytes exactly 16 bytes
 */
public record McastAddr(byte[] bytes) {
  /** Size of the field on the wire. */
  public static final int SIZE = 16;

  /** Validates the length and takes a private copy. */
  public McastAddr {
    if (bytes.length != SIZE) {
      throw new IllegalArgumentException("mcastAddr length " + bytes.length + ", want " + SIZE);
    }
    bytes = bytes.clone();
  }

  /**
   * @return the field carrying {@code address} and 12 zero bytes, as udpcast sends it
   */
  public static McastAddr ofIpv4(Inet4Address address) {
    return ofIpv4(Ipv4.toInt(address));
  }

  /**
   * @return the field carrying the big-endian IPv4 {@code bits} and 12 zero bytes
   */
  public static McastAddr ofIpv4(int bits) {
    byte[] b = new byte[SIZE];
    b[0] = (byte) (bits >>> 24);
    b[1] = (byte) (bits >>> 16);
    b[2] = (byte) (bits >>> 8);
    b[3] = (byte) bits;
    return new McastAddr(b);
  }

  /** Reads 16 bytes; the caller has checked they are readable. */
  static McastAddr read(ByteBuf in) {
    byte[] b = new byte[SIZE];
    in.readBytes(b);
    return new McastAddr(b);
  }

  /** Appends the 16 bytes. */
  void write(ByteBuf out) {
    out.writeBytes(bytes);
  }

  /**
   * @return a copy of the 16 bytes
   */
  @Override
  public byte[] bytes() {
    return bytes.clone();
  }

  /**
   * @return the IPv4 address in the first 4 bytes as a big-endian int
   */
  public int ipv4Bits() {
    return (bytes[0] & 0xFF) << 24
        | (bytes[1] & 0xFF) << 16
        | (bytes[2] & 0xFF) << 8
        | (bytes[3] & 0xFF);
  }

  /**
   * @return the IPv4 address in the first 4 bytes
   */
  public Inet4Address ipv4() {
    return Ipv4.fromInt(ipv4Bits());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof McastAddr other && Arrays.equals(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  /**
   * @return e.g. {@code "234.77.0.1"}, with {@code "+<hex>"} appended if bytes 4–15 are not zero
   */
  @Override
  public String toString() {
    String ip = ipv4().getHostAddress();
    for (int i = 4; i < SIZE; i++) {
      if (bytes[i] != 0) {
        return ip + "+" + Hex.toHex(bytes, 4, SIZE - 4);
      }
    }
    return ip;
  }
}

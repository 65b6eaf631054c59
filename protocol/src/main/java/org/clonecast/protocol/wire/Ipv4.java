package org.clonecast.protocol.wire;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/** IPv4 address arithmetic. Stateless. */
public final class Ipv4 {
  private Ipv4() {}

  public static int toInt(Inet4Address a) {
    byte[] b = a.getAddress();
    return (b[0] & 0xFF) << 24 | (b[1] & 0xFF) << 16 | (b[2] & 0xFF) << 8 | (b[3] & 0xFF);
  }

  public static Inet4Address fromInt(int v) {
    byte[] b = {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    try {
      return (Inet4Address) InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError("4 bytes are always a valid address", e);
    }
  }

  static int mask(int prefix) {
    return prefix == 0 ? 0 : -1 << (32 - prefix);
  }

  public static Inet4Address broadcast(Inet4Address a, int prefix) {
    return fromInt(toInt(a) | ~mask(prefix));
  }

  public static boolean sameSubnet(Inet4Address a, Inet4Address b, int prefix) {
    return (toInt(a) & mask(prefix)) == (toInt(b) & mask(prefix));
  }

  /** Parses a dotted-quad literal without any name lookup. */
  public static Inet4Address parse(String s) {
    String[] parts = s.trim().split("\\.", -1);
    if (parts.length != 4) throw new IllegalArgumentException("not an IPv4 address: " + s);
    int v = 0;
    for (String p : parts) {
      int o;
      try {
        o = Integer.parseInt(p);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an IPv4 address: " + s);
      }
      if (o < 0 || o > 255 || p.isEmpty() || p.length() > 3)
        throw new IllegalArgumentException("not an IPv4 address: " + s);
      v = v << 8 | o;
    }
    return fromInt(v);
  }

  /** True for 224.0.0.0/4. */
  public static boolean isMulticast(Inet4Address a) {
    return (toInt(a) >>> 28) == 0xE;
  }
}

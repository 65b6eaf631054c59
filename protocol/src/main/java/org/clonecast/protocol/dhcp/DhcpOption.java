package org.clonecast.protocol.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;

import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.clonecast.protocol.wire.Hex;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * One DHCP option (RFC 2132) as a typed value. Codes this module understands get a record that
 * checks the length on decode; every other code is an {@link Unknown} that round-trips its bytes.
 * The value bytes of every option are those of the wire, so {@code decode(code, value(x))} equals
 * {@code x}.
 *
 * <p>Immutable; thread-safe.
 */
public sealed interface DhcpOption {
  /** The option code, 1-254. */
  int code();

  /** The value as on the wire, without code and length. */
  byte[] value();

  /** Codes whose value is one IPv4 address. */
  Set<Integer> ADDRESS_CODES =
      Set.of(OPT_SUBNET_MASK, OPT_BROADCAST_ADDRESS, OPT_REQUESTED_IP, OPT_SERVER_ID);

  /** Codes whose value is a list of IPv4 addresses. */
  Set<Integer> ADDRESS_LIST_CODES = Set.of(OPT_ROUTER, OPT_DNS_SERVERS);

  /** Codes whose value is text (NVT ASCII, read byte for byte so any octets round-trip). */
  Set<Integer> TEXT_CODES =
      Set.of(
          OPT_HOST_NAME,
          OPT_DOMAIN_NAME,
          OPT_MESSAGE,
          OPT_VENDOR_CLASS_ID,
          OPT_TFTP_SERVER_NAME,
          OPT_BOOTFILE_NAME);

  /** Codes whose value is a u32 number of seconds. */
  Set<Integer> SECONDS_CODES = Set.of(OPT_LEASE_TIME, OPT_RENEWAL_TIME, OPT_REBINDING_TIME);

  /**
   * Decodes one option's value.
   *
   * @throws MalformedPacketException for a length the option's type does not allow, e.g. "option 93
   *     length 3, want a multiple of 2"
   */
  static DhcpOption decode(int code, byte[] v) {
    if (ADDRESS_CODES.contains(code)) {
      want(code, v, v.length == 4, "4");
      return new Address(code, Ipv4.fromInt(u32(v, 0)));
    }
    if (ADDRESS_LIST_CODES.contains(code)) {
      want(code, v, v.length >= 4 && v.length % 4 == 0, "a multiple of 4");
      List<Inet4Address> l = new ArrayList<>();
      for (int i = 0; i < v.length; i += 4) {
        l.add(Ipv4.fromInt(u32(v, i)));
      }
      return new Addresses(code, l);
    }
    if (TEXT_CODES.contains(code)) {
      want(code, v, v.length >= 1, "at least 1");
      return new Text(code, new String(v, StandardCharsets.ISO_8859_1));
    }
    if (SECONDS_CODES.contains(code)) {
      want(code, v, v.length == 4, "4");
      return new Seconds(code, u32(v, 0) & 0xFFFF_FFFFL);
    }
    switch (code) {
      case OPT_MESSAGE_TYPE -> {
        want(code, v, v.length == 1, "1");
        // A type RFC 2132 does not define (RFC 4388 lease queries) stays an Unknown: the server
        // ignores it.
        return DhcpMessageType.of(v[0] & 0xFF)
            .<DhcpOption>map(MessageType::new)
            .orElseGet(() -> new Unknown(code, v));
      }
      case OPT_MAX_MESSAGE_SIZE -> {
        want(code, v, v.length == 2, "2");
        return new MaxMessageSize((v[0] & 0xFF) << 8 | (v[1] & 0xFF));
      }
      case OPT_PARAMETER_REQUEST_LIST -> {
        want(code, v, v.length >= 1, "at least 1");
        List<Integer> l = new ArrayList<>();
        for (byte b : v) {
          l.add(b & 0xFF);
        }
        return new ParameterRequestList(l);
      }
      case OPT_CLIENT_ARCH -> {
        want(code, v, v.length >= 2 && v.length % 2 == 0, "a multiple of 2");
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < v.length; i += 2) {
          l.add((v[i] & 0xFF) << 8 | (v[i + 1] & 0xFF));
        }
        return new ClientArch(l);
      }
      case OPT_CLIENT_ID, OPT_CLIENT_GUID, OPT_USER_CLASS -> {
        // Option 97 may be any length here: RFC 4578 wants 17, but refusing a whole DISCOVER over
        // a sloppy GUID would leave the machine unbootable; it is echoed as sent.
        want(code, v, v.length >= 1, "at least 1");
        return new Unknown(code, v);
      }
      default -> {
        return new Unknown(code, v);
      }
    }
  }

  private static void want(int code, byte[] v, boolean ok, String want) {
    if (!ok) {
      throw new MalformedPacketException(
          "option " + code + " length " + v.length + ", want " + want);
    }
  }

  private static int u32(byte[] v, int i) {
    return (v[i] & 0xFF) << 24
        | (v[i + 1] & 0xFF) << 16
        | (v[i + 2] & 0xFF) << 8
        | (v[i + 3] & 0xFF);
  }

  private static byte[] u32Bytes(long x) {
    return new byte[] {(byte) (x >>> 24), (byte) (x >>> 16), (byte) (x >>> 8), (byte) x};
  }

  private static void requireCode(int code, Set<Integer> allowed, String type) {
    if (!allowed.contains(code)) {
      throw new IllegalArgumentException(
          "option " + code + " is not a " + type + " option; codes: " + allowed);
    }
  }

  /** Option 53, the DHCP message type (RFC 2132 §9.6). */
  record MessageType(DhcpMessageType type) implements DhcpOption {
    public MessageType {
      Objects.requireNonNull(type);
    }

    @Override
    public int code() {
      return OPT_MESSAGE_TYPE;
    }

    @Override
    public byte[] value() {
      return new byte[] {(byte) type.code()};
    }
  }

  /** One IPv4 address: subnet mask (1), broadcast (28), requested IP (50), server id (54). */
  record Address(int code, Inet4Address address) implements DhcpOption {
    public Address {
      requireCode(code, ADDRESS_CODES, "single-address");
      Objects.requireNonNull(address);
    }

    @Override
    public byte[] value() {
      return address.getAddress();
    }
  }

  /** A list of IPv4 addresses: routers (3), DNS servers (6). */
  record Addresses(int code, List<Inet4Address> addresses) implements DhcpOption {
    public Addresses {
      requireCode(code, ADDRESS_LIST_CODES, "address-list");
      addresses = List.copyOf(addresses);
      if (addresses.isEmpty()) {
        throw new IllegalArgumentException("option " + code + " needs at least one address");
      }
    }

    @Override
    public byte[] value() {
      byte[] b = new byte[4 * addresses.size()];
      for (int i = 0; i < addresses.size(); i++) {
        System.arraycopy(addresses.get(i).getAddress(), 0, b, 4 * i, 4);
      }
      return b;
    }
  }

  /**
   * Text: host name (12), domain (15), message (56), vendor class (60), TFTP server (66), boot file
   * (67). Each char is one octet (ISO-8859-1), so whatever a client sends, a trailing NUL included,
   * round-trips.
   */
  record Text(int code, String text) implements DhcpOption {
    public Text {
      requireCode(code, TEXT_CODES, "text");
      if (text.isEmpty()) {
        throw new IllegalArgumentException(
            "option " + code + " text is empty; RFC 2132 wants at least 1 octet");
      }
      for (int i = 0; i < text.length(); i++) {
        if (text.charAt(i) > 0xFF) {
          throw new IllegalArgumentException(
              "option " + code + " text has a character above 0xff at " + i);
        }
      }
    }

    @Override
    public byte[] value() {
      return text.getBytes(StandardCharsets.ISO_8859_1);
    }
  }

  /** A u32 number of seconds: lease time (51), renewal T1 (58), rebinding T2 (59). */
  record Seconds(int code, long seconds) implements DhcpOption {
    /** RFC 2132 §9.2: 0xffffffff means infinity. */
    public static final long INFINITE = 0xFFFF_FFFFL;

    public Seconds {
      requireCode(code, SECONDS_CODES, "seconds");
      if (seconds < 0 || seconds > INFINITE) {
        throw new IllegalArgumentException(
            "option " + code + " seconds " + seconds + " outside u32");
      }
    }

    @Override
    public byte[] value() {
      return u32Bytes(seconds);
    }
  }

  /** Option 57, the largest DHCP message the client accepts (RFC 2132 §9.10). */
  record MaxMessageSize(int size) implements DhcpOption {
    public MaxMessageSize {
      if (size < 0 || size > 0xFFFF) {
        throw new IllegalArgumentException("option 57 size " + size + " outside u16");
      }
    }

    @Override
    public int code() {
      return OPT_MAX_MESSAGE_SIZE;
    }

    @Override
    public byte[] value() {
      return new byte[] {(byte) (size >>> 8), (byte) size};
    }
  }

  /** Option 55, the codes the client asks for, in its order (RFC 2132 §9.8). */
  record ParameterRequestList(List<Integer> codes) implements DhcpOption {
    public ParameterRequestList {
      codes = List.copyOf(codes);
      if (codes.isEmpty() || codes.stream().anyMatch(c -> c < 0 || c > 255)) {
        throw new IllegalArgumentException("option 55 wants 1 or more codes of 0-255: " + codes);
      }
    }

    @Override
    public int code() {
      return OPT_PARAMETER_REQUEST_LIST;
    }

    @Override
    public byte[] value() {
      byte[] b = new byte[codes.size()];
      for (int i = 0; i < b.length; i++) {
        b[i] = (byte) (int) codes.get(i);
      }
      return b;
    }
  }

  /** Option 93, the client system architectures (RFC 4578 §2.1), u16 each; see {@link Pxe.Arch}. */
  record ClientArch(List<Integer> types) implements DhcpOption {
    public ClientArch {
      types = List.copyOf(types);
      if (types.isEmpty() || types.stream().anyMatch(t -> t < 0 || t > 0xFFFF)) {
        throw new IllegalArgumentException("option 93 wants 1 or more u16 types: " + types);
      }
    }

    @Override
    public int code() {
      return OPT_CLIENT_ARCH;
    }

    @Override
    public byte[] value() {
      byte[] b = new byte[2 * types.size()];
      for (int i = 0; i < types.size(); i++) {
        b[2 * i] = (byte) (types.get(i) >>> 8);
        b[2 * i + 1] = (byte) (int) types.get(i);
      }
      return b;
    }
  }

  /**
   * An option kept byte for byte: every code without a typed record here (94, 175, ...), and the
   * opaque ones whose meaning {@link Pxe} reads: vendor-specific information (43, PXE sub-options),
   * client identifier (61), user class (77: RFC 3004 wants length-prefixed strings, but iPXE sends
   * the bare text "iPXE") and client machine identifier (97, RFC 4578 §2.3: type 0 + a 16-octet
   * UUID; echoed as received).
   */
  record Unknown(int code, byte[] bytes) implements DhcpOption {
    public Unknown {
      if (code <= OPT_PAD || code >= OPT_END) {
        throw new IllegalArgumentException("option code " + code + " outside 1-254");
      }
      bytes = bytes.clone();
    }

    /** The octets as ISO-8859-1 text (one char per octet). */
    public String text() {
      return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    @Override
    public byte[] value() {
      return bytes.clone();
    }

    @Override
    public byte[] bytes() {
      return bytes.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Unknown u && code == u.code && Arrays.equals(bytes, u.bytes);
    }

    @Override
    public int hashCode() {
      return 31 * code + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
      return "Unknown[" + code + ": " + Hex.toHex(bytes) + "]";
    }
  }
}

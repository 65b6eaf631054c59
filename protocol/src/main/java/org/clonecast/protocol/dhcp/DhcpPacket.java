package org.clonecast.protocol.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * A DHCP message (RFC 2131 §2, figure 1) with its options (RFC 2132) in wire order.
 *
 * <p>Decoding honours option overload (52: options continued in {@code file} and/or {@code sname},
 * RFC 2131 §4.1) and joins an option split over several instances (RFC 3396). The overload option
 * itself is framing, not content: it is not in {@link #options()}, and the overloaded fields read
 * as zeros. Encoding never overloads, writes options in list order (a value over 255 octets split
 * per RFC 3396), ends with END and pads with zeros to the BOOTP minimum of 300 octets. Every packet
 * in the reference captures re-encodes to its exact bytes.
 *
 * <p>Immutable; thread-safe.
 *
 * @param op {@link Dhcp#BOOTREQUEST} or {@link Dhcp#BOOTREPLY}
 * @param htype hardware address type (1 = Ethernet)
 * @param hlen hardware address length, 0-16
 * @param hops relay hops
 * @param xid transaction id chosen by the client
 * @param secs seconds since the client began
 * @param flags bit 15 = broadcast
 * @param ciaddr client address (renewing, INFORM, PXE 4011 request)
 * @param yiaddr "your" address: the one offered or acknowledged
 * @param siaddr next server: where the boot file is
 * @param giaddr relay agent address, 0 when not relayed
 * @param chaddr client hardware address, 16 octets
 * @param sname server host name field, 64 octets
 * @param file boot file name field, 128 octets
 * @param options the options in wire order, without PAD, END and OVERLOAD
 */
public record DhcpPacket(
    int op,
    int htype,
    int hlen,
    int hops,
    int xid,
    int secs,
    int flags,
    Inet4Address ciaddr,
    Inet4Address yiaddr,
    Inet4Address siaddr,
    Inet4Address giaddr,
    byte[] chaddr,
    byte[] sname,
    byte[] file,
    List<DhcpOption> options) {

  /** 0.0.0.0. */
  public static final Inet4Address ZERO = Ipv4.fromInt(0);

  public DhcpPacket {
    if (op != BOOTREQUEST && op != BOOTREPLY) {
      throw new IllegalArgumentException("op " + op + ", want 1 (BOOTREQUEST) or 2 (BOOTREPLY)");
    }
    u8(htype, "htype");
    if (hlen < 0 || hlen > CHADDR_LENGTH) {
      throw new IllegalArgumentException("hlen " + hlen + ", want 0-16");
    }
    u8(hops, "hops");
    ByteBufs.requireU16(secs, "secs");
    ByteBufs.requireU16(flags, "flags");
    Objects.requireNonNull(ciaddr, "ciaddr");
    Objects.requireNonNull(yiaddr, "yiaddr");
    Objects.requireNonNull(siaddr, "siaddr");
    Objects.requireNonNull(giaddr, "giaddr");
    chaddr = fixed(chaddr, CHADDR_LENGTH, "chaddr");
    sname = fixed(sname, SNAME_LENGTH, "sname");
    file = fixed(file, FILE_LENGTH, "file");
    options = List.copyOf(options);
    for (DhcpOption o : options) {
      if (o.code() == OPT_OVERLOAD) {
        throw new IllegalArgumentException(
            "option 52 (overload) is framing; encode never overloads");
      }
    }
  }

  private static void u8(int v, String field) {
    if ((v & ~0xFF) != 0) {
      throw new IllegalArgumentException(field + " " + v + " outside u8");
    }
  }

  private static byte[] fixed(byte[] b, int len, String field) {
    if (b.length != len) {
      throw new IllegalArgumentException(field + " length " + b.length + ", want " + len);
    }
    return b.clone();
  }

  @Override
  public byte[] chaddr() {
    return chaddr.clone();
  }

  @Override
  public byte[] sname() {
    return sname.clone();
  }

  @Override
  public byte[] file() {
    return file.clone();
  }

  /**
   * Decodes one UDP payload from the reader index to the end.
   *
   * @throws MalformedPacketException naming the field, e.g. "option 93 length 3, want a multiple of
   *     2"
   */
  public static DhcpPacket decode(ByteBuf in) {
    return ByteBufs.decoding("DHCP", in, DhcpPacket::decodeBody);
  }

  private static DhcpPacket decodeBody(ByteBuf in) {
    ByteBufs.requireReadable(in, HEADER_LENGTH + 4, "DHCP");
    int op = in.readUnsignedByte();
    if (op != BOOTREQUEST && op != BOOTREPLY) {
      throw new MalformedPacketException("DHCP op " + op + ", want 1 or 2");
    }
    int htype = in.readUnsignedByte();
    int hlen = in.readUnsignedByte();
    if (hlen > CHADDR_LENGTH) {
      throw new MalformedPacketException("DHCP hlen " + hlen + ", want at most 16");
    }
    int hops = in.readUnsignedByte();
    int xid = in.readInt();
    int secs = in.readUnsignedShort();
    int flags = in.readUnsignedShort();
    Inet4Address ciaddr = Ipv4.fromInt(in.readInt());
    Inet4Address yiaddr = Ipv4.fromInt(in.readInt());
    Inet4Address siaddr = Ipv4.fromInt(in.readInt());
    Inet4Address giaddr = Ipv4.fromInt(in.readInt());
    byte[] chaddr = ByteBufs.readBytes(in, CHADDR_LENGTH, "chaddr");
    byte[] sname = ByteBufs.readBytes(in, SNAME_LENGTH, "sname");
    byte[] file = ByteBufs.readBytes(in, FILE_LENGTH, "file");
    int cookie = in.readInt();
    if (cookie != MAGIC_COOKIE) {
      throw new MalformedPacketException(
          "DHCP magic cookie 0x"
              + Integer.toHexString(cookie)
              + ", want 0x63825363 (plain BOOTP is not served)");
    }
    // Values per code in first-seen order; a code seen again is continued (RFC 3396).
    Map<Integer, ByteArrayOutputStream> raw = new LinkedHashMap<>();
    int overload = readOptions(in, in.readableBytes(), raw, "options");
    raw.remove(OPT_OVERLOAD);
    if (overload != 0) {
      // RFC 2131 §4.1: the file field is read first, then sname.
      if ((overload & OVERLOAD_FILE) != 0) {
        readOptions(Unpooled.wrappedBuffer(file), FILE_LENGTH, raw, "file (overloaded)");
        file = new byte[FILE_LENGTH];
      }
      if ((overload & OVERLOAD_SNAME) != 0) {
        readOptions(Unpooled.wrappedBuffer(sname), SNAME_LENGTH, raw, "sname (overloaded)");
        sname = new byte[SNAME_LENGTH];
      }
      raw.remove(OPT_OVERLOAD);
    }
    List<DhcpOption> options = new ArrayList<>(raw.size());
    for (Map.Entry<Integer, ByteArrayOutputStream> e : raw.entrySet()) {
      options.add(DhcpOption.decode(e.getKey(), e.getValue().toByteArray()));
    }
    return new DhcpPacket(
        op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
        file, options);
  }

  /**
   * Reads options until END or the end of the area, leaving the reader at the area's end; returns
   * option 52's value (0 if absent). A missing END at the very end of the area is accepted: RFC
   * 2131 wants it, but some clients end the packet right after the last option and losing them
   * helps nobody.
   */
  private static int readOptions(
      ByteBuf in, int length, Map<Integer, ByteArrayOutputStream> raw, String area) {
    int end = in.readerIndex() + length;
    int overload = 0;
    while (in.readerIndex() < end) {
      int code = in.readUnsignedByte();
      if (code == OPT_PAD) {
        continue;
      }
      if (code == OPT_END) {
        in.readerIndex(
            end); // what follows END is padding (to 300 octets, or the client's own size)
        break;
      }
      if (in.readerIndex() >= end) {
        throw new MalformedPacketException(area + ": option " + code + " has no length octet");
      }
      int len = in.readUnsignedByte();
      if (in.readerIndex() + len > end) {
        throw new MalformedPacketException(
            area
                + ": option "
                + code
                + " length "
                + len
                + ", only "
                + (end - in.readerIndex())
                + " octets left");
      }
      byte[] v = new byte[len];
      in.readBytes(v);
      if (code == OPT_OVERLOAD) {
        if (len != 1 || v[0] < OVERLOAD_FILE || v[0] > OVERLOAD_BOTH) {
          throw new MalformedPacketException(
              "option 52 length "
                  + len
                  + (len == 1 ? " value " + v[0] : "")
                  + ", want length 1 value 1-3");
        }
        overload = v[0];
      }
      raw.computeIfAbsent(code, c -> new ByteArrayOutputStream()).writeBytes(v);
    }
    return overload;
  }

  /** Appends the message, padded with zeros to {@link Dhcp#BOOTP_MIN_LENGTH}. */
  public void encode(ByteBuf out) {
    int start = out.writerIndex();
    out.writeByte(op); // op
    out.writeByte(htype); // htype
    out.writeByte(hlen); // hlen
    out.writeByte(hops); // hops
    out.writeInt(xid); // xid
    out.writeShort(secs); // secs
    out.writeShort(flags); // flags
    out.writeInt(Ipv4.toInt(ciaddr)); // ciaddr
    out.writeInt(Ipv4.toInt(yiaddr)); // yiaddr
    out.writeInt(Ipv4.toInt(siaddr)); // siaddr
    out.writeInt(Ipv4.toInt(giaddr)); // giaddr
    out.writeBytes(chaddr); // chaddr
    out.writeBytes(sname); // sname
    out.writeBytes(file); // file
    out.writeInt(MAGIC_COOKIE); // options: magic cookie
    for (DhcpOption o : options) {
      byte[] v = o.value();
      int off = 0;
      do { // RFC 3396: a value over 255 octets goes out as consecutive instances
        int n = Math.min(255, v.length - off);
        out.writeByte(o.code());
        out.writeByte(n);
        out.writeBytes(v, off, n);
        off += n;
      } while (off < v.length);
    }
    out.writeByte(OPT_END);
    int len = out.writerIndex() - start;
    if (len < BOOTP_MIN_LENGTH) {
      out.writeZero(BOOTP_MIN_LENGTH - len);
    }
  }

  /** Option 53, if present and defined. */
  public Optional<DhcpMessageType> messageType() {
    return option(DhcpOption.MessageType.class).map(DhcpOption.MessageType::type);
  }

  /** The first option of {@code type}. */
  public <T extends DhcpOption> Optional<T> option(Class<T> type) {
    for (DhcpOption o : options) {
      if (type.isInstance(o)) {
        return Optional.of(type.cast(o));
      }
    }
    return Optional.empty();
  }

  /** The option with {@code code}, of whatever type. */
  public Optional<DhcpOption> option(int code) {
    for (DhcpOption o : options) {
      if (o.code() == code) {
        return Optional.of(o);
      }
    }
    return Optional.empty();
  }

  /** The address of option {@code code} (1, 28, 50, 54). */
  public Optional<Inet4Address> address(int code) {
    return option(code)
        .filter(DhcpOption.Address.class::isInstance)
        .map(o -> ((DhcpOption.Address) o).address());
  }

  /** The text of option {@code code} (12, 15, 56, 60, 66, 67). */
  public Optional<String> text(int code) {
    return option(code)
        .filter(DhcpOption.Text.class::isInstance)
        .map(o -> ((DhcpOption.Text) o).text());
  }

  /** The octets of option {@code code} (43, 61, 77, 97). */
  public Optional<byte[]> octets(int code) {
    return option(code)
        .filter(DhcpOption.Unknown.class::isInstance)
        .map(o -> ((DhcpOption.Unknown) o).bytes());
  }

  /** Whether the client listed {@code code} in option 55. */
  public boolean requests(int code) {
    return option(DhcpOption.ParameterRequestList.class)
        .map(p -> p.codes().contains(code))
        .orElse(false);
  }

  /**
   * The client's MAC address from chaddr.
   *
   * @return empty unless htype is Ethernet and hlen 6
   */
  public Optional<MacAddress> mac() {
    if (htype != HTYPE_ETHERNET || hlen != MacAddress.LENGTH) {
      return Optional.empty();
    }
    return Optional.of(MacAddress.of(Arrays.copyOf(chaddr, MacAddress.LENGTH)));
  }

  /** Whether the client asked for a broadcast reply. */
  public boolean broadcastFlag() {
    return (flags & FLAG_BROADCAST) != 0;
  }

  /** The sname field up to its first NUL. */
  public String snameText() {
    return cString(sname);
  }

  /** The file field up to its first NUL. */
  public String fileText() {
    return cString(file);
  }

  private static String cString(byte[] b) {
    int n = 0;
    while (n < b.length && b[n] != 0) {
      n++;
    }
    return new String(b, 0, n, StandardCharsets.ISO_8859_1);
  }

  /**
   * A NUL-padded fixed field from text.
   *
   * @throws IllegalArgumentException if the text does not fit with its terminating NUL
   */
  public static byte[] field(String text, int length) {
    byte[] t = text.getBytes(StandardCharsets.ISO_8859_1);
    if (t.length >= length) {
      throw new IllegalArgumentException(
          "'" + text + "' is " + t.length + " octets; the field holds " + (length - 1));
    }
    return Arrays.copyOf(t, length);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DhcpPacket p
        && op == p.op
        && htype == p.htype
        && hlen == p.hlen
        && hops == p.hops
        && xid == p.xid
        && secs == p.secs
        && flags == p.flags
        && ciaddr.equals(p.ciaddr)
        && yiaddr.equals(p.yiaddr)
        && siaddr.equals(p.siaddr)
        && giaddr.equals(p.giaddr)
        && Arrays.equals(chaddr, p.chaddr)
        && Arrays.equals(sname, p.sname)
        && Arrays.equals(file, p.file)
        && options.equals(p.options);
  }

  @Override
  public int hashCode() {
    return Objects.hash(op, xid, ciaddr, yiaddr, Arrays.hashCode(chaddr), options);
  }

  @Override
  public String toString() {
    return "DhcpPacket[op="
        + op
        + ", xid="
        + Integer.toHexString(xid)
        + ", chaddr="
        + mac().map(Object::toString).orElse("?")
        + ", ciaddr="
        + ciaddr.getHostAddress()
        + ", yiaddr="
        + yiaddr.getHostAddress()
        + ", siaddr="
        + siaddr.getHostAddress()
        + ", giaddr="
        + giaddr.getHostAddress()
        + ", file="
        + fileText()
        + ", options="
        + options
        + "]";
  }
}

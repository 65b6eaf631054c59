package org.clonecast.protocol.testutil;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A tiny reader for pcap files holding Ethernet/IPv4/UDP. Classic pcap: the 24-byte global header
 * (magic in either byte order, micro- or nanosecond timestamps, link type must be 1 = Ethernet),
 * then 16-byte record headers each followed by the captured frame. pcapng (what tshark/dumpcap
 * write, e.g. the PXE captures): section header, interface descriptions (link type 1, optional
 * if_tsresol) and enhanced/simple packet blocks; other blocks are skipped. Non-IPv4, non-UDP and
 * fragmented packets are skipped; a truncated UDP payload is an error, since golden packets must be
 * complete. The UDP payload is cut at the UDP length, so Ethernet padding never leaks into it.
 */
public final class Pcap {
  private static final int MAGIC_MICROS = 0xA1B2C3D4;
  private static final int MAGIC_NANOS = 0xA1B23C4D;
  private static final int PCAPNG_SHB = 0x0A0D0D0A;
  private static final int PCAPNG_BYTE_ORDER = 0x1A2B3C4D;
  private static final int PCAPNG_IDB = 1;
  private static final int PCAPNG_SPB = 3;
  private static final int PCAPNG_EPB = 6;
  private static final int IF_TSRESOL = 9;
  private static final int LINKTYPE_ETHERNET = 1;
  private static final int ETHERTYPE_IPV4 = 0x0800;
  private static final int ETHERTYPE_VLAN = 0x8100;
  private static final int IPPROTO_UDP = 17;

  /**
   * One UDP datagram from a capture.
   *
   * @param frame the record's index in the file, counting from 0 (all link-layer frames)
   * @param micros capture timestamp in microseconds since the epoch
   * @param src source IPv4 address as a big-endian int
   * @param dst destination IPv4 address as a big-endian int
   */
  public record Udp(
      int frame, long micros, int src, int srcPort, int dst, int dstPort, byte[] payload) {
    /**
     * @return the payload's first u16, udpcast's opcode, or −1 if shorter than 2 bytes
     */
    public int opcode() {
      return payload.length < 2 ? -1 : (payload[0] & 0xFF) << 8 | (payload[1] & 0xFF);
    }
  }

  private Pcap() {}

  /**
   * Reads every UDP/IPv4 datagram of a pcap or pcapng file's {@code bytes}; {@code file} names it
   * in errors.
   */
  public static List<Udp> readUdp(byte[] bytes, String file) throws IOException {
    ByteBuffer in = ByteBuffer.wrap(bytes);
    if (in.remaining() < 24) {
      throw new IOException(
          file + ": " + in.remaining() + " bytes, too short for a pcap global header");
    }
    in.order(ByteOrder.BIG_ENDIAN);
    if (in.getInt(0) == PCAPNG_SHB) {
      return readPcapNg(in, file);
    }
    int magic = in.getInt(0);
    if (magic != MAGIC_MICROS && magic != MAGIC_NANOS) {
      in.order(ByteOrder.LITTLE_ENDIAN);
      magic = in.getInt(0);
    }
    if (magic != MAGIC_MICROS && magic != MAGIC_NANOS) {
      throw new IOException(
          file + ": magic " + Integer.toHexString(in.getInt(0)) + " is not classic pcap (pcapng?)");
    }
    boolean nanos = magic == MAGIC_NANOS;
    int linkType = in.getInt(20);
    if (linkType != LINKTYPE_ETHERNET) {
      throw new IOException(
          file + ": link type " + linkType + ", want " + LINKTYPE_ETHERNET + " (Ethernet)");
    }
    in.position(24);
    List<Udp> out = new ArrayList<>();
    for (int frame = 0; in.hasRemaining(); frame++) {
      if (in.remaining() < 16) {
        throw new IOException(file + ": record " + frame + " header truncated");
      }
      long seconds = in.getInt() & 0xFFFF_FFFFL;
      long fraction = in.getInt() & 0xFFFF_FFFFL;
      int caplen = in.getInt();
      in.getInt(); // original length
      if (caplen < 0 || caplen > in.remaining()) {
        throw new IOException(
            file + ": record " + frame + " caplen " + caplen + " beyond end of file");
      }
      byte[] data = new byte[caplen];
      in.get(data);
      Udp udp =
          parseEthernet(
              frame, seconds * 1_000_000 + (nanos ? fraction / 1000 : fraction), data, file);
      if (udp != null) {
        out.add(udp);
      }
    }
    return out;
  }

  /**
   * pcapng: blocks of type, total length, body, total length; the byte order is set per section.
   */
  private static List<Udp> readPcapNg(ByteBuffer in, String file) throws IOException {
    List<Udp> out = new ArrayList<>();
    List<Long> unitsPerSecond = new ArrayList<>();
    int frame = 0;
    while (in.remaining() >= 12) {
      int start = in.position();
      if (in.getInt(start) == PCAPNG_SHB) {
        int bom = in.order(ByteOrder.BIG_ENDIAN).getInt(start + 8);
        in.order(bom == PCAPNG_BYTE_ORDER ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        unitsPerSecond.clear();
      }
      int type = in.getInt(start);
      int length = in.getInt(start + 4);
      if (length < 12 || length % 4 != 0 || length > in.remaining()) {
        throw new IOException(file + ": pcapng block at " + start + " has length " + length);
      }
      if (type == PCAPNG_IDB) {
        int linkType = in.getShort(start + 8) & 0xFFFF;
        if (linkType != LINKTYPE_ETHERNET) {
          throw new IOException(
              file + ": link type " + linkType + ", want " + LINKTYPE_ETHERNET + " (Ethernet)");
        }
        unitsPerSecond.add(tsresol(in, start + 16, start + length - 4));
      } else if (type == PCAPNG_EPB || type == PCAPNG_SPB) {
        boolean epb = type == PCAPNG_EPB;
        int caplen = epb ? in.getInt(start + 20) : in.getInt(start + 8);
        int data = start + (epb ? 28 : 12);
        if (!epb) {
          caplen = Math.min(caplen, length - 16);
        }
        if (caplen < 0 || data + caplen > start + length) {
          throw new IOException(
              file + ": pcapng packet " + frame + " caplen " + caplen + " beyond its block");
        }
        long micros = 0;
        if (epb) {
          int iface = in.getInt(start + 8);
          long ts =
              (in.getInt(start + 12) & 0xFFFF_FFFFL) << 32 | (in.getInt(start + 16) & 0xFFFF_FFFFL);
          long units = iface < unitsPerSecond.size() ? unitsPerSecond.get(iface) : 1_000_000L;
          micros = units >= 1_000_000L ? ts / (units / 1_000_000L) : ts * (1_000_000L / units);
        }
        byte[] bytes = new byte[caplen];
        in.get(data, bytes);
        Udp udp = parseEthernet(frame, micros, bytes, file);
        if (udp != null) {
          out.add(udp);
        }
        frame++;
      }
      in.position(start + length);
    }
    return out;
  }

  /** The if_tsresol option of an interface description: units per second (default 10^6). */
  private static long tsresol(ByteBuffer in, int from, int to) {
    for (int p = from; p + 4 <= to; ) {
      int code = in.getShort(p) & 0xFFFF;
      int len = in.getShort(p + 2) & 0xFFFF;
      if (code == 0) {
        break;
      }
      if (code == IF_TSRESOL && len >= 1) {
        int v = in.get(p + 4) & 0xFF;
        return (v & 0x80) != 0 ? 1L << (v & 0x7F) : (long) Math.pow(10, v);
      }
      p += 4 + (len + 3) / 4 * 4;
    }
    return 1_000_000L;
  }

  private static Udp parseEthernet(int frame, long micros, byte[] data, String file)
      throws IOException {
    ByteBuffer f = ByteBuffer.wrap(data); // network order
    if (f.remaining() < 14) {
      return null;
    }
    int off = 12;
    int etherType = f.getShort(off) & 0xFFFF;
    if (etherType == ETHERTYPE_VLAN && f.remaining() >= 18) {
      off += 4;
      etherType = f.getShort(off) & 0xFFFF;
    }
    int ip = off + 2;
    if (etherType != ETHERTYPE_IPV4 || data.length < ip + 20 || (data[ip] >> 4) != 4) {
      return null;
    }
    int ihl = (data[ip] & 0x0F) * 4;
    int fragment = f.getShort(ip + 6) & 0x3FFF; // MF flag and offset
    if ((data[ip + 9] & 0xFF) != IPPROTO_UDP || fragment != 0) {
      return null;
    }
    int udp = ip + ihl;
    if (data.length < udp + 8) {
      throw new IOException(file + ": frame " + frame + " UDP header truncated");
    }
    int udpLength = f.getShort(udp + 4) & 0xFFFF;
    if (udpLength < 8 || data.length < udp + udpLength) {
      throw new IOException(
          file
              + ": frame "
              + frame
              + " UDP length "
              + udpLength
              + " beyond captured "
              + (data.length - udp)
              + " bytes (snaplen too small?)");
    }
    byte[] payload = new byte[udpLength - 8];
    System.arraycopy(data, udp + 8, payload, 0, payload.length);
    return new Udp(
        frame,
        micros,
        f.getInt(ip + 12),
        f.getShort(udp) & 0xFFFF,
        f.getInt(ip + 16),
        f.getShort(udp + 2) & 0xFFFF,
        payload);
  }
}

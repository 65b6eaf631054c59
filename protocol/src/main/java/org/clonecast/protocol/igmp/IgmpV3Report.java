package org.clonecast.protocol.igmp;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * An IGMPv3 Membership Report (RFC 3376 §4.2): what a host's kernel sends to 224.0.0.22 when it
 * joins, leaves or answers a query, one record per group. Immutable.
 *
 * @param records the Group Records, in wire order
 */
public record IgmpV3Report(List<IgmpV3Report.GroupRecord> records) {
  /** Type, Reserved, Checksum, Reserved, Number of Group Records. */
  static final int HEADER = 8;

  /** MODE_IS_INCLUDE (RFC 3376 §4.2.12). */
  public static final int MODE_IS_INCLUDE = 1;

  /** MODE_IS_EXCLUDE: with no sources, "I want the whole group". */
  public static final int MODE_IS_EXCLUDE = 2;

  /** CHANGE_TO_INCLUDE_MODE: with no sources, a leave. */
  public static final int CHANGE_TO_INCLUDE_MODE = 3;

  /** CHANGE_TO_EXCLUDE_MODE: with no sources, a join. */
  public static final int CHANGE_TO_EXCLUDE_MODE = 4;

  public static final int ALLOW_NEW_SOURCES = 5;
  public static final int BLOCK_OLD_SOURCES = 6;

  public IgmpV3Report {
    records = List.copyOf(records);
    if (records.size() > 0xffff)
      throw new IllegalArgumentException(records.size() + " group records, want at most 65535");
  }

  /**
   * One Group Record (§4.2.4). Unknown record types are kept (§4.2.12: ignored by routers, but they
   * round-trip here).
   *
   * @param type Record Type, 0..255
   * @param group Multicast Address, big-endian
   * @param sources Source Addresses, big-endian
   * @param auxData Auxiliary Data, a multiple of 4 bytes (none defined; §4.2.10)
   */
  public record GroupRecord(int type, int group, List<Integer> sources, byte[] auxData) {
    public GroupRecord {
      if (type < 0 || type > 255)
        throw new IllegalArgumentException("record type " + type + ", want 0..255");
      sources = List.copyOf(sources);
      if (sources.size() > 0xffff)
        throw new IllegalArgumentException(sources.size() + " sources, want at most 65535");
      if (auxData.length % 4 != 0 || auxData.length / 4 > 255)
        throw new IllegalArgumentException(
            "aux data of " + auxData.length + " bytes, want a multiple of 4 up to 1020");
      auxData = auxData.clone();
    }

    /** A join or a report of the whole group (no sources excluded). */
    public static GroupRecord wholeGroup(int type, int group) {
      return new GroupRecord(type, group, List.of(), new byte[0]);
    }

    @Override
    public byte[] auxData() {
      return auxData.clone();
    }

    int length() {
      return 8 + 4 * sources.size() + auxData.length;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof GroupRecord r
          && r.type == type
          && r.group == group
          && r.sources.equals(sources)
          && Arrays.equals(r.auxData, auxData);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (31 * type + group) + sources.hashCode()) + Arrays.hashCode(auxData);
    }
  }

  /** The message on the wire, checksum included. */
  public byte[] encode() {
    int length = HEADER;
    for (GroupRecord r : records) length += r.length();
    byte[] b = new byte[length];
    b[0] = (byte) IgmpMessage.V3_REPORT; // Type
    b[6] = (byte) (records.size() >>> 8); // Number of Group Records (M)
    b[7] = (byte) records.size();
    int at = HEADER;
    for (GroupRecord r : records) {
      b[at] = (byte) r.type; // Record Type
      b[at + 1] = (byte) (r.auxData.length / 4); // Aux Data Len, in 32-bit words
      b[at + 2] = (byte) (r.sources.size() >>> 8); // Number of Sources (N)
      b[at + 3] = (byte) r.sources.size();
      IgmpV3Query.putInt(b, at + 4, r.group); // Multicast Address
      at += 8;
      for (int s : r.sources) {
        IgmpV3Query.putInt(b, at, s); // Source Address [i]
        at += 4;
      }
      System.arraycopy(r.auxData, 0, b, at, r.auxData.length); // Auxiliary Data
      at += r.auxData.length;
    }
    int sum = IgmpMessage.checksum(b, 0, b.length); // Checksum
    b[2] = (byte) (sum >>> 8);
    b[3] = (byte) sum;
    return b;
  }

  /**
   * Decodes a report (all readable bytes; the checksum covers them all).
   *
   * @throws MalformedPacketException when it is no v3 report, its checksum is wrong, or a record
   *     runs past its end
   */
  public static IgmpV3Report decode(ByteBuf in) {
    return ByteBufs.decoding(
        "IGMPv3 report",
        in,
        b -> {
          int length = b.readableBytes();
          ByteBufs.requireReadable(b, HEADER, "IGMPv3 report");
          IgmpMessage.requireChecksum(b, length);
          int type = b.readUnsignedByte();
          if (type != IgmpMessage.V3_REPORT)
            throw new MalformedPacketException(
                "IGMP type 0x" + Integer.toHexString(type) + ", want a v3 report (0x22)");
          b.skipBytes(5);
          int m = b.readUnsignedShort();
          List<GroupRecord> records = new ArrayList<>(Math.min(m, b.readableBytes() / 8));
          for (int i = 0; i < m; i++) {
            ByteBufs.requireReadable(b, 8, "IGMPv3 group record " + (i + 1) + " of " + m);
            int recordType = b.readUnsignedByte();
            int aux = b.readUnsignedByte() * 4;
            int n = b.readUnsignedShort();
            int group = b.readInt();
            ByteBufs.requireReadable(
                b, 4 * n + aux, "IGMPv3 group record " + (i + 1) + " with " + n + " sources");
            List<Integer> sources = new ArrayList<>(n);
            for (int s = 0; s < n; s++) sources.add(b.readInt());
            byte[] auxData = new byte[aux];
            b.readBytes(auxData);
            records.add(new GroupRecord(recordType, group, sources, auxData));
          }
          b.skipBytes(b.readableBytes());
          return new IgmpV3Report(records);
        });
  }
}

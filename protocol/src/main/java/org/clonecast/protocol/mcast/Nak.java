package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * A receiver's loss report, unicast to the sender: per chunk and stripe, how many more symbols it
 * needs and how far into the stripe's repair rows it has seen. The sender merges reports from all
 * receivers into the fewest repair packets (the largest need per stripe, minus rows already on
 * their way).
 */
public record Nak(int sessionId, int receiverId, List<Entry> entries, Optional<Seal> seal)
    implements McastPacket {

  /** At most this many entries per NAK, keeping it well inside one 1500-byte frame. */
  public static final int MAX_ENTRIES = 64;

  /**
   * @param need per stripe: symbols still missing after counting the repairs received
   * @param rowsSeen per stripe: one past the highest repair row received, 0 if none
   */
  public record Entry(int chunk, byte[] need, byte[] rowsSeen) {
    public Entry {
      if (chunk < 0) throw new IllegalArgumentException("chunk " + chunk + " negative");
      if (need.length != rowsSeen.length || need.length == 0 || need.length > 0xFF) {
        throw new IllegalArgumentException(
            "stripe arrays of length " + need.length + "/" + rowsSeen.length);
      }
      need = need.clone();
      rowsSeen = rowsSeen.clone();
    }

    public int stripes() {
      return need.length;
    }

    public int need(int stripe) {
      return need[stripe] & 0xFF;
    }

    public int rowsSeen(int stripe) {
      return rowsSeen[stripe] & 0xFF;
    }

    @Override
    public byte[] need() {
      return need.clone();
    }

    @Override
    public byte[] rowsSeen() {
      return rowsSeen.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Entry e
          && e.chunk == chunk
          && Arrays.equals(e.need, need)
          && Arrays.equals(e.rowsSeen, rowsSeen);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * chunk + Arrays.hashCode(need)) + Arrays.hashCode(rowsSeen);
    }

    @Override
    public String toString() {
      return "Entry[chunk="
          + chunk
          + ", need="
          + Arrays.toString(need)
          + ", rowsSeen="
          + Arrays.toString(rowsSeen)
          + "]";
    }
  }

  /** An unsealed NAK, as the first version sent. */
  public Nak(int sessionId, int receiverId, List<Entry> entries) {
    this(sessionId, receiverId, entries, Optional.empty());
  }

  public Nak {
    Objects.requireNonNull(seal, "seal");
    if (receiverId < 0 || receiverId > 0xFFFF)
      throw new IllegalArgumentException("receiver id " + receiverId);
    if (entries.isEmpty() || entries.size() > MAX_ENTRIES) {
      throw new IllegalArgumentException(
          "NAK with " + entries.size() + " entries, want 1.." + MAX_ENTRIES);
    }
    entries = List.copyOf(entries);
  }

  static Nak decodeBody(int session, ByteBuf in) {
    int receiver = in.readUnsignedShort();
    int count = in.readUnsignedShort();
    if (count == 0 || count > MAX_ENTRIES)
      throw new MalformedPacketException("NAK entry count " + count);
    Entry[] entries = new Entry[count];
    for (int i = 0; i < count; i++) {
      int chunk = in.readInt();
      int stripes = in.readUnsignedByte();
      if (chunk < 0)
        throw new MalformedPacketException(
            "NAK chunk " + Integer.toUnsignedString(chunk) + " too large");
      if (stripes == 0) throw new MalformedPacketException("NAK entry " + i + " with 0 stripes");
      byte[] need = new byte[stripes];
      byte[] seen = new byte[stripes];
      for (int s = 0; s < stripes; s++) {
        need[s] = in.readByte();
        seen[s] = in.readByte();
      }
      entries[i] = new Entry(chunk, need, seen);
    }
    return new Nak(session, receiver, Arrays.asList(entries), Seal.decodeIfPresent(in));
  }

  /** This NAK with another seal (or none). */
  public Nak withSeal(Optional<Seal> s) {
    return new Nak(sessionId, receiverId, entries, s);
  }

  @Override
  public void encode(ByteBuf out) {
    McastPacket.encodeHeader(out, TYPE_NAK, sessionId);
    out.writeShort(receiverId); // receiver id
    out.writeShort(entries.size()); // entry count
    for (Entry e : entries) {
      out.writeInt(e.chunk); // chunk index
      out.writeByte(e.need.length); // stripes
      for (int s = 0; s < e.need.length; s++) {
        out.writeByte(e.need[s]); // symbols needed in stripe s
        out.writeByte(e.rowsSeen[s]); // repair rows seen in stripe s
      }
    }
    seal.ifPresent(x -> x.encode(out)); // seal: counter, tag
  }

  /** Encoded size of an entry with {@code stripes} stripes. */
  public static int entryBytes(int stripes) {
    return 5 + 2 * stripes;
  }
}

package org.clonecast.server.store;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32C;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Sha256;

/**
 * One line of a capture's journal ({@code NAME.ccj}, {@link ImageStore#captureJournalFor}): a chunk
 * the daemon received, checked and wrote into the chunk pool ({@link ChunkPool}, under the name of
 * its digest), and where it goes in the image's {@code .cci} layout. The journal is fsync'd after
 * the chunk's pool file is durable, so every record that reached the disk names a chunk that did,
 * but for damage the replay catches; a record torn by a crash fails its CRC and ends the replay.
 * The journal also keeps its chunks from the pool's sweep across restarts ({@link
 * ImageStore#collect}). Layout (big-endian): magic "CCJR", index u32, kind code u8, stored offset
 * u64 (in the image's {@code .cci} layout), stored length u32, SHA-256 of the logical bytes (32),
 * used-block map length u16 and the map (0: every block used), CRC-32C of everything before it.
 *
 * <p>The kind is kept as its manifest code, so kinds added to the format flow through unchanged.
 *
 * <p>Immutable and thread-safe; the used map is copied in and out.
 *
 * @param index the chunk's index
 * @param kindCode its {@link org.clonecast.protocol.image.ChunkKind} manifest code
 * @param offset where its stored bytes start in the image's {@code .cci} layout (the manifest's
 *     stored offset)
 * @param length how many bytes are stored
 * @param sha256 digest of its logical bytes
 * @param usedMap its used-block bitmap as the agent sent it, empty when every block is used
 */
public record JournalRecord(
    int index, int kindCode, long offset, int length, Sha256 sha256, byte[] usedMap) {
  /** "CCJR". */
  public static final int MAGIC = 0x43434A52;

  /** Bytes of a record without a used map. */
  public static final int FIXED_LENGTH = 4 + 4 + 1 + 8 + 4 + Sha256.LENGTH + 2 + 4;

  /** Longest used map: one bit per 4 KiB block of the largest chunk. */
  public static final int MAX_USED_MAP = 64 * 1024 * 1024 / 4096 / 8;

  public JournalRecord {
    Objects.requireNonNull(sha256, "sha256");
    usedMap = usedMap.clone();
    if (index < 0
        || kindCode < 0
        || kindCode > 255
        || offset < 0
        || length <= 0
        || usedMap.length > MAX_USED_MAP) {
      throw new IllegalArgumentException(
          "journal record: index "
              + index
              + ", kind "
              + kindCode
              + ", offset "
              + offset
              + ", length "
              + length
              + ", used map "
              + usedMap.length
              + " bytes");
    }
  }

  @Override
  public byte[] usedMap() {
    return usedMap.clone();
  }

  /** The first byte after the stored bytes. */
  public long end() {
    return offset + length;
  }

  /** Encoded length in bytes. */
  public int encodedLength() {
    return FIXED_LENGTH + usedMap.length;
  }

  public void encode(ByteBuf out) {
    int start = out.writerIndex();
    out.writeInt(MAGIC); // magic "CCJR"
    out.writeInt(index); // chunk index
    out.writeByte(kindCode); // kind
    out.writeLong(offset); // stored offset
    out.writeInt(length); // stored length
    sha256.encode(out); // logical sha256
    out.writeShort(usedMap.length); // used map length
    out.writeBytes(usedMap); // used map
    out.writeInt(crc(out, start, out.writerIndex() - start)); // crc32c of the above
  }

  /**
   * Reads one record at the reader index.
   *
   * @throws MalformedImageException when it is truncated, damaged or not a record
   */
  public static JournalRecord decode(ByteBuf in) {
    int start = in.readerIndex();
    if (in.readableBytes() < FIXED_LENGTH) {
      throw new MalformedImageException(
          "journal record truncated: "
              + in.readableBytes()
              + " bytes, want at least "
              + FIXED_LENGTH);
    }
    int magic = in.readInt();
    if (magic != MAGIC) {
      throw new MalformedImageException(String.format("journal record: bad magic 0x%08x", magic));
    }
    long index = in.readUnsignedInt();
    int kind = in.readUnsignedByte();
    long offset = in.readLong();
    long length = in.readUnsignedInt();
    Sha256 sha = Sha256.decode(in);
    int mapLength = in.readUnsignedShort();
    if (in.readableBytes() < mapLength + 4) {
      throw new MalformedImageException(
          "journal record truncated in its used map of " + mapLength + " bytes");
    }
    byte[] map = new byte[mapLength];
    in.readBytes(map);
    int crcAt = in.readerIndex();
    int crc = in.readInt();
    if (crc != crc(in, start, crcAt - start)) {
      throw new MalformedImageException("journal record: crc32c mismatch (torn or damaged)");
    }
    if (index > Integer.MAX_VALUE || length > Integer.MAX_VALUE) {
      throw new MalformedImageException(
          "journal record: index " + index + " or length " + length + " out of range");
    }
    try {
      return new JournalRecord((int) index, kind, offset, (int) length, sha, map);
    } catch (IllegalArgumentException e) {
      throw new MalformedImageException(e.getMessage());
    }
  }

  private static int crc(ByteBuf buf, int index, int length) {
    CRC32C crc = new CRC32C();
    crc.update(buf.nioBuffer(index, length));
    return (int) crc.getValue();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof JournalRecord r
        && index == r.index
        && kindCode == r.kindCode
        && offset == r.offset
        && length == r.length
        && sha256.equals(r.sha256)
        && Arrays.equals(usedMap, r.usedMap);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, kindCode, offset, length, sha256, Arrays.hashCode(usedMap));
  }

  @Override
  public String toString() {
    return "JournalRecord[chunk "
        + index
        + ", kind "
        + kindCode
        + ", "
        + length
        + " bytes at "
        + offset
        + "]";
  }
}

package org.clonecast.protocol.disk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The fields of a GPT header (UEFI 2.10 §5.3.2) that clonecast uses, and their byte offsets in the
 * header: one statement of the layout for {@link PartitionTable}, which reads a disk's partitions,
 * and the agent's GPT backup mover, which rewrites the headers. It only reads the fields; each
 * caller checks them as its purpose needs. Immutable.
 *
 * @param headerSize HeaderSize, in bytes
 * @param headerCrc HeaderCRC32, unsigned
 * @param entryCount NumberOfPartitionEntries, unsigned
 * @param entrySize SizeOfPartitionEntry, in bytes, unsigned
 * @param entriesCrc PartitionEntryArrayCRC32, unsigned
 */
public record GptHeader(
    long headerSize,
    long headerCrc,
    long myLba,
    long alternateLba,
    long firstUsableLba,
    long lastUsableLba,
    long entriesLba,
    long entryCount,
    long entrySize,
    long entriesCrc) {
  public static final int HEADER_SIZE = 12;
  public static final int HEADER_CRC32 = 16;
  public static final int MY_LBA = 24;
  public static final int ALTERNATE_LBA = 32;
  public static final int FIRST_USABLE_LBA = 40;
  public static final int LAST_USABLE_LBA = 48;
  public static final int PARTITION_ENTRY_LBA = 72;
  public static final int NUMBER_OF_PARTITION_ENTRIES = 80;
  public static final int SIZE_OF_PARTITION_ENTRY = 84;
  public static final int PARTITION_ENTRY_ARRAY_CRC32 = 88;

  /**
   * The header at byte {@code at} of {@code head}; the caller has checked that the 92 bytes of its
   * fields are there.
   */
  public static GptHeader read(byte[] head, int at) {
    ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
    return new GptHeader(
        Integer.toUnsignedLong(b.getInt(at + HEADER_SIZE)),
        Integer.toUnsignedLong(b.getInt(at + HEADER_CRC32)),
        b.getLong(at + MY_LBA),
        b.getLong(at + ALTERNATE_LBA),
        b.getLong(at + FIRST_USABLE_LBA),
        b.getLong(at + LAST_USABLE_LBA),
        b.getLong(at + PARTITION_ENTRY_LBA),
        Integer.toUnsignedLong(b.getInt(at + NUMBER_OF_PARTITION_ENTRIES)),
        Integer.toUnsignedLong(b.getInt(at + SIZE_OF_PARTITION_ENTRY)),
        Integer.toUnsignedLong(b.getInt(at + PARTITION_ENTRY_ARRAY_CRC32)));
  }

  /** The size of the partition entry array, in bytes. */
  public long entryBytes() {
    return entryCount * entrySize;
  }
}

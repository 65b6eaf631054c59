package org.clonecast.protocol.disk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.zip.CRC32;

/**
 * The partitions of a disk, read from its first bytes: GPT (UEFI 2.10 §5.3) when a protective MBR
 * and a valid "EFI PART" header are there (at LBA 1 of 512- or 4096-byte sectors), else the four
 * primary MBR entries (UEFI 2.10 §5.2.1). Extended MBR partitions are listed as themselves (type
 * 05, 0f or 85); their logical partitions are in a chain of extended boot records the caller reads
 * sector by sector through {@link #logicalPartitions}.
 *
 * <p>The GPT is checked as firmware checks it: header CRC32, its own LBA, the entry array's CRC32,
 * entries inside the usable range, no two partitions overlapping. A GPT that fails any of these is
 * a {@link MalformedDiskException} naming the check, not a silent fallback to the MBR: capturing a
 * disk whose table we misread would image the wrong bytes. Whether partitions fit the disk needs
 * the disk's size: {@link #pastEnd}.
 *
 * <p>Pure: it parses bytes the caller read. Immutable and thread-safe.
 *
 * @param scheme GPT or MBR
 * @param sectorSize the logical sector size the table is written in (512 for MBR)
 * @param partitions in table order, empty slots left out
 * @param backupHeaderOffset GPT: the byte offset of the backup header the primary header names (its
 *     "AlternateLBA"), normally the disk's last sector; empty for MBR
 */
public record PartitionTable(
    Scheme scheme, int sectorSize, List<Partition> partitions, OptionalLong backupHeaderOffset) {
  /** GPT "Linux filesystem data". */
  public static final String GPT_LINUX_DATA = "0fc63daf-8483-4772-8e79-3d69d8477de4";

  /** GPT "Linux root (x86-64)" (Discoverable Partitions Specification). */
  public static final String GPT_LINUX_ROOT_X86_64 = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";

  /** GPT "Linux root (ARM64)". */
  public static final String GPT_LINUX_ROOT_ARM64 = "b921b045-1df0-41c3-af44-4c6f280d3fae";

  /** GPT "EFI System Partition". */
  public static final String GPT_ESP = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";

  static final int MBR_LINUX = 0x83;
  static final int MBR_PROTECTIVE = 0xee;
  private static final int MBR_SECTOR = 512;

  /** The GPT header's fields end at byte 92 (UEFI 2.10 table 5.5). */
  private static final int GPT_HEADER_MIN = 92;

  /**
   * Bytes of entries we accept: 128 entries of 128 bytes is the norm; a few times that is still a
   * real table.
   */
  private static final int GPT_MAX_ENTRY_BYTES = 256 * 1024;

  private static final String EMPTY_GUID = "00000000-0000-0000-0000-000000000000";

  /**
   * How many bytes from the disk's start {@link #parse} needs: MBR, the GPT header and its entries
   * for 512- and 4096-byte sectors, with room for tables larger than the usual 128 entries.
   */
  public static final int HEAD_BYTES = 2 * 4096 + GPT_MAX_ENTRY_BYTES;

  /** The partitioning scheme. */
  public enum Scheme {
    GPT,
    MBR;

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * One partition.
   *
   * @param number 1-based, as the kernel names it (sda1, nvme0n1p1)
   * @param type GPT type GUID in lower case, or the MBR type as two hex digits
   * @param offset byte offset on the disk
   * @param size bytes, positive
   */
  public record Partition(int number, String type, long offset, long size) {
    public Partition {
      if (number < 1 || offset < 0 || size <= 0 || offset > Long.MAX_VALUE - size) {
        throw new IllegalArgumentException(
            "partition " + number + " at " + offset + " of " + size + " bytes");
      }
    }

    /** The first byte after the partition. */
    public long end() {
      return offset + size;
    }

    /** Whether its type says it holds a Linux filesystem (data or root). */
    public boolean linux() {
      return type.equals(GPT_LINUX_DATA)
          || type.equals(GPT_LINUX_ROOT_X86_64)
          || type.equals(GPT_LINUX_ROOT_ARM64)
          || type.equals(String.format(Locale.ROOT, "%02x", MBR_LINUX));
    }

    /** Whether it is an MBR extended partition (a container of logical partitions). */
    public boolean extended() {
      return type.equals("05") || type.equals("0f") || type.equals("85");
    }
  }

  public PartitionTable {
    partitions = List.copyOf(partitions);
  }

  /**
   * Parses the disk's first {@link #HEAD_BYTES} bytes (fewer for a tiny disk).
   *
   * @return empty when there is no partition table: no boot signature, or an MBR with no entry (a
   *     whole-disk filesystem, or blank), or MBR entries that cannot be one (boot flags other than
   *     0x00 and 0x80: boot code of a whole-disk FAT, for instance)
   * @throws MalformedDiskException for a table that is there but damaged
   */
  public static Optional<PartitionTable> parse(byte[] head) {
    try {
      return parseUnchecked(head);
    } catch (IndexOutOfBoundsException e) {
      throw new MalformedDiskException(
          "partition table: truncated (" + head.length + " bytes read): " + e.getMessage(), e);
    }
  }

  private static Optional<PartitionTable> parseUnchecked(byte[] head) {
    if (head.length < MBR_SECTOR || (head[510] & 0xff) != 0x55 || (head[511] & 0xff) != 0xaa) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
    boolean protective = false;
    List<Partition> mbr = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      int e = 446 + 16 * i;
      int boot = head[e] & 0xff;
      int type = head[e + 4] & 0xff;
      long lba = Integer.toUnsignedLong(b.getInt(e + 8));
      long sectors = Integer.toUnsignedLong(b.getInt(e + 12));
      if (boot != 0 && boot != 0x80) {
        return Optional.empty(); // not an MBR: libblkid draws the same line
      }
      if (type == MBR_PROTECTIVE) {
        protective = true;
      }
      if (type != 0 && sectors > 0) {
        if (lba == 0) {
          throw new MalformedDiskException(
              "MBR entry "
                  + (i + 1)
                  + " (type "
                  + hex2(type)
                  + ") starts at LBA 0, over the MBR itself");
        }
        mbr.add(new Partition(i + 1, hex2(type), lba * MBR_SECTOR, sectors * MBR_SECTOR));
      }
    }
    if (protective) {
      for (int sector : new int[] {512, 4096}) {
        if (head.length >= 2 * sector
            && "EFI PART".equals(new String(head, sector, 8, StandardCharsets.US_ASCII))) {
          return Optional.of(gpt(head, b, sector));
        }
      }
      throw new MalformedDiskException(
          "protective MBR (type ee) but no GPT header (\"EFI PART\") at LBA 1 for 512- or 4096-byte sectors;"
              + " the primary GPT is damaged (gdisk can rebuild it from the backup)");
    }
    if (mbr.isEmpty()) {
      return Optional.empty();
    }
    checkOverlaps(mbr, "MBR");
    return Optional.of(new PartitionTable(Scheme.MBR, MBR_SECTOR, mbr, OptionalLong.empty()));
  }

  private static PartitionTable gpt(byte[] head, ByteBuffer b, int sector) {
    int h = sector; // the primary header is at LBA 1
    GptHeader g = GptHeader.read(head, h);
    if (g.headerSize() < GPT_HEADER_MIN || g.headerSize() > sector) {
      throw new MalformedDiskException(
          "GPT header size "
              + g.headerSize()
              + ", want "
              + GPT_HEADER_MIN
              + ".."
              + sector
              + " (at byte "
              + (h + GptHeader.HEADER_SIZE)
              + ")");
    }
    CRC32 crc = new CRC32();
    crc.update(head, h, 16);
    crc.update(new byte[4]); // the CRC field itself counts as zero
    crc.update(head, h + 20, (int) g.headerSize() - 20);
    if (crc.getValue() != g.headerCrc()) {
      throw new MalformedDiskException(
          String.format(
              Locale.ROOT,
              "GPT header CRC32 0x%08x, computed 0x%08x (at byte %d);"
                  + " the primary GPT is damaged (gdisk can rebuild it from the backup)",
              g.headerCrc(),
              crc.getValue(),
              h + GptHeader.HEADER_CRC32));
    }
    if (g.myLba() != 1) {
      throw new MalformedDiskException(
          "GPT header at LBA 1 says it is at LBA "
              + g.myLba()
              + " (a backup header copied to the front?)");
    }
    if (g.entrySize() < 128 || g.entrySize() > 4096 || Long.bitCount(g.entrySize()) != 1) {
      throw new MalformedDiskException(
          "GPT entry size "
              + g.entrySize()
              + ", want 128 times a power of two (at byte "
              + (h + GptHeader.SIZE_OF_PARTITION_ENTRY)
              + ")");
    }
    if (g.entryBytes() > GPT_MAX_ENTRY_BYTES) {
      throw new MalformedDiskException(
          "GPT has "
              + g.entryCount()
              + " entries of "
              + g.entrySize()
              + " bytes, more than the "
              + GPT_MAX_ENTRY_BYTES
              + " bytes clonecast reads");
    }
    if (g.entriesLba() < 2 || g.entriesLba() > (HEAD_BYTES - g.entryBytes()) / sector) {
      throw new MalformedDiskException(
          "GPT entries at LBA "
              + g.entriesLba()
              + ", want 2.."
              + (HEAD_BYTES - g.entryBytes()) / sector
              + " (at byte "
              + (h + GptHeader.PARTITION_ENTRY_LBA)
              + ")");
    }
    if (g.firstUsableLba() < g.entriesLba() + (g.entryBytes() + sector - 1) / sector
        || g.lastUsableLba() < g.firstUsableLba()
        || g.alternateLba() <= g.lastUsableLba()) {
      throw new MalformedDiskException(
          "GPT usable LBAs "
              + g.firstUsableLba()
              + ".."
              + g.lastUsableLba()
              + " do not fit between the entries at LBA "
              + g.entriesLba()
              + " and the backup header at LBA "
              + g.alternateLba());
    }
    long arrayAt = g.entriesLba() * sector;
    long arrayLen = g.entryBytes();
    if (arrayAt + arrayLen > head.length) {
      throw new MalformedDiskException(
          "GPT entries end at byte "
              + (arrayAt + arrayLen)
              + ", past the "
              + head.length
              + " bytes of the disk read");
    }
    crc.reset();
    crc.update(head, (int) arrayAt, (int) arrayLen);
    if (crc.getValue() != g.entriesCrc()) {
      throw new MalformedDiskException(
          String.format(
              Locale.ROOT,
              "GPT entry array CRC32 0x%08x, computed 0x%08x (%d entries at LBA %d)",
              g.entriesCrc(),
              crc.getValue(),
              g.entryCount(),
              g.entriesLba()));
    }
    List<Partition> out = new ArrayList<>();
    for (int i = 0; i < g.entryCount(); i++) {
      int e = (int) (arrayAt + i * g.entrySize());
      String type = guid(head, e);
      if (type.equals(EMPTY_GUID)) {
        continue;
      }
      long first = b.getLong(e + 32);
      long last = b.getLong(e + 40);
      if (first < g.firstUsableLba() || last > g.lastUsableLba() || last < first) {
        throw new MalformedDiskException(
            "GPT entry "
                + (i + 1)
                + " spans LBA "
                + first
                + ".."
                + last
                + ", outside the usable LBAs "
                + g.firstUsableLba()
                + ".."
                + g.lastUsableLba());
      }
      out.add(new Partition(i + 1, type, first * sector, (last - first + 1) * sector));
    }
    checkOverlaps(out, "GPT");
    return new PartitionTable(Scheme.GPT, sector, out, OptionalLong.of(g.alternateLba() * sector));
  }

  /**
   * Reads the 512-byte sector at a byte offset of the disk: the I/O {@link #logicalPartitions}
   * leaves to its caller.
   */
  @FunctionalInterface
  public interface SectorReader<E extends Exception> {
    byte[] sectorAt(long offset) throws E;
  }

  /**
   * Logical partitions we follow before calling the chain a loop: Linux's own limit is far lower in
   * practice.
   */
  static final int MAX_LOGICAL = 128;

  /**
   * The logical partitions inside MBR extended partition {@code extended}, numbered from 5 as the
   * kernel numbers them: each extended boot record (EBR) holds one logical partition, relative to
   * itself, and the link to the next EBR, relative to the extended partition's start.
   *
   * @throws MalformedDiskException for a chain that loops, leaves the extended partition, or puts a
   *     logical partition outside it or over its own EBR
   * @throws E what the reader throws
   */
  public static <E extends Exception> List<Partition> logicalPartitions(
      Partition extended, SectorReader<E> reader) throws E {
    if (!extended.extended()) {
      throw new IllegalArgumentException(
          "partition " + extended.number() + " (type " + extended.type() + ") is not extended");
    }
    List<Partition> out = new ArrayList<>();
    long ebr = extended.offset();
    int n = 5; // the kernel numbers only the EBRs that hold a partition
    for (int hops = 0; ; hops++) {
      if (hops >= MAX_LOGICAL) {
        throw new MalformedDiskException(
            "MBR extended partition "
                + extended.number()
                + ": more than "
                + MAX_LOGICAL
                + " logical partitions (a chain that loops?)");
      }
      byte[] s = reader.sectorAt(ebr);
      if (s.length < MBR_SECTOR || (s[510] & 0xff) != 0x55 || (s[511] & 0xff) != 0xaa) {
        throw new MalformedDiskException("EBR at byte " + ebr + " has no boot signature");
      }
      ByteBuffer b = ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN);
      int type = s[446 + 4] & 0xff;
      long start = Integer.toUnsignedLong(b.getInt(446 + 8));
      long sectors = Integer.toUnsignedLong(b.getInt(446 + 12));
      if (type != 0 && sectors > 0) {
        long off = ebr + start * MBR_SECTOR;
        long len = sectors * MBR_SECTOR;
        if (start == 0 || off + len > extended.end()) {
          throw new MalformedDiskException(
              "logical partition "
                  + n
                  + " at bytes "
                  + off
                  + ".."
                  + (off + len - 1)
                  + " is not inside extended"
                  + " partition "
                  + extended.number()
                  + " after its EBR at byte "
                  + ebr);
        }
        out.add(new Partition(n++, hex2(type), off, len));
      }
      int nextType = s[446 + 16 + 4] & 0xff;
      long next = Integer.toUnsignedLong(b.getInt(446 + 16 + 8));
      if (nextType == 0 || next == 0) {
        break;
      }
      long nextAt = extended.offset() + next * MBR_SECTOR;
      if (nextAt <= ebr || nextAt >= extended.end()) {
        throw new MalformedDiskException(
            "EBR at byte "
                + ebr
                + " links to byte "
                + nextAt
                + ", not forward inside extended partition "
                + extended.number());
      }
      ebr = nextAt;
    }
    checkOverlaps(out, "MBR logical");
    return out;
  }

  private static void checkOverlaps(List<Partition> parts, String scheme) {
    List<Partition> sorted = new ArrayList<>(parts);
    sorted.sort(Comparator.comparingLong(Partition::offset));
    for (int i = 1; i < sorted.size(); i++) {
      Partition a = sorted.get(i - 1);
      Partition c = sorted.get(i);
      if (c.offset() < a.end()) {
        throw new MalformedDiskException(
            scheme
                + " partitions "
                + a.number()
                + " and "
                + c.number()
                + " overlap (bytes "
                + c.offset()
                + ".."
                + (Math.min(a.end(), c.end()) - 1)
                + ")");
      }
    }
  }

  /**
   * What of this table lies past the end of a disk of {@code diskSize} bytes: partitions that end
   * past it, a GPT backup header past it (the image of a larger disk, cut short). Empty when the
   * table fits; capture refuses a table that does not.
   */
  public List<String> pastEnd(long diskSize) {
    List<String> out = new ArrayList<>();
    for (Partition p : partitions) {
      if (p.end() > diskSize) {
        out.add(
            "partition "
                + p.number()
                + " ends at byte "
                + p.end()
                + ", past the disk's end at byte "
                + diskSize);
      }
    }
    if (backupHeaderOffset.isPresent() && backupHeaderOffset.getAsLong() + sectorSize > diskSize) {
      out.add(
          "the GPT backup header is at byte "
              + backupHeaderOffset.getAsLong()
              + ", past the disk's end at byte "
              + diskSize);
    }
    return out;
  }

  private static String hex2(int type) {
    return String.format(Locale.ROOT, "%02x", type);
  }

  /**
   * A GUID as text: the first three fields are little-endian on disk (RFC 4122 mixed-endian form).
   */
  static String guid(byte[] d, int o) {
    return String.format(
        Locale.ROOT,
        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
        d[o + 3],
        d[o + 2],
        d[o + 1],
        d[o],
        d[o + 5],
        d[o + 4],
        d[o + 7],
        d[o + 6],
        d[o + 8],
        d[o + 9],
        d[o + 10],
        d[o + 11],
        d[o + 12],
        d[o + 13],
        d[o + 14],
        d[o + 15]);
  }
}

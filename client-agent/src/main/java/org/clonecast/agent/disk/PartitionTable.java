package org.clonecast.agent.disk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The partitions of a written disk, read from its first sectors: GPT (UEFI 2.10 §5.3) when a
 * protective MBR and a valid "EFI PART" header are there, else the four MBR entries. Pure: it
 * parses bytes the caller read. Immutable.
 *
 * @param scheme "gpt" or "mbr"
 * @param partitions in table order, empty slots left out
 */
public record PartitionTable(String scheme, List<Partition> partitions) {
  /** GPT "Linux filesystem data". */
  public static final String GPT_LINUX_DATA = "0fc63daf-8483-4772-8e79-3d69d8477de4";
  /** GPT "Linux root (x86-64)" (Discoverable Partitions Specification). */
  public static final String GPT_LINUX_ROOT_X86_64 = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
  /** GPT "Linux root (ARM64)". */
  public static final String GPT_LINUX_ROOT_ARM64 = "b921b045-1df0-41c3-af44-4c6f280d3fae";
  static final int MBR_LINUX = 0x83;
  private static final int SECTOR = 512;

  /**
   * One partition.
   *
   * @param number 1-based, as the kernel names it (sda1, nvme0n1p1)
   * @param type GPT type GUID in lower case, or the MBR type as two hex digits
   * @param offset byte offset on the disk
   * @param size bytes
   */
  public record Partition(int number, String type, long offset, long size) {
    /** Whether its type says it holds a Linux filesystem (data or root). */
    public boolean linux() {
      return type.equals(GPT_LINUX_DATA) || type.equals(GPT_LINUX_ROOT_X86_64) || type.equals(GPT_LINUX_ROOT_ARM64)
          || type.equals(String.format(Locale.ROOT, "%02x", MBR_LINUX));
    }
  }

  /** How many bytes from the disk's start {@link #parse} needs: MBR, GPT header and 128 entries. */
  public static final int HEAD_BYTES = 34 * SECTOR;

  /**
   * Parses the disk's first {@link #HEAD_BYTES} bytes (fewer for a tiny disk).
   *
   * @return empty when there is no partition table (a whole-disk filesystem, or blank)
   */
  public static Optional<PartitionTable> parse(byte[] head) {
    if (head.length < SECTOR || (head[510] & 0xff) != 0x55 || (head[511] & 0xff) != 0xaa) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
    boolean protective = false;
    List<Partition> mbr = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      int e = 446 + 16 * i;
      int type = head[e + 4] & 0xff;
      long lba = Integer.toUnsignedLong(b.getInt(e + 8));
      long sectors = Integer.toUnsignedLong(b.getInt(e + 12));
      if (type == 0xee) protective = true;
      if (type != 0 && sectors > 0) {
        mbr.add(new Partition(i + 1, String.format(Locale.ROOT, "%02x", type), lba * SECTOR, sectors * SECTOR));
      }
    }
    if (protective) {
      Optional<PartitionTable> gpt = gpt(head, b);
      if (gpt.isPresent()) return gpt;
    }
    return Optional.of(new PartitionTable("mbr", mbr));
  }

  private static Optional<PartitionTable> gpt(byte[] head, ByteBuffer b) {
    int h = SECTOR; // the primary header is at LBA 1
    if (head.length < 2 * SECTOR || !new String(head, h, 8, java.nio.charset.StandardCharsets.US_ASCII).equals("EFI PART")) {
      return Optional.empty();
    }
    long entriesLba = b.getLong(h + 72);
    long count = Integer.toUnsignedLong(b.getInt(h + 80));
    long size = Integer.toUnsignedLong(b.getInt(h + 84));
    // Sizes the specification allows (entries of 128·2^n bytes, at least 16 KiB of them at LBA >= 2);
    // anything else is not a GPT we can trust, and the MBR entries stand.
    if (size < 128 || size > 4096 || count > 4096 || entriesLba < 2 || entriesLba > head.length / SECTOR) return Optional.empty();
    List<Partition> out = new ArrayList<>();
    for (long i = 0; i < count; i++) {
      long at = entriesLba * SECTOR + i * size;
      if (at + 56 > head.length) break; // entries past what was read: a table this large keeps its partitions in front
      int e = (int) at;
      String type = guid(head, e);
      if (type.equals("00000000-0000-0000-0000-000000000000")) continue;
      long first = b.getLong(e + 32);
      long last = b.getLong(e + 40);
      if (first <= 0 || last < first) continue;
      out.add(new Partition((int) i + 1, type, first * SECTOR, (last - first + 1) * SECTOR));
    }
    return Optional.of(new PartitionTable("gpt", out));
  }

  /** A GUID as text: the first three fields are little-endian on disk (RFC 4122 mixed-endian form). */
  static String guid(byte[] d, int o) {
    return String.format(Locale.ROOT, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
        d[o + 3], d[o + 2], d[o + 1], d[o], d[o + 5], d[o + 4], d[o + 7], d[o + 6],
        d[o + 8], d[o + 9], d[o + 10], d[o + 11], d[o + 12], d[o + 13], d[o + 14], d[o + 15]);
  }

  /** Whether the bytes at a filesystem's start (at least 1082) carry the ext2/3/4 superblock magic 0xEF53. */
  public static boolean isExt(byte[] fsHead) {
    return fsHead.length >= 1082 && (fsHead[1080] & 0xff) == 0x53 && (fsHead[1081] & 0xff) == 0xef;
  }
}

package org.clonecast.agent.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32;
import org.clonecast.common.image.SourceDevice;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.disk.GptHeader;

/**
 * Moves a GPT's backup header and entries to the end of a disk larger than the one the image was
 * taken from (UEFI 2.10 §5.3.2: the backup header is at the last LBA). Without this the kernel
 * warns at every boot ("GPT:Alternate GPT header not at the end of the disk") and the space after
 * the golden disk's size cannot be partitioned. Produces the same bytes as util-linux's {@code
 * sfdisk --relocate gpt-bak-std}: the primary header's alternate LBA and last usable LBA, the
 * protective MBR's size, a backup entry array and header at the end, both header CRCs recomputed.
 * The old backup copy is left where it was (sfdisk and sgdisk leave it too); nothing reads it once
 * the primary header points elsewhere.
 *
 * <p>{@link #plan} is pure: it takes the bytes the caller read and returns what to write. {@link
 * #moveToEnd} is the thin shell over a disk or image file. Assumes 512-byte logical sectors, like
 * the rest of the agent's disk code. Immutable and thread-safe.
 */
public final class GptBackup {
  static final int SECTOR = 512;
  private static final int HEADER_MIN = 92;
  private static final long MAX_ENTRY_BYTES = 4096L * 4096;

  /** One write: {@code bytes} at byte {@code offset} of the disk. */
  public record Write(long offset, byte[] bytes) {
    public Write {
      bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
      return bytes.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Write w && w.offset == offset && Arrays.equals(w.bytes, bytes);
    }

    @Override
    public int hashCode() {
      return Long.hashCode(offset) * 31 + Arrays.hashCode(bytes);
    }
  }

  /**
   * The writes that relocate the backup, in the order to make them (backup first, then the primary
   * header that points to it, so a crash in between leaves the old, still valid, pair).
   *
   * @param summary one line for the agent's log
   */
  public record Plan(List<Write> writes, String summary) {
    public Plan {
      writes = List.copyOf(writes);
    }
  }

  private GptBackup() {}

  /**
   * How many bytes from the disk's start {@link #plan} needs: the MBR, the primary header and its
   * entry array, read from the first two sectors' header fields (34 sectors for the usual 128
   * entries of 128 bytes).
   *
   * @param first two sectors or more; anything without a GPT header gives {@code 2 * 512}
   */
  public static long headBytes(byte[] first) {
    if (first.length < 2 * SECTOR || !isGpt(first)) return 2 * SECTOR;
    GptHeader g = GptHeader.read(first, SECTOR);
    if (g.entriesLba() < 2 || g.entriesLba() > 4096 || g.entryBytes() > MAX_ENTRY_BYTES) {
      return 2 * SECTOR;
    }
    return g.entriesLba() * SECTOR + roundUp(g.entryBytes());
  }

  /**
   * What to write to move the backup GPT to the end of a disk of {@code diskBytes}.
   *
   * @param head the disk's first {@link #headBytes} bytes
   * @return empty when there is nothing to do: no GPT, or its backup already at the last sector
   * @throws IllegalArgumentException naming the fault when the GPT is damaged (a bad CRC, fields
   *     out of range) or the disk is smaller than the table says
   */
  public static Optional<Plan> plan(byte[] head, long diskBytes) {
    return plan(head, diskBytes, false);
  }

  /**
   * What to write to move the backup GPT to the end of a disk of {@code diskBytes}, larger or
   * smaller than the image's: a smaller disk is fine when every partition ends before its new last
   * usable LBA. With {@code grow}, the last partition (the one that ends last) is also extended to
   * the new last usable LBA, in both entry arrays; its filesystem is grown by {@link Grow}.
   *
   * @throws IllegalArgumentException naming the fault when the GPT is damaged, or naming the sizes
   *     when a partition ends past what the disk can hold
   */
  public static Optional<Plan> plan(byte[] head, long diskBytes, boolean grow) {
    if (head.length < 2 * SECTOR || !isGpt(head)) return Optional.empty();
    int h = SECTOR;
    GptHeader g = GptHeader.read(head, h);
    long headerSize = g.headerSize();
    if (headerSize < HEADER_MIN || headerSize > SECTOR) {
      throw new IllegalArgumentException("GPT header size " + headerSize + ", want 92..512");
    }
    byte[] header = Arrays.copyOfRange(head, h, h + (int) headerSize);
    if (headerCrc(header) != (int) g.headerCrc())
      throw new IllegalArgumentException("GPT primary header CRC does not match");
    if (g.myLba() != 1)
      throw new IllegalArgumentException(
          "GPT primary header says it is at LBA " + g.myLba() + ", want 1");
    if (g.entrySize() < 128 || g.entryCount() == 0 || g.entryBytes() > MAX_ENTRY_BYTES) {
      throw new IllegalArgumentException(
          "GPT entry array of "
              + g.entryCount()
              + " entries of "
              + g.entrySize()
              + " bytes is out of range");
    }
    long entryBytes = g.entryBytes();
    long entrySectors = roundUp(entryBytes) / SECTOR;
    if (g.entriesLba() < 2 || g.entriesLba() * SECTOR + entryBytes > head.length) {
      throw new IllegalArgumentException(
          "GPT entries at LBA "
              + g.entriesLba()
              + " are not within the "
              + head.length
              + " bytes read");
    }
    byte[] entries =
        Arrays.copyOfRange(
            head, (int) (g.entriesLba() * SECTOR), (int) (g.entriesLba() * SECTOR + entryBytes));
    if (crc(entries, 0, entries.length) != (int) g.entriesCrc())
      throw new IllegalArgumentException("GPT entry array CRC does not match");
    long sectors = diskBytes / SECTOR;
    long last = sectors - 1;
    long newLastUsable = last - entrySectors - 1;
    long backupEntriesLba = last - entrySectors;
    // The partition that ends last: it must fit a smaller disk, and it is the one --grow extends.
    int lastEntry = -1;
    long lastEnd = -1;
    ByteBuffer eb = le(entries);
    for (int i = 0; i < g.entryCount(); i++) {
      int o = (int) (i * g.entrySize());
      if (eb.getLong(o) == 0 && eb.getLong(o + 8) == 0) continue; // unused entry: type GUID zero
      long end = eb.getLong(o + 40);
      if (end > lastEnd) {
        lastEnd = end;
        lastEntry = i;
      }
    }
    if (lastEnd > newLastUsable) {
      throw new IllegalArgumentException(
          "the disk has "
              + diskBytes
              + " bytes, but partition "
              + (lastEntry + 1)
              + " of the image ends at byte "
              + (lastEnd + 1) * SECTOR
              + " and the backup GPT needs "
              + (entrySectors + 1) * SECTOR
              + " more: the disk must have at least "
              + ((lastEnd + 1 + entrySectors + 1) * SECTOR)
              + " bytes");
    }
    boolean growing = grow && lastEntry >= 0 && lastEnd < newLastUsable;
    if (g.alternateLba() == last && !growing) return Optional.empty();
    if (newLastUsable < g.firstUsableLba())
      throw new IllegalArgumentException(
          "GPT first usable LBA " + g.firstUsableLba() + " is past the disk's end");
    if (growing) {
      entries = entries.clone();
      // EndingLBA of the last partition
      le(entries).putLong((int) (lastEntry * g.entrySize()) + 40, newLastUsable);
    }

    byte[] primary = header.clone();
    ByteBuffer p = le(primary);
    p.putLong(GptHeader.ALTERNATE_LBA, last);
    p.putLong(GptHeader.LAST_USABLE_LBA, newLastUsable);
    // The entry array's CRC changes only when growing.
    p.putInt(GptHeader.PARTITION_ENTRY_ARRAY_CRC32, crc(entries, 0, entries.length));
    p.putInt(GptHeader.HEADER_CRC32, headerCrc(primary));
    byte[] backup = primary.clone();
    ByteBuffer k = le(backup);
    k.putLong(GptHeader.MY_LBA, last);
    k.putLong(GptHeader.ALTERNATE_LBA, 1);
    k.putLong(GptHeader.PARTITION_ENTRY_LBA, backupEntriesLba);
    k.putInt(GptHeader.HEADER_CRC32, headerCrc(backup));

    byte[] backupArea = new byte[(int) ((entrySectors + 1) * SECTOR)];
    System.arraycopy(entries, 0, backupArea, 0, entries.length);
    System.arraycopy(backup, 0, backupArea, (int) (entrySectors * SECTOR), backup.length);
    Write end = new Write(backupEntriesLba * SECTOR, backupArea);
    Write primaryWrite = new Write(SECTOR, primary);
    String summary =
        "GPT backup moved from LBA "
            + g.alternateLba()
            + " to the disk's last LBA "
            + last
            + " (last usable LBA "
            + g.lastUsableLba()
            + " -> "
            + newLastUsable
            + ")"
            + (growing
                ? "; partition "
                    + (lastEntry + 1)
                    + " grown to end at LBA "
                    + newLastUsable
                    + " (was "
                    + lastEnd
                    + ")"
                : "");
    List<Write> writes = new ArrayList<>(List.of(end));
    // The primary entries before the primary header whose CRC covers them; the backup pair is
    // already whole.
    if (growing) writes.add(new Write(g.entriesLba() * SECTOR, entries));
    writes.add(primaryWrite);
    protectiveMbr(head, last).ifPresent(writes::add);
    return Optional.of(new Plan(writes, summary));
  }

  /**
   * The protective MBR's 0xEE entry grown to the whole disk (UEFI 2.10 §5.2.3: SizeInLBA is the
   * disk's size minus one, or 0xFFFFFFFF when that does not fit), as sfdisk writes it; its CHS
   * fields are kept.
   */
  private static Optional<Write> protectiveMbr(byte[] head, long last) {
    ByteBuffer b = le(head);
    for (int i = 0; i < 4; i++) {
      int e = 446 + 16 * i;
      if ((head[e + 4] & 0xff) != 0xee) continue;
      long want = Math.min(last, 0xffffffffL);
      long have = Integer.toUnsignedLong(b.getInt(e + 12));
      if (have == want || have == 0xffffffffL) return Optional.empty();
      byte[] mbr = Arrays.copyOf(head, SECTOR);
      le(mbr).putInt(e + 12, (int) want);
      return Optional.of(new Write(0, mbr));
    }
    return Optional.empty();
  }

  /**
   * Reads {@code disk}'s table and, when its backup GPT is not at the end, writes the relocation
   * and syncs it. A block device's kernel view is refreshed by the caller's partition re-read.
   *
   * @return what was done, or empty when nothing was
   * @throws IOException when the disk cannot be read or written
   * @throws IllegalArgumentException when its GPT is damaged (see {@link #plan})
   */
  public static Optional<String> moveToEnd(Path disk) throws IOException {
    return moveToEnd(disk, false);
  }

  /**
   * As {@link #moveToEnd(Path)}; with {@code grow}, the last partition is extended to the new end
   * (see {@link #plan}).
   */
  public static Optional<String> moveToEnd(Path disk, boolean grow) throws IOException {
    try (FileChannel ch =
        FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long size = SourceDevice.size(disk, ch);
      byte[] first = ChannelIo.readUpTo(ch, 0, 2 * SECTOR);
      long need = headBytes(first);
      Optional<Plan> plan =
          plan(need > first.length ? ChannelIo.readUpTo(ch, 0, (int) need) : first, size, grow);
      if (plan.isEmpty()) return Optional.empty();
      for (Write w : plan.get().writes()) {
        ChannelIo.writeFully(ch, ByteBuffer.wrap(w.bytes), w.offset);
        ch.force(true); // the backup is durable before the primary points to it
      }
      return Optional.of(plan.get().summary());
    }
  }

  private static boolean isGpt(byte[] d) {
    return new String(d, SECTOR, 8, StandardCharsets.US_ASCII).equals("EFI PART");
  }

  /** The CRC32 of a header with its own CRC field taken as zero. */
  private static int headerCrc(byte[] header) {
    byte[] h = header.clone();
    Arrays.fill(h, 16, 20, (byte) 0);
    return crc(h, 0, h.length);
  }

  private static int crc(byte[] d, int off, int len) {
    CRC32 c = new CRC32();
    c.update(d, off, len);
    return (int) c.getValue();
  }

  private static long roundUp(long bytes) {
    return (bytes + SECTOR - 1) / SECTOR * SECTOR;
  }

  private static ByteBuffer le(byte[] d) {
    return ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
  }
}

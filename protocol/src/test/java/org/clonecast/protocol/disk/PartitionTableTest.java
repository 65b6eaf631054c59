package org.clonecast.protocol.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tables written by sfdisk and sgdisk, read back; then the same tables damaged. */
class PartitionTableTest {
  private static final long DISK = 64L << 20;
  private static final String GPT_SCRIPT =
      "label: gpt\nstart=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
          + "start=18432, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n";

  private static Path sfdisk(Path dir, long size, String script) throws IOException {
    DiskTools.require("sfdisk");
    Path d = DiskTools.sparse(dir, "disk.img", size);
    DiskTools.runWithInput(script, "sfdisk", "--no-reread", "--no-tell-kernel", d.toString());
    return d;
  }

  private static byte[] head(Path d) throws IOException {
    return DiskTools.read(d, 0, PartitionTable.HEAD_BYTES);
  }

  @Test
  void gptWithAnEspAndALinuxRoot(@TempDir Path dir) throws Exception {
    PartitionTable t = PartitionTable.parse(head(sfdisk(dir, DISK, GPT_SCRIPT))).orElseThrow();
    assertEquals(PartitionTable.Scheme.GPT, t.scheme());
    assertEquals(512, t.sectorSize());
    assertEquals(2, t.partitions().size());
    PartitionTable.Partition esp = t.partitions().get(0);
    assertEquals(1, esp.number());
    assertEquals(PartitionTable.GPT_ESP, esp.type());
    assertEquals(2048L * 512, esp.offset());
    assertEquals(16384L * 512, esp.size());
    assertFalse(esp.linux());
    PartitionTable.Partition root = t.partitions().get(1);
    assertEquals(2, root.number());
    assertEquals(PartitionTable.GPT_LINUX_ROOT_X86_64, root.type());
    assertEquals(18432L * 512, root.offset());
    assertTrue(root.end() <= DISK - 33 * 512, "before the backup entries: " + root.end());
    assertTrue(root.linux());
    assertEquals(
        OptionalLong.of(DISK - 512),
        t.backupHeaderOffset(),
        "the backup header is the disk's last sector");
    assertEquals(List.of(), t.pastEnd(DISK));
  }

  @Test
  void gptBySgdiskWithSixPartitions(@TempDir Path dir) throws Exception {
    DiskTools.require("sgdisk");
    Path d = DiskTools.sparse(dir, "disk.img", DISK);
    DiskTools.run(
        "sgdisk",
        "-n1:2048:+4M",
        "-t1:ef00",
        "-n2:0:+4M",
        "-t2:8200",
        "-n3:0:+4M",
        "-n4:0:+4M",
        "-n5:0:+4M",
        "-n6:0:0",
        "-t6:8e00",
        d.toString());
    PartitionTable t = PartitionTable.parse(head(d)).orElseThrow();
    assertEquals(
        List.of(1, 2, 3, 4, 5, 6),
        t.partitions().stream().map(PartitionTable.Partition::number).toList());
    assertEquals(
        "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", t.partitions().get(1).type(), "Linux swap");
    assertEquals("e6d6d379-f507-44c2-a23c-238f2a3df928", t.partitions().get(5).type(), "Linux LVM");
    assertEquals(OptionalLong.of(DISK - 512), t.backupHeaderOffset());
  }

  @Test
  void gptOfFourKibSectors(@TempDir Path dir) throws Exception {
    DiskTools.require("sfdisk", "losetup");
    DiskTools.requireRoot("a disk of 4 KiB sectors is a loop device with --sector-size 4096");
    Path d = DiskTools.sparse(dir, "disk.img", DISK);
    String loop =
        DiskTools.run("losetup", "--find", "--show", "--sector-size", "4096", d.toString()).strip();
    try {
      DiskTools.runWithInput(
          "label: gpt\nstart=256, size=1024, type=L\n",
          "sfdisk",
          "--no-reread",
          "--no-tell-kernel",
          loop);
    } finally {
      DiskTools.run("losetup", "-d", loop);
    }
    PartitionTable t = PartitionTable.parse(head(d)).orElseThrow();
    assertEquals(4096, t.sectorSize());
    assertEquals(256L * 4096, t.partitions().get(0).offset());
    assertEquals(1024L * 4096, t.partitions().get(0).size());
    assertEquals(OptionalLong.of(DISK - 4096), t.backupHeaderOffset());
  }

  @Test
  void mbrWithALinuxPartition(@TempDir Path dir) throws Exception {
    PartitionTable t =
        PartitionTable.parse(
                head(
                    sfdisk(
                        dir,
                        DISK,
                        "label: dos\nstart=2048, size=8192, type=c\nstart=10240, type=83\n")))
            .orElseThrow();
    assertEquals(PartitionTable.Scheme.MBR, t.scheme());
    assertEquals(
        List.of("0c", "83"), t.partitions().stream().map(PartitionTable.Partition::type).toList());
    assertEquals(10240L * 512, t.partitions().get(1).offset());
    assertTrue(t.partitions().get(1).linux());
    assertEquals(OptionalLong.empty(), t.backupHeaderOffset());
  }

  private static final String LOGICAL_SCRIPT =
      "label: dos\nstart=2048, size=8192, type=83\n"
          + "start=10240, size=40960, type=5\nstart=12288, size=8192, type=83\nstart=22528, size=8192, type=82\n";

  @Test
  void mbrLogicalPartitionsFromTheEbrChain(@TempDir Path dir) throws Exception {
    Path d = sfdisk(dir, DISK, LOGICAL_SCRIPT);
    PartitionTable t = PartitionTable.parse(head(d)).orElseThrow();
    assertEquals(
        2, t.partitions().size(), "the primary entries: a Linux partition and the extended one");
    PartitionTable.Partition ext = t.partitions().get(1);
    assertTrue(ext.extended());
    assertEquals(40960L * 512, ext.size());
    List<PartitionTable.Partition> logical =
        PartitionTable.logicalPartitions(ext, at -> DiskTools.read(d, at, 512));
    assertEquals(
        List.of(
            new PartitionTable.Partition(5, "83", 12288L * 512, 8192L * 512),
            new PartitionTable.Partition(6, "82", 22528L * 512, 8192L * 512)),
        logical);
  }

  @Test
  void anEbrChainThatLoopsIsMalformed(@TempDir Path dir) throws Exception {
    Path d = sfdisk(dir, DISK, LOGICAL_SCRIPT);
    PartitionTable.Partition ext = PartitionTable.parse(head(d)).orElseThrow().partitions().get(1);
    List<PartitionTable.Partition> logical =
        PartitionTable.logicalPartitions(ext, at -> DiskTools.read(d, at, 512));
    long second =
        logical.get(1).offset() - 2048L * 512; // sfdisk puts each EBR 1 MiB before its partition
    byte[] ebr = DiskTools.read(d, second, 512);
    ByteBuffer.wrap(ebr)
        .order(ByteOrder.LITTLE_ENDIAN)
        .put(446 + 16 + 4, (byte) 0x05)
        .putInt(446 + 16 + 8, (int) ((second - ext.offset()) / 512));
    MalformedDiskException e =
        assertThrows(
            MalformedDiskException.class,
            () ->
                PartitionTable.logicalPartitions(
                    ext, at -> at == second ? ebr : DiskTools.read(d, at, 512)));
    assertEquals(
        "EBR at byte "
            + second
            + " links to byte "
            + second
            + ", not forward inside extended partition 2",
        e.getMessage());
  }

  @Test
  void aTableMadeForALargerDiskIsPastTheEnd(@TempDir Path dir) throws Exception {
    PartitionTable gpt = PartitionTable.parse(head(sfdisk(dir, DISK, GPT_SCRIPT))).orElseThrow();
    List<String> past = gpt.pastEnd(DISK / 2);
    assertEquals(2, past.size(), past.toString());
    assertEquals(
        "partition 2 ends at byte "
            + gpt.partitions().get(1).end()
            + ", past the disk's end at byte "
            + DISK / 2,
        past.get(0));
    assertTrue(
        past.get(1).startsWith("the GPT backup header is at byte " + (DISK - 512)), past.get(1));
    PartitionTable mbr =
        PartitionTable.parse(head(sfdisk(dir, DISK, "label: dos\nstart=2048, type=83\n")))
            .orElseThrow();
    assertEquals(
        List.of("partition 1 ends at byte " + DISK + ", past the disk's end at byte " + (DISK - 1)),
        mbr.pastEnd(DISK - 1));
  }

  @Test
  void aDamagedGptHeaderIsMalformed(@TempDir Path dir) throws Exception {
    byte[] h = head(sfdisk(dir, DISK, GPT_SCRIPT));
    h[512 + 40] ^= 1; // first usable LBA
    MalformedDiskException e =
        assertThrows(MalformedDiskException.class, () -> PartitionTable.parse(h));
    assertTrue(e.getMessage().startsWith("GPT header CRC32 0x"), e.getMessage());
  }

  @Test
  void aDamagedGptEntryIsMalformed(@TempDir Path dir) throws Exception {
    byte[] h = head(sfdisk(dir, DISK, GPT_SCRIPT));
    h[1024 + 128 + 40] ^= 1; // partition 2's last LBA
    MalformedDiskException e =
        assertThrows(MalformedDiskException.class, () -> PartitionTable.parse(h));
    assertTrue(e.getMessage().startsWith("GPT entry array CRC32 0x"), e.getMessage());
  }

  @Test
  void aProtectiveMbrWithoutGptIsMalformed(@TempDir Path dir) throws Exception {
    byte[] h = head(sfdisk(dir, DISK, GPT_SCRIPT));
    h[512] = 'X';
    MalformedDiskException e =
        assertThrows(MalformedDiskException.class, () -> PartitionTable.parse(h));
    assertTrue(e.getMessage().contains("no GPT header"), e.getMessage());
  }

  @Test
  void overlappingMbrPartitionsAreMalformed() {
    byte[] h = mbr(new int[] {0x83, 2048, 8192}, new int[] {0x83, 8000, 100});
    MalformedDiskException e =
        assertThrows(MalformedDiskException.class, () -> PartitionTable.parse(h));
    assertEquals("MBR partitions 1 and 2 overlap (bytes 4096000..4147199)", e.getMessage());
  }

  @Test
  void bootCodeWithImpossibleBootFlagsIsNoTable() {
    byte[] h = mbr(new int[] {0x83, 2048, 8192});
    h[446] = 0x12;
    assertEquals(Optional.empty(), PartitionTable.parse(h));
  }

  @Test
  void aBlankDiskHasNoTable() {
    assertEquals(Optional.empty(), PartitionTable.parse(new byte[PartitionTable.HEAD_BYTES]));
    assertEquals(Optional.empty(), PartitionTable.parse(new byte[100]));
    assertEquals(Optional.empty(), PartitionTable.parse(mbr()), "a boot signature and no entry");
  }

  @Test
  void everyTruncationOfARealGptParsesOrIsMalformed(@TempDir Path dir) throws Exception {
    byte[] h = head(sfdisk(dir, DISK, GPT_SCRIPT));
    for (int n = 0; n <= 1024 + 128 * 128; n += 7) {
      byte[] cut = Arrays.copyOf(h, n);
      try {
        PartitionTable.parse(cut);
      } catch (MalformedDiskException expected) {
        assertFalse(expected.getMessage().isEmpty());
      }
    }
  }

  @Property
  void anyBytesParseOrAreMalformed(@ForAll @Size(max = 20000) byte[] bytes) {
    if (bytes.length >= 1024) {
      bytes[510] = 0x55;
      bytes[511] = (byte) 0xaa;
      bytes[446 + 4] = (byte) 0xee; // make the GPT path likely
      bytes[446] = 0;
      System.arraycopy("EFI PART".getBytes(), 0, bytes, 512, 8);
    }
    try {
      PartitionTable.parse(bytes);
    } catch (MalformedDiskException expected) {
      assertFalse(expected.getMessage().isEmpty());
    }
  }

  /** An MBR sector with entries {type, first LBA, sectors}. */
  private static byte[] mbr(int[]... entries) {
    byte[] h = new byte[512];
    ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < entries.length; i++) {
      int e = 446 + 16 * i;
      h[e + 4] = (byte) entries[i][0];
      b.putInt(e + 8, entries[i][1]);
      b.putInt(e + 12, entries[i][2]);
    }
    h[510] = 0x55;
    h[511] = (byte) 0xaa;
    return h;
  }
}

package org.clonecast.protocol.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.clonecast.protocol.disk.Filesystem.Cleanliness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Filesystems made by the real mkfs tools, probed; each also against its committed head sample
 * (golden/disk/*.head.gz, refreshed with -Dclonecast.golden.regenerate=true) so the parsers are
 * tested where the tools are missing. Dirty states are made by the tools that make them (debugfs,
 * tune2fs) or by the documented bit, confirmed by the tool that checks it (fsck.fat).
 */
class FilesystemProbeTest {
  private static final String UUID = "2f1e7a4c-6b1d-4c55-9f0e-5a3c2b1d0e9f";
  private static final String VOLUME_ID = "1234ABCD";

  /** A golden case: the tool that makes it, the sample's name, and what the probe must say. */
  record Case(String name, long size, List<String> mkfs, Consumer<Filesystem> expect) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    return Stream.of(
        new Case(
            "ext4",
            64L << 20,
            List.of("mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "golden-ext4", "-U", UUID),
            fs -> {
              Filesystem.Ext e = assertInstanceOf(Filesystem.Ext.class, fs);
              assertEquals("ext4", e.type());
              assertEquals(4096, e.blockSize());
              assertEquals(16384, e.blocks());
              assertEquals(64L << 20, e.size());
              assertTrue(
                  e.freeBlocks() > 0 && e.freeBlocks() < e.blocks(), "free " + e.freeBlocks());
              assertEquals("golden-ext4", e.label());
              assertEquals(UUID, e.uuid());
              assertEquals(Cleanliness.CLEAN, e.cleanliness());
              assertTrue(e.checksumOk(), "metadata_csum checked");
              assertEquals(List.of(), e.untrusted());
            }),
        new Case(
            "ext3",
            32L << 20,
            List.of("mkfs.ext3", "-q", "-F", "-L", "golden-ext3", "-U", UUID),
            fs -> {
              Filesystem.Ext e = assertInstanceOf(Filesystem.Ext.class, fs);
              assertEquals("ext3", e.type());
              assertEquals(Cleanliness.CLEAN, e.cleanliness());
            }),
        new Case(
            "ext2",
            32L << 20,
            List.of("mkfs.ext2", "-q", "-F", "-b", "1024", "-L", "golden-ext2", "-U", UUID),
            fs -> {
              Filesystem.Ext e = assertInstanceOf(Filesystem.Ext.class, fs);
              assertEquals("ext2", e.type());
              assertEquals(1024, e.blockSize());
              assertEquals(32768, e.blocks());
              assertEquals(Cleanliness.CLEAN, e.cleanliness());
            }),
        new Case(
            "xfs",
            320L << 20,
            List.of("mkfs.xfs", "-q", "-f", "-L", "golden-xfs", "-m", "uuid=" + UUID),
            fs -> {
              Filesystem.Xfs x = assertInstanceOf(Filesystem.Xfs.class, fs);
              assertEquals(4096, x.blockSize());
              assertEquals(320L << 20, x.size());
              assertEquals("golden-xfs", x.label());
              assertEquals(UUID, x.uuid());
              assertTrue(x.internalLog());
              assertTrue(x.checksumOk(), "v5 superblock crc checked");
              assertEquals(Cleanliness.UNKNOWN, x.cleanliness(), "the log must be read to tell");
              assertEquals(List.of(), x.untrusted());
            }),
        new Case(
            "vfat32",
            64L << 20,
            List.of("mkfs.vfat", "-F", "32", "-n", "ESP", "-i", VOLUME_ID),
            fs -> {
              Filesystem.Fat f = assertInstanceOf(Filesystem.Fat.class, fs);
              assertEquals(32, f.bits());
              assertEquals(512, f.bytesPerSector());
              assertEquals((64L << 20) / 512, f.sectors());
              assertEquals("ESP", f.label());
              assertEquals("1234-ABCD", f.volumeId());
              assertEquals(Cleanliness.CLEAN, f.cleanliness());
              assertTrue(f.metadataBytes() > 32 * 512, "reserved sectors and FATs");
            }),
        new Case(
            "vfat16",
            32L << 20,
            List.of("mkfs.vfat", "-F", "16", "-n", "DATA16", "-i", VOLUME_ID),
            fs -> {
              Filesystem.Fat f = assertInstanceOf(Filesystem.Fat.class, fs);
              assertEquals(16, f.bits());
              assertEquals("DATA16", f.label());
              assertEquals(Cleanliness.CLEAN, f.cleanliness());
            }),
        new Case(
            "vfat12",
            4L << 20,
            List.of("mkfs.vfat", "-F", "12", "-i", VOLUME_ID),
            fs -> {
              Filesystem.Fat f = assertInstanceOf(Filesystem.Fat.class, fs);
              assertEquals(12, f.bits());
              assertEquals(Cleanliness.CLEAN, f.cleanliness());
            }),
        new Case(
            "btrfs",
            256L << 20,
            List.of("mkfs.btrfs", "-q", "-f", "-L", "golden-btrfs", "-U", UUID),
            fs -> {
              Filesystem.Btrfs b = assertInstanceOf(Filesystem.Btrfs.class, fs);
              assertEquals(256L << 20, b.size());
              assertEquals(1, b.numDevices());
              assertEquals("golden-btrfs", b.label());
              assertEquals(UUID, b.uuid());
              assertTrue(b.checksumOk());
              assertFalse(b.logTree());
              assertEquals(Cleanliness.CLEAN, b.cleanliness());
            }),
        new Case(
            "swap",
            16L << 20,
            List.of("mkswap", "-L", "golden-swap", "-U", UUID),
            fs -> {
              Filesystem.Swap s = assertInstanceOf(Filesystem.Swap.class, fs);
              assertEquals(4096, s.pageSize());
              assertEquals("golden-swap", s.label());
              assertEquals(UUID, s.uuid());
              assertEquals(List.of(new Filesystem.Range(0, 4096)), s.essential());
              assertEquals(Cleanliness.CLEAN, s.cleanliness());
            }));
  }

  private static byte[] make(Path dir, Case c) throws IOException {
    DiskTools.require(c.mkfs().get(0));
    Path f = DiskTools.sparse(dir, c.name() + ".img", c.size());
    String[] cmd = Stream.concat(c.mkfs().stream(), Stream.of(f.toString())).toArray(String[]::new);
    DiskTools.run(cmd);
    return DiskTools.read(f, 0, FilesystemProbe.HEAD_BYTES);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void madeByTheRealTool(Case c, @TempDir Path dir) throws IOException {
    byte[] head = make(dir, c);
    c.expect().accept(FilesystemProbe.probe(head));
    DiskTools.maybeStore(c.name(), head);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void committedSample(Case c) throws IOException {
    c.expect().accept(FilesystemProbe.probe(DiskTools.sample(c.name())));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void everyTruncationIsProbedWithoutException(Case c) throws IOException {
    byte[] head = DiskTools.sample(c.name());
    for (int n = 0; n <= head.length; n += 509) {
      assertFalse(FilesystemProbe.probe(Arrays.copyOf(head, n)).type().isEmpty());
    }
  }

  @Test
  void lvmPhysicalVolumeMadeByPvcreate(@TempDir Path dir) throws IOException {
    DiskTools.require("pvcreate", "losetup");
    DiskTools.requireRoot("pvcreate needs a block device (a loop device)");
    Path f = DiskTools.sparse(dir, "pv.img", 16L << 20);
    String loop = DiskTools.run("losetup", "--find", "--show", f.toString()).strip();
    try {
      // No devices file, no backup: the host's LVM configuration stays as it was.
      DiskTools.run(
          "pvcreate",
          "--devices",
          loop,
          "--norestorefile",
          "-u",
          "a1b2c3-d4e5-f6a7-b8c9-d0e1-f2a3-b4c5d6",
          "-y",
          loop);
    } finally {
      DiskTools.run("losetup", "-d", loop);
    }
    byte[] head = DiskTools.read(f, 0, FilesystemProbe.HEAD_BYTES);
    Filesystem.LvmPv pv = assertInstanceOf(Filesystem.LvmPv.class, FilesystemProbe.probe(head));
    assertEquals(1, pv.labelSector());
    assertEquals("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", pv.uuid());
    DiskTools.maybeStore("lvm2", head);
  }

  @Test
  void lvmPhysicalVolumeFromCommittedSample() throws IOException {
    Filesystem.LvmPv pv =
        assertInstanceOf(Filesystem.LvmPv.class, FilesystemProbe.probe(DiskTools.sample("lvm2")));
    assertEquals(1, pv.labelSector());
    assertEquals("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", pv.uuid());
  }

  @Test
  void ext4WhoseJournalNeedsRecovery(@TempDir Path dir) throws IOException {
    DiskTools.require("mkfs.ext4", "debugfs");
    Path f = ext4(dir);
    DiskTools.run("debugfs", "-w", "-R", "feature needs_recovery", f.toString());
    Filesystem.Ext e =
        assertInstanceOf(
            Filesystem.Ext.class,
            FilesystemProbe.probe(DiskTools.read(f, 0, FilesystemProbe.HEAD_BYTES)));
    assertTrue(e.needsRecovery());
    assertEquals(Cleanliness.NOT_CLEAN, e.cleanliness());
    assertEquals(List.of("the journal needs recovery"), e.problems());
    assertTrue(e.checksumOk(), "debugfs rewrote the checksum");
  }

  @Test
  void ext4WithErrorsOrphansAndNotCleanlyUnmounted(@TempDir Path dir) throws IOException {
    DiskTools.require("mkfs.ext4", "debugfs", "tune2fs");
    Path f = ext4(dir);
    DiskTools.run("tune2fs", "-E", "force_fsck", f.toString());
    DiskTools.run("debugfs", "-w", "-R", "ssv last_orphan 12", f.toString());
    Filesystem.Ext e =
        assertInstanceOf(
            Filesystem.Ext.class,
            FilesystemProbe.probe(DiskTools.read(f, 0, FilesystemProbe.HEAD_BYTES)));
    assertEquals(
        List.of("the filesystem has errors", "it has orphan inodes not yet freed"), e.problems());
    DiskTools.run("debugfs", "-w", "-R", "ssv state 0", f.toString());
    e =
        assertInstanceOf(
            Filesystem.Ext.class,
            FilesystemProbe.probe(DiskTools.read(f, 0, FilesystemProbe.HEAD_BYTES)));
    assertEquals(
        List.of("it was not cleanly unmounted", "it has orphan inodes not yet freed"),
        e.problems());
  }

  @Test
  void damagedSuperblockChecksumsAreUntrusted() throws IOException {
    for (String name : List.of("ext4", "xfs", "btrfs")) {
      byte[] head = DiskTools.sample(name);
      int label =
          switch (name) {
            case "ext4" -> 1024 + 0x78;
            case "xfs" -> 108;
            default -> 65536 + 0x12b;
          };
      head[label] ^= 0x20;
      Filesystem fs = FilesystemProbe.probe(head);
      assertEquals(name, fs.type());
      assertEquals(List.of("the superblock checksum does not match"), fs.untrusted(), name);
    }
  }

  @Test
  void fatDirtyBitAsFsckFatReadsIt(@TempDir Path dir) throws IOException {
    DiskTools.require("mkfs.vfat", "fsck.fat");
    for (String bits : List.of("16", "32")) {
      Path f = DiskTools.sparse(dir, "fat" + bits + ".img", 64L << 20);
      DiskTools.run("mkfs.vfat", "-F", bits, f.toString());
      // The bit Linux sets while the volume is mounted (fs/fat/inode.c fat_set_state): the
      // "state" byte of the extended BPB, 0x25 for FAT12/16 and 0x41 for FAT32.
      int at = bits.equals("32") ? 0x41 : 0x25;
      try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
        r.seek(at);
        r.write(0x01);
      }
      String fsck = DiskTools.runAnyExit("fsck.fat", "-n", f.toString());
      assertTrue(fsck.contains("Dirty bit is set"), fsck);
      Filesystem fs = FilesystemProbe.probe(DiskTools.read(f, 0, FilesystemProbe.HEAD_BYTES));
      assertEquals(Cleanliness.NOT_CLEAN, fs.cleanliness(), bits);
      assertEquals(
          List.of("the FAT" + bits + " volume was not properly unmounted (dirty bit set)"),
          fs.problems());
    }
  }

  @Test
  void leftoverSignaturesAreAmbiguous() throws IOException {
    byte[] head = DiskTools.sample("ext4");
    byte[] swap = DiskTools.sample("swap");
    System.arraycopy(swap, 4086, head, 4086, 10);
    Filesystem fs = FilesystemProbe.probe(head);
    Filesystem.Unknown u = assertInstanceOf(Filesystem.Unknown.class, fs);
    assertEquals("signatures of ext4 and swap at once (a leftover of an earlier format)", u.note());
  }

  @Test
  void hibernatedSwapIsNotClean() throws IOException {
    byte[] head = DiskTools.sample("swap");
    System.arraycopy("S1SUSPEND\0".getBytes(), 0, head, 4086, 10);
    assertEquals(Cleanliness.NOT_CLEAN, FilesystemProbe.probe(head).cleanliness());
  }

  @Test
  void zerosAreUnknown() {
    assertEquals(
        new Filesystem.Unknown("no known signature"),
        FilesystemProbe.probe(new byte[FilesystemProbe.HEAD_BYTES]));
  }

  @Property
  void anyBytesAreProbedWithoutException(@ForAll @Size(max = 5000) byte[] bytes) {
    if (bytes.length > 1082) {
      bytes[1080] = 0x53;
      bytes[1081] = (byte) 0xef;
    }
    assertFalse(FilesystemProbe.probe(bytes).type().isEmpty());
  }

  private static Path ext4(Path dir) throws IOException {
    Path f = DiskTools.sparse(dir, "ext4.img", 64L << 20);
    DiskTools.run("mkfs.ext4", "-q", "-F", f.toString());
    return f;
  }
}

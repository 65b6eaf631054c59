package org.clonecast.common.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.disk.PartitionPlan.Method;
import org.clonecast.protocol.image.AllocationMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Capture plans of disks made with the real tools (sgdisk, mkfs.*, mkswap) and filled through real
 * mounts: the map carries every live file and little of the deleted ones, and a disk holding only
 * the map's bytes fscks clean with every file intact. Dirty, mounted and cut-short disks are
 * refused with their reason. Needs root (loop devices, mounts).
 */
class DiskAllocationTest {
  private static final long MIB = 1L << 20;
  private static final int FILES = 12;
  private static final int UNITS = 64;

  @Test
  void gptDiskWithEspExt4XfsBtrfsAndSwap(@TempDir Path dir) throws Exception {
    GoldenDisk.require(
        "sgdisk",
        "losetup",
        "mount",
        "mkfs.vfat",
        "mkfs.ext4",
        "mkfs.xfs",
        "mkfs.btrfs",
        "mkswap",
        "partclone.ext4",
        "partclone.xfs",
        "partclone.vfat",
        "partclone.btrfs",
        "xfs_logprint",
        "e2fsck",
        "xfs_repair",
        "fsck.fat",
        "btrfs",
        "mcopy",
        "mdel");
    String[] tags = {"esp", "root", "data", "home"};
    long[] deleted = {24 * MIB, 160 * MIB, 120 * MIB, 64 * MIB};
    Path disk;
    try (GoldenDisk g =
        GoldenDisk.create(
            dir,
            1024,
            "-n1:2048:+64M",
            "-t1:ef00",
            "-n2:0:+384M",
            "-t2:8300",
            "-n3:0:+320M",
            "-n4:0:+160M",
            "-n5:0:+32M",
            "-t5:8200")) {
      GoldenDisk.run("mkfs.vfat", "-F", "32", "-n", "ESP", g.part(1));
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(2));
      GoldenDisk.run("mkfs.xfs", "-q", "-f", g.part(3));
      GoldenDisk.run("mkfs.btrfs", "-q", "-f", g.part(4));
      GoldenDisk.run("mkswap", "-L", "golden-swap", g.part(5));
      GoldenDisk.fillFat(g.part(1), dir, tags[0], FILES, UNITS, deleted[0]);
      for (int n = 2; n <= 4; n++) {
        g.fill(n, dir, tags[n - 1], FILES, UNITS, deleted[n - 1]);
      }
      disk = g.file;
    }
    DiskPlan plan = DiskAllocation.plan(disk, false);
    System.out.println(plan.describe());
    assertEquals("gpt", plan.table());
    assertEquals(
        List.of(
            Method.PARTCLONE_MAP,
            Method.PARTCLONE_MAP,
            Method.PARTCLONE_MAP,
            Method.PARTCLONE_MAP,
            Method.SWAP_HEADER),
        plan.partitions().stream().map(PartitionPlan::method).toList(),
        plan.describe());
    assertEquals(
        List.of("vfat \"ESP\"", "ext4", "xfs", "btrfs", "swap \"golden-swap\""),
        plan.partitions().stream().map(PartitionPlan::filesystem).toList());
    assertEquals(4096, plan.partitions().get(4).usedBytes(), "swap: its first page");
    long btrfsMirror = plan.partitions().get(3).offset() + (64L << 20);
    assertTrue(
        plan.map().extents().stream()
            .anyMatch(e -> e.offset() <= btrfsMirror && e.end() >= btrfsMirror + 4096),
        "btrfs's superblock mirror at 64 MiB is carried");
    assertEquals(List.of(), plan.warnings());

    Scan scan = Scan.of(disk, plan.map());
    assertEquals(
        2 * 4 * FILES * UNITS, scan.liveFound, "every unit of every live file is on the disk once");
    assertEquals(scan.liveFound, scan.liveInMap, "every live unit is in the map");
    assertTrue(
        scan.deadFound > 100_000,
        "the deleted files' units are still on the disk: " + scan.deadFound);
    assertTrue(
        scan.deadInMap < scan.deadFound / 20,
        "most deleted units are left out: " + scan.deadInMap + " of " + scan.deadFound);
    assertTrue(plan.map().usedBytes() < plan.map().diskSize() / 5, plan.map().toString());

    // A clone receives only the map's bytes: every filesystem must check clean and hold every file.
    Path clone = GoldenDisk.restore(disk, plan.map(), dir.resolve("clone.img"));
    Files.delete(disk);
    try (GoldenDisk c = GoldenDisk.attach(clone)) {
      assertFsck(GoldenDisk.runAnyExit("fsck.fat", "-n", c.part(1)));
      assertFsck(GoldenDisk.runAnyExit("e2fsck", "-fn", c.part(2)));
      assertFsck(GoldenDisk.runAnyExit("xfs_repair", "-n", c.part(3)));
      assertFsck(GoldenDisk.runAnyExit("btrfs", "check", "--readonly", c.part(4)));
      assertTrue(GoldenDisk.run("swaplabel", c.part(5)).contains("golden-swap"));
      GoldenDisk.checkFat(c.part(1), dir, tags[0], FILES, UNITS);
      GoldenDisk.checkFat(c.part(1), dir, tags[0] + "-late", FILES, UNITS);
      for (int n = 2; n <= 4; n++) {
        Path out = c.copyOut(n, dir);
        GoldenDisk.checkLive(out, tags[n - 1], FILES, UNITS);
        GoldenDisk.checkLive(out, tags[n - 1] + "-late", FILES, UNITS);
      }
    }
  }

  /**
   * The case: a 2 GiB disk, ext4 about 45 % used after 1 GiB was written and deleted.
   * Prints the figures.
   */
  @Test
  void aUsedExt4DiskCarriesAboutItsUsedBytes(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk", "losetup", "mount", "mkfs.ext4", "partclone.ext4");
    try (GoldenDisk g = GoldenDisk.create(dir, 2048, "-n1:2048:0", "-t1:8300")) {
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(1));
      Path unit = GoldenDisk.deadUnit(dir);
      g.inPrivateMount(
          1,
          dir,
          "rw",
          "i=0; while [ $i -lt 1024 ]; do cat \""
              + unit
              + "\"; i=$((i + 1)); done > deleted.dat;"
              + " sync -f deleted.dat; rm deleted.dat; sync -f .;"
              + " for f in 0 1 2 3 4 5 6 7 8; do head -c 100M /dev/urandom > random-$f.bin; done");
      long live = 900 * MIB;
      DiskPlan plan = DiskAllocation.plan(g.file, false);
      System.out.println(plan.describe());
      assertEquals(Method.PARTCLONE_MAP, plan.partitions().get(0).method());
      assertTrue(plan.map().usedBytes() > live, plan.map() + " holds the " + live + " live bytes");
      assertTrue(
          plan.map().usedBytes() < live + (100L << 20),
          plan.map() + ": live data plus metadata and journal, not the deleted GiB");
    }
  }

  @Test
  void theSamePlanFromTheLoopBlockDevice(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk", "losetup", "mkfs.ext4", "partclone.ext4");
    try (GoldenDisk g = GoldenDisk.create(dir, 96, "-n1:2048:+64M", "-t1:8300")) {
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(1));
      DiskPlan fromFile = DiskAllocation.plan(g.file, false);
      String loop = g.wholeLoop();
      DiskPlan fromDevice = DiskAllocation.plan(Path.of(loop), false);
      // Its partition node where the kernel scanned the loop's partitions, else a loop device over
      // the loop device.
      assertEquals(loop + "p1", fromDevice.partitions().get(0).device());
      assertEquals(
          Method.PARTCLONE_MAP, fromDevice.partitions().get(0).method(), fromDevice.describe());
      assertEquals(fromFile.map(), fromDevice.map());
    }
  }

  @Test
  void mbrDiskWithLogicalPartitions(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sfdisk", "losetup", "mount", "mkfs.ext4", "mkswap", "partclone.ext4");
    try (GoldenDisk g =
        GoldenDisk.createMbr(
            dir,
            160,
            "label: dos\nstart=2048, size=64MiB, type=83\n"
                + "start=133120, type=5\nstart=135168, size=48MiB, type=83\nsize=16MiB, type=82\n")) {
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(1));
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(5));
      GoldenDisk.run("mkswap", g.part(6));
      g.fill(5, dir, "logical", 2, UNITS, 32 * MIB);
      DiskPlan plan = DiskAllocation.plan(g.file, false);
      assertEquals("mbr", plan.table());
      assertEquals(
          List.of(1, 5, 6),
          plan.partitions().stream().map(PartitionPlan::number).toList(),
          plan.describe());
      assertEquals(
          List.of(Method.PARTCLONE_MAP, Method.PARTCLONE_MAP, Method.SWAP_HEADER),
          plan.partitions().stream().map(PartitionPlan::method).toList(),
          plan.describe());
      assertTrue(
          plan.partitions().get(1).usedBytes() < 16 * MIB,
          "the deleted 32 MiB are left out: " + plan.describe());
      Scan scan = Scan.of(g.file, plan.map());
      assertTrue(
          scan.deadFound > 0 && scan.deadInMap < scan.deadFound / 20,
          scan.deadInMap + " of " + scan.deadFound);
    }
  }

  @Test
  void dirtyExt4IsRefusedUnlessForced(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk", "losetup", "mount", "mkfs.ext4", "partclone.ext4");
    Path crashed = dir.resolve("crashed.img");
    try (GoldenDisk g = GoldenDisk.create(dir, 96, "-n1:2048:+64M", "-t1:8300")) {
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(1));
      Path mp = g.mount(1, dir);
      GoldenDisk.writeLive(mp, "x", 4, UNITS);
      GoldenDisk.run("sync", "-f", mp.toString());
      // The disk as a power cut leaves it: copied while mounted.
      Files.copy(g.file, crashed, StandardCopyOption.REPLACE_EXISTING);
      g.umount(mp);
    }
    DiskRefusedException e =
        assertThrows(DiskRefusedException.class, () -> DiskAllocation.plan(crashed, false));
    assertEquals(
        List.of(
            "partition 1 (ext4 on "
                + crashed
                + " at byte 1048576): the journal needs recovery; mount it once and unmount"
                + " it cleanly, or run e2fsck -f $(losetup --find --show --offset 1048576 --sizelimit 67108864 "
                + crashed
                + ") on the golden"
                + " node, or capture with --force"),
        e.problems());
    DiskPlan forced = DiskAllocation.plan(crashed, true);
    assertEquals(Method.WHOLE, forced.partitions().get(0).method());
    assertEquals(AllocationMap.whole(96 * MIB), forced.map());
  }

  @Test
  void dirtyXfsLogIsRefusedUnlessForced(@TempDir Path dir) throws Exception {
    GoldenDisk.require(
        "sgdisk", "losetup", "mount", "mkfs.xfs", "xfs_io", "xfs_logprint", "partclone.xfs");
    Path disk;
    try (GoldenDisk g = GoldenDisk.create(dir, 400, "-n1:2048:+320M", "-t1:8300")) {
      GoldenDisk.run("mkfs.xfs", "-q", "-f", g.part(1));
      Path mp = g.mount(1, dir);
      GoldenDisk.writeLive(mp, "x", 50, 1);
      // Flush the log, then stop the filesystem: the log holds transactions never written back.
      GoldenDisk.run("xfs_io", "-x", "-c", "shutdown -f", mp.toString());
      g.umount(mp);
      disk = g.file;
    }
    DiskRefusedException e =
        assertThrows(DiskRefusedException.class, () -> DiskAllocation.plan(disk, false));
    assertEquals(1, e.problems().size());
    assertTrue(
        e.problems()
            .get(0)
            .startsWith(
                "partition 1 (xfs on "
                    + disk
                    + " at byte 1048576): its log needs recovery; mount it once"),
        e.problems().get(0));
    DiskPlan forced = DiskAllocation.plan(disk, true);
    assertEquals(Method.WHOLE, forced.partitions().get(0).method());
    assertEquals("not clean: its log needs recovery", forced.partitions().get(0).state());
  }

  @Test
  void btrfsWithAnUnreplayedLogTreeIsRefused(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk", "losetup", "mount", "unshare", "mkfs.btrfs", "partclone.btrfs");
    Path crashed = dir.resolve("crashed.img");
    try (GoldenDisk g = GoldenDisk.create(dir, 200, "-n1:2048:+160M")) {
      GoldenDisk.run("mkfs.btrfs", "-q", "-f", g.part(1));
      // fsync writes the log tree; the disk copied before unmounting is what a power cut leaves.
      g.inPrivateMount(
          1,
          dir,
          "rw",
          "dd if=/dev/urandom of=f bs=1M count=4 conv=fsync status=none;"
              + " cp --sparse=always \""
              + g.file
              + "\" \""
              + crashed
              + "\"");
    }
    DiskRefusedException e =
        assertThrows(DiskRefusedException.class, () -> DiskAllocation.plan(crashed, false));
    assertTrue(
        e.problems()
            .get(0)
            .startsWith(
                "partition 1 (btrfs on "
                    + crashed
                    + " at byte 1048576): its log tree is not replayed"),
        e.getMessage());
    assertEquals(Method.WHOLE, DiskAllocation.plan(crashed, true).partitions().get(0).method());
  }

  @Test
  void aFilesystemMountedReadWriteIsRefused(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk", "losetup", "mount", "mkfs.ext4", "partclone.ext4");
    try (GoldenDisk g = GoldenDisk.create(dir, 96, "-n1:2048:+32M", "-n2:0:+32M")) {
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(1));
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(2));
      Path rw = g.mount(2, dir);
      DiskRefusedException e =
          assertThrows(DiskRefusedException.class, () -> DiskAllocation.plan(g.file, false));
      assertEquals(
          List.of(
              "partition 2 (ext4 on "
                  + g.file
                  + " at byte "
                  + 33 * MIB
                  + "): mounted read-write at "
                  + rw
                  + " ("
                  + g.part(2)
                  + "); unmount it or remount it read-only (mount -o remount,ro "
                  + rw
                  + "), or capture with --force"),
          e.problems());
      GoldenDisk.run("mount", "-o", "remount,ro", rw.toString());
      DiskPlan plan = DiskAllocation.plan(g.file, false);
      assertEquals("clean, mounted read-only at " + rw, plan.partitions().get(1).state());
      assertEquals(Method.PARTCLONE_MAP, plan.partitions().get(1).method(), plan.describe());
    }
  }

  @Test
  void aMountInAnotherMountNamespaceCounts(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk", "losetup", "mount", "unshare", "mkfs.ext4", "partclone.ext4");
    try (GoldenDisk g = GoldenDisk.create(dir, 64, "-n1:2048:+32M")) {
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(1));
      Path mp = Files.createDirectories(dir.resolve("elsewhere"));
      Process holder =
          new ProcessBuilder(
                  "unshare",
                  "--mount",
                  "--propagation",
                  "private",
                  "sh",
                  "-euc",
                  "mount \"$0\" \"$1\"; echo ready; read line; umount \"$1\"",
                  g.part(1),
                  mp.toString())
              .redirectErrorStream(true)
              .start();
      try {
        assertEquals(
            "ready",
            new BufferedReader(
                    new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8))
                .readLine());
        DiskRefusedException e =
            assertThrows(DiskRefusedException.class, () -> DiskAllocation.plan(g.file, false));
        assertTrue(
            e.problems()
                .get(0)
                .contains("mounted read-write at " + mp + " (in the mount namespace of process "),
            e.getMessage());
      } finally {
        holder.getOutputStream().close(); // its read ends: it unmounts and exits
        if (!holder.waitFor(30, TimeUnit.SECONDS)) {
          holder.destroyForcibly();
        }
      }
      assertEquals(
          Method.PARTCLONE_MAP, DiskAllocation.plan(g.file, false).partitions().get(0).method());
    }
  }

  @Test
  void aTablePastTheDisksEndIsRefusedEvenForced(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk");
    Path disk = dir.resolve("cut.img");
    try (RandomAccessFile r = new RandomAccessFile(disk.toFile(), "rw")) {
      r.setLength(64 * MIB);
    }
    GoldenDisk.run("sgdisk", "-n1:2048:0", disk.toString());
    try (RandomAccessFile r = new RandomAccessFile(disk.toFile(), "rw")) {
      r.setLength(32 * MIB);
    }
    DiskRefusedException e =
        assertThrows(DiskRefusedException.class, () -> DiskAllocation.plan(disk, true));
    assertTrue(
        e.getMessage()
            .contains("the partition table points past the disk's end: partition 1 ends at byte"),
        e.getMessage());
    assertTrue(e.getMessage().contains("fix the table with sfdisk or gdisk"), e.getMessage());
  }

  @Test
  void withoutPartcloneFilesystemsAreCarriedWholeWithAWarning(@TempDir Path dir) throws Exception {
    GoldenDisk.require("sgdisk", "losetup", "mkfs.ext4", "mkswap");
    try (GoldenDisk g = GoldenDisk.create(dir, 96, "-n1:2048:+32M", "-n2:0:+16M")) {
      GoldenDisk.run("mkfs.ext4", "-q", "-F", g.part(1));
      GoldenDisk.run("mkswap", g.part(2));
      Path tools = Files.createDirectories(dir.resolve("tools"));
      Files.createSymbolicLink(tools.resolve("losetup"), Path.of("/usr/sbin/losetup").toRealPath());
      DiskAllocation.Settings s =
          new DiskAllocation.Settings(Duration.ofMinutes(1), List.of(tools), Path.of("/proc"));
      DiskPlan plan = new DiskAllocation(s).planDisk(g.file, false);
      assertEquals(Method.WHOLE, plan.partitions().get(0).method());
      assertEquals(
          "partclone for ext4 not installed", plan.partitions().get(0).reason().orElseThrow());
      assertEquals(Method.SWAP_HEADER, plan.partitions().get(1).method());
      assertEquals(1, plan.warnings().size());
      assertTrue(
          plan.warnings().get(0).contains("apt-get install partclone"), plan.warnings().get(0));
      assertTrue(plan.describe().contains("warning: partclone is not installed"), plan.describe());
    }
  }

  @Test
  void aWholeDiskFilesystemIsOnePartitionAndBlankIsWhole(@TempDir Path dir) throws Exception {
    GoldenDisk.require("mkfs.ext4", "partclone.ext4", "losetup");
    Path fs = dir.resolve("fs.img");
    try (RandomAccessFile r = new RandomAccessFile(fs.toFile(), "rw")) {
      r.setLength(64 * MIB);
    }
    GoldenDisk.run("mkfs.ext4", "-q", "-F", fs.toString());
    DiskPlan plan = DiskAllocation.plan(fs, false);
    assertEquals("none", plan.table());
    assertEquals(0, plan.partitions().get(0).number());
    assertEquals(Method.PARTCLONE_MAP, plan.partitions().get(0).method(), plan.describe());
    assertTrue(plan.map().usedBytes() < 32 * MIB, plan.map().toString());
    Path blank = dir.resolve("blank.img");
    try (RandomAccessFile r = new RandomAccessFile(blank.toFile(), "rw")) {
      r.setLength(8 * MIB);
    }
    DiskPlan b = DiskAllocation.plan(blank, false);
    assertEquals(List.of(), b.partitions());
    assertEquals(AllocationMap.whole(8 * MIB), b.map());
    assertEquals(
        List.of(
            "no partition table and no filesystem clonecast knows at byte 0: the whole disk is carried"),
        b.warnings());
  }

  private static void assertFsck(GoldenDisk.Result r) {
    assertEquals(0, r.exit(), r.output());
  }

  /** Where the marked units of live and deleted files lie on a disk, against a map. */
  static final class Scan {
    long liveFound;
    long liveInMap;
    long deadFound;
    long deadInMap;

    static Scan of(Path disk, AllocationMap map) throws IOException {
      Scan s = new Scan();
      byte[] live = "CCLIVE:".getBytes(StandardCharsets.US_ASCII);
      byte[] dead = "CCDEAD;".getBytes(StandardCharsets.US_ASCII);
      List<AllocationMap.Extent> ext = new ArrayList<>(map.extents());
      try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
        ByteBuffer buf = ByteBuffer.allocate(8 << 20);
        for (long at = 0; at < ch.size(); at += buf.capacity()) {
          buf.clear();
          while (buf.hasRemaining() && ch.read(buf, at + buf.position()) > 0) {
            // fill
          }
          byte[] b = buf.array();
          for (int i = 0; i + GoldenDisk.UNIT <= buf.position(); i += GoldenDisk.UNIT) {
            boolean isLive = startsWith(b, i, live);
            boolean isDead = !isLive && startsWith(b, i, dead);
            if (!isLive && !isDead) {
              continue;
            }
            boolean in = inMap(ext, at + i);
            if (isLive) {
              s.liveFound++;
              s.liveInMap += in ? 1 : 0;
            } else {
              s.deadFound++;
              s.deadInMap += in ? 1 : 0;
            }
          }
        }
      }
      return s;
    }

    private static boolean startsWith(byte[] b, int at, byte[] prefix) {
      for (int i = 0; i < prefix.length; i++) {
        if (b[at + i] != prefix[i]) {
          return false;
        }
      }
      return true;
    }

    private static boolean inMap(List<AllocationMap.Extent> ext, long pos) {
      int lo = 0;
      int hi = ext.size() - 1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        AllocationMap.Extent e = ext.get(mid);
        if (pos < e.offset()) {
          hi = mid - 1;
        } else if (pos >= e.end()) {
          lo = mid + 1;
        } else {
          return true;
        }
      }
      return false;
    }
  }
}

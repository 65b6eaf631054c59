package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --grow} on a loop device 1.5 times the golden disk: the last partition is extended to the
 * new end (sgdisk finds no problem), and its filesystem is grown with the real tool and checks
 * clean. Needs root, losetup and the filesystem tools (skipped without root).
 */
class GrowTest {
  private static final long MIB = 1 << 20;

  private static String run(String... cmd) throws IOException, InterruptedException {
    return DiskCommands.run(cmd);
  }

  /**
   * The partition nodes --grow (and the identity step) reach: NVMe and MMC take a "p", SATA/SCSI
   * and virtio do not.
   */
  @Test
  void partitionNodesOfNvmeSataAndVirtioDisks() {
    assertEquals("/dev/nvme0n1p1", SystemMount.partitionNode("/dev/nvme0n1", 1));
    assertEquals("/dev/sda1", SystemMount.partitionNode("/dev/sda", 1));
    assertEquals("/dev/vda1", SystemMount.partitionNode("/dev/vda", 1));
    assertEquals("/dev/xvdb3", SystemMount.partitionNode("/dev/xvdb", 3));
    assertEquals("/dev/mmcblk0p2", SystemMount.partitionNode("/dev/mmcblk0", 2));
    assertEquals("/dev/loop7p12", SystemMount.partitionNode("/dev/loop7", 12));
  }

  @ParameterizedTest
  @ValueSource(strings = {"ext4", "xfs", "btrfs"})
  void theLastPartitionAndItsFilesystemFillALargerDisk(String fs, @TempDir Path dir)
      throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "needs root for loop devices");
    long golden = 400 * MIB; // xfs wants 300 MiB at least
    Path disk = dir.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(golden);
    }
    DiskCommands.sfdisk(disk, "label: gpt\nstart=2048, size=4096\nstart=6144\n");
    // The filesystem is made on the partition's bytes through a loop device at its offset, as on
    // the golden node.
    String part =
        run(
                "losetup",
                "--find",
                "--show",
                "--offset",
                Long.toString(6144 * 512L),
                "--sizelimit",
                Long.toString(golden - 6144 * 512L - 33 * 512),
                disk.toString())
            .trim();
    try {
      run(List.of("mkfs." + fs, fs.equals("ext4") ? "-q" : "-f", part).toArray(String[]::new));
    } finally {
      run("losetup", "-d", part);
    }
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(golden * 3 / 2); // the image written onto a disk 1.5 times as large
    }
    String loop = run("losetup", "--find", "--show", "--partscan", disk.toString()).trim();
    try {
      List<String> done = Grow.afterWrite(Path.of(loop), true, dir);
      assertTrue(
          done.get(0).contains("partition 2 grown to end at LBA " + (golden * 3 / 2 / 512 - 34)),
          done.toString());
      // Its node (loopNp2) where the kernel makes partition nodes, else a loop device at its
      // offset.
      assertTrue(done.get(1).startsWith(fs + " on partition 2 (/dev/loop"), done.toString());
      String verify = run("sgdisk", "-v", loop);
      assertTrue(verify.contains("No problems found"), verify);
      long partBytes = (golden * 3 / 2 / 512 - 34 - 6144 + 1) * 512;
      String node =
          run(
                  "losetup",
                  "--find",
                  "--show",
                  "--read-only",
                  "--offset",
                  Long.toString(6144 * 512L),
                  "--sizelimit",
                  Long.toString(partBytes),
                  loop)
              .trim();
      try {
        check(fs, node, partBytes, golden);
      } finally {
        run("losetup", "-d", node);
      }
    } finally {
      run("losetup", "-d", loop);
    }
  }

  /** The filesystem checks clean and fills the partition (to within its allocation unit). */
  private static void check(String fs, String node, long partBytes, long golden) throws Exception {
    long size;
    switch (fs) {
      case "ext4" -> {
        run("e2fsck", "-f", "-n", node);
        String h = run("dumpe2fs", "-h", node);
        size = number(h, "Block count:\\s+(\\d+)") * number(h, "Block size:\\s+(\\d+)");
      }
      case "xfs" -> {
        run("xfs_repair", "-n", node);
        String info = run("xfs_db", "-r", "-c", "info", node);
        Matcher m = Pattern.compile("data\\s+=\\s+bsize=(\\d+)\\s+blocks=(\\d+)").matcher(info);
        assertTrue(m.find(), info);
        size = Long.parseLong(m.group(1)) * Long.parseLong(m.group(2));
      }
      default -> {
        run("btrfs", "check", "--readonly", node);
        size =
            number(
                run("btrfs", "inspect-internal", "dump-super", node), "(?m)^total_bytes\\s+(\\d+)");
      }
    }
    assertTrue(
        size <= partBytes && size > partBytes - MIB,
        fs
            + " of "
            + size
            + " bytes on a partition of "
            + partBytes
            + " (the golden's was under "
            + golden
            + ")");
  }

  private static long number(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    assertTrue(m.find(), regex + " in " + text);
    return Long.parseLong(m.group(1));
  }
}

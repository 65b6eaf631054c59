package org.clonecast.agent.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.image.SourceDevice;
import org.clonecast.protocol.disk.Filesystem;
import org.clonecast.protocol.disk.FilesystemProbe;
import org.clonecast.protocol.disk.MalformedDiskException;
import org.clonecast.protocol.disk.PartitionTable;

/**
 * Grows a written disk's last partition and its filesystem to fill the disk: the partition with
 * {@link GptBackup} (GPT) or {@link #mbrPlan} (MBR, a primary partition), then the filesystem:
 * ext2/3/4 with {@code e2fsck -f} then {@code resize2fs}, XFS with {@code xfs_growfs} and btrfs
 * with {@code btrfs filesystem resize max} on a temporary mount (both grow only mounted). The
 * partition is reached as its node after the kernel re-reads the table ({@code /dev/sda3}, {@code
 * /dev/nvme0n1p3}, {@code /dev/vda3}, {@code /dev/loop0p3}: {@link SystemMount#partitionNode}), or
 * through a loop device at its offset when no node appears (a disk image file, a loop device
 * without partition scanning). The tools are in the netboot environment (bootenv: e2fsprogs,
 * xfsprogs, btrfs-progs). Needs root. Stateless.
 */
public final class Grow {
  private Grow() {}

  /**
   * What follows writing an image to {@code disk}: its backup GPT is moved to the disk's end (a
   * larger or smaller disk than the image's), and with {@code grow} its last partition and that
   * partition's filesystem are grown to fill the disk.
   *
   * @return one line per thing done, for the agent's log
   * @throws IOException when a disk operation or tool fails
   * @throws IllegalArgumentException when the image's GPT is damaged (then nothing is changed)
   */
  public static List<String> afterWrite(Path disk, boolean grow, Path workDir) throws IOException {
    List<String> done = new ArrayList<>();
    Optional<String> gpt = GptBackup.moveToEnd(disk, grow);
    gpt.ifPresent(done::add);
    boolean grown = gpt.isPresent() && gpt.get().contains(" grown ");
    if (grow && gpt.isEmpty()) {
      byte[] head = SystemMount.readAt(disk, 0, PartitionTable.HEAD_BYTES);
      Optional<GptBackup.Write> mbr = mbrPlan(head, diskSize(disk));
      if (mbr.isPresent()) {
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.WRITE)) {
          ch.write(ByteBuffer.wrap(mbr.get().bytes()), 0);
          ch.force(true);
        }
        done.add("MBR: last partition grown to the disk's end");
        grown = true;
      }
    }
    if (grown) lastFilesystem(disk, workDir).ifPresent(done::add);
    return done;
  }

  private static long diskSize(Path disk) throws IOException {
    try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
      return SourceDevice.size(disk, ch);
    }
  }

  /**
   * Grows the filesystem on the partition of {@code disk} that ends last.
   *
   * @return what was done, for the agent's log; empty when there is no partition table
   * @throws IOException naming the tool that failed and its output
   */
  public static Optional<String> lastFilesystem(Path disk, Path workDir) throws IOException {
    byte[] head = SystemMount.readAt(disk, 0, PartitionTable.HEAD_BYTES);
    Optional<PartitionTable> table;
    try {
      table = PartitionTable.parse(head);
    } catch (MalformedDiskException e) {
      throw new IOException("the partition table of " + disk + " is damaged: " + e.getMessage(), e);
    }
    if (table.isEmpty() || table.get().partitions().isEmpty()) return Optional.empty();
    PartitionTable.Partition last =
        table.get().partitions().stream()
            .max(Comparator.comparingLong(PartitionTable.Partition::end))
            .orElseThrow();
    Filesystem fs = FilesystemProbe.probe(SystemMount.readAt(disk, last.offset(), 128 * 1024));
    boolean file = Files.isRegularFile(disk, LinkOption.NOFOLLOW_LINKS);
    List<String> loops = new ArrayList<>();
    try {
      String node;
      String real = disk.toRealPath().toString();
      String candidate = null;
      if (!file) {
        try {
          SystemMount.run(
              "blockdev", "--rereadpt", real); // the kernel must see the grown partition
          candidate = SystemMount.awaitNode(SystemMount.partitionNode(real, last.number()));
        } catch (IOException e) {
          // A device without partition scanning (a loop device set up without --partscan) refuses
          // the re-read: reach the partition through a loop device at its offset instead.
        }
      }
      if (candidate != null) {
        node = candidate;
      } else {
        node =
            SystemMount.run(
                    "losetup",
                    "--find",
                    "--show",
                    "--offset",
                    Long.toString(last.offset()),
                    "--sizelimit",
                    Long.toString(last.size()),
                    real)
                .trim();
        loops.add(node);
      }
      String what = "partition " + last.number() + " (" + node + ", " + last.size() + " bytes)";
      if (fs instanceof Filesystem.Ext) {
        fsck(node);
        SystemMount.run("resize2fs", node);
        return Optional.of("ext4 on " + what + " grown with resize2fs");
      }
      if (fs instanceof Filesystem.Xfs) {
        onMount(node, "xfs", workDir, mnt -> SystemMount.run("xfs_growfs", mnt.toString()));
        return Optional.of("xfs on " + what + " grown with xfs_growfs");
      }
      if (fs instanceof Filesystem.Btrfs) {
        onMount(
            node,
            "btrfs",
            workDir,
            mnt -> SystemMount.run("btrfs", "filesystem", "resize", "max", mnt.toString()));
        return Optional.of("btrfs on " + what + " grown with btrfs filesystem resize max");
      }
      return Optional.of(
          what
              + " grown; its filesystem ("
              + fs.getClass().getSimpleName().toLowerCase()
              + ") is left at its size:"
              + " clonecast grows ext2/3/4, xfs and btrfs");
    } finally {
      for (String l : loops) SystemMount.run("losetup", "-d", l);
    }
  }

  /**
   * The MBR sector with its last primary partition extended to the end of a disk of {@code
   * diskBytes} (at most 2^32 - 1 sectors, MBR's limit); empty when it is not MBR, already fills the
   * disk, or ends with a logical partition (not grown).
   */
  public static Optional<GptBackup.Write> mbrPlan(byte[] head, long diskBytes) {
    Optional<PartitionTable> t;
    try {
      t = PartitionTable.parse(head);
    } catch (MalformedDiskException e) {
      return Optional.empty();
    }
    if (t.isEmpty()
        || t.get().scheme() != PartitionTable.Scheme.MBR
        || t.get().partitions().isEmpty()) return Optional.empty();
    PartitionTable.Partition last =
        t.get().partitions().stream()
            .max(Comparator.comparingLong(PartitionTable.Partition::end))
            .orElseThrow();
    if (last.number() > 4 || last.extended()) return Optional.empty();
    long start = last.offset() / 512;
    long want = Math.min(diskBytes / 512 - start, 0xFFFFFFFFL);
    if (want <= last.size() / 512) return Optional.empty();
    byte[] mbr = Arrays.copyOf(head, 512);
    int e = 446 + 16 * (last.number() - 1);
    ByteBuffer.wrap(mbr)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putInt(e + 12, (int) want); // number of sectors
    return Optional.of(new GptBackup.Write(0, mbr));
  }

  /**
   * e2fsck -f -p: 0 clean, 1 errors corrected; anything else is a filesystem resize2fs must not
   * touch.
   */
  private static void fsck(String node) throws IOException {
    Process p = new ProcessBuilder("e2fsck", "-f", "-p", node).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    try {
      if (!p.waitFor(30, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new IOException("e2fsck -f -p " + node + " did not finish in 30 minutes");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: e2fsck " + node, e);
    }
    if (p.exitValue() > 1)
      throw new IOException(
          "e2fsck -f -p " + node + " failed (exit " + p.exitValue() + "): " + out.trim());
  }

  private interface OnMount {
    void run(Path mountPoint) throws IOException;
  }

  private static void onMount(String node, String type, Path workDir, OnMount action)
      throws IOException {
    Path mnt = Files.createTempDirectory(workDir, "clonecast-grow");
    try {
      SystemMount.run("mount", "-t", type, node, mnt.toString());
      try {
        action.run(mnt);
      } finally {
        SystemMount.run("umount", mnt.toString());
      }
    } finally {
      Files.deleteIfExists(mnt);
    }
  }
}

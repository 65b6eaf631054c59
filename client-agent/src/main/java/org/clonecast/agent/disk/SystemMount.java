package org.clonecast.agent.disk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.clonecast.protocol.disk.Filesystem;
import org.clonecast.protocol.disk.FilesystemProbe;
import org.clonecast.protocol.disk.MalformedDiskException;
import org.clonecast.protocol.disk.PartitionTable;

/**
 * Mounts the root filesystem of a just-written disk so its identity can be fixed: reads the
 * partition table, tries the partitions that hold an ext2/3/4 filesystem (Linux types first) and
 * keeps the first with an {@code /etc}; a disk without a table is tried whole. A partition of a
 * regular file (a disk image, as in the lab) is reached through a loop device at the partition's
 * offset; so is one of a block device whose partition node does not appear after the rescan (some
 * kernels and loop setups do not scan partitions). {@link #close} unmounts, detaches the loop
 * devices and removes the mount point, on every path.
 *
 * <p>Uses mount(8), umount(8), losetup(8) and blockdev(8), which busybox provides in the netboot
 * environment. Needs root. Not thread-safe.
 */
public final class SystemMount implements AutoCloseable {
  private static final long COMMAND_SECONDS = 60;

  private final Path mountPoint;
  private final List<String> loops = new ArrayList<>();
  private boolean mounted;
  private String device = "";

  private SystemMount(Path mountPoint) {
    this.mountPoint = mountPoint;
  }

  /**
   * @param target the written disk: a block device or a disk image file
   * @param workDir where the mount point directory is made
   * @throws IOException naming what was tried when no partition holds a Linux root filesystem
   */
  public static SystemMount open(Path target, Path workDir) throws IOException {
    SystemMount m = new SystemMount(Files.createTempDirectory(workDir, "clonecast-root"));
    try {
      m.mountRoot(target);
      return m;
    } catch (IOException | RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /** The mounted root filesystem. */
  public Path root() {
    return mountPoint;
  }

  /** The partition (or disk) mounted, e.g. /dev/sda2 or /dev/loop0p2. */
  public String device() {
    return device;
  }

  private void mountRoot(Path target) throws IOException {
    byte[] head = readAt(target, 0, PartitionTable.HEAD_BYTES);
    Optional<PartitionTable> table;
    try {
      table = PartitionTable.parse(head);
    } catch (MalformedDiskException e) {
      throw new IOException(
          "the partition table written to " + target + " is damaged: " + e.getMessage(), e);
    }
    boolean file = Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS);
    String disk = target.toRealPath().toString();
    if (!file) {
      // The kernel still has the old table in memory: make it read the one just written.
      run("blockdev", "--rereadpt", disk);
    }
    List<String> tried = new ArrayList<>();
    if (table.isEmpty() || table.get().partitions().isEmpty()) {
      if (tryMount(file ? attach(disk, 0, 0) : disk, tried)) return;
    } else {
      List<PartitionTable.Partition> parts = new ArrayList<>(table.get().partitions());
      parts.sort(
          (a, b) -> Boolean.compare(b.linux(), a.linux())); // Linux types first, else table order
      for (PartitionTable.Partition p : parts) {
        if (!(FilesystemProbe.probe(readAt(target, p.offset(), 2048)) instanceof Filesystem.Ext)) {
          tried.add("partition " + p.number() + " (no ext2/3/4 filesystem)");
          continue;
        }
        String node = file ? null : awaitNode(partitionNode(disk, p.number()));
        if (tryMount(node != null ? node : attach(disk, p.offset(), p.size()), tried)) return;
      }
    }
    throw new IOException(
        "no Linux root filesystem on "
            + target
            + " ("
            + table.map(t -> t.scheme().toString()).orElse("no partition table")
            + "; tried "
            + (tried.isEmpty() ? "nothing" : String.join(", ", tried))
            + "); clonecast fixes the identity of ext2/3/4 roots");
  }

  private boolean tryMount(String dev, List<String> tried) throws IOException {
    try {
      run("mount", "-t", "ext4", dev, mountPoint.toString());
    } catch (IOException e) {
      tried.add(dev + " (" + e.getMessage() + ")");
      return false;
    }
    mounted = true;
    if (Files.isDirectory(mountPoint.resolve("etc"), LinkOption.NOFOLLOW_LINKS)) {
      device = dev;
      return true;
    }
    tried.add(dev + " (no /etc: not a root filesystem)");
    unmount();
    return false;
  }

  /**
   * /dev/sda + 2 = /dev/sda2; a name ending in a digit takes a "p": /dev/nvme0n1p2, /dev/loop0p2.
   */
  static String partitionNode(String disk, int number) {
    return disk + (Character.isDigit(disk.charAt(disk.length() - 1)) ? "p" : "") + number;
  }

  /**
   * A loop device over {@code size} bytes (0: to the end) of {@code backing} from {@code offset}.
   */
  private String attach(String backing, long offset, long size) throws IOException {
    List<String> cmd =
        new ArrayList<>(List.of("losetup", "--find", "--show", "--offset", Long.toString(offset)));
    if (size > 0) cmd.addAll(List.of("--sizelimit", Long.toString(size)));
    cmd.add(backing);
    String dev = run(cmd.toArray(String[]::new)).trim();
    loops.add(dev);
    return dev;
  }

  /**
   * devtmpfs creates partition nodes asynchronously after a rescan; wait a little for them.
   *
   * @return null if none appeared (the caller reaches the partition through a loop device)
   */
  static String awaitNode(String node) throws IOException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    while (!Files.exists(Path.of(node))) {
      if (System.nanoTime() > end) return null;
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted waiting for " + node, e);
      }
    }
    return node;
  }

  static byte[] readAt(Path p, long offset, int n) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "r")) {
      byte[] b = new byte[n];
      f.seek(offset);
      int got = 0;
      while (got < n) {
        int r = f.read(b, got, n - got);
        if (r < 0) break;
        got += r;
      }
      return got == n ? b : Arrays.copyOf(b, got);
    }
  }

  private void unmount() throws IOException {
    if (mounted) {
      run("umount", mountPoint.toString());
      mounted = false;
    }
  }

  /** Runs a command; its exit status other than 0 is an IOException with its output. */
  static String run(String... cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(COMMAND_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(
            String.join(" ", cmd) + " did not finish in " + COMMAND_SECONDS + " s");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + String.join(" ", cmd), e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(
          String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out.trim());
    }
    return out;
  }

  /**
   * Flushes and unmounts; detaches the loop device; removes the mount point. Failures are
   * collected, not hidden.
   */
  @Override
  public void close() throws IOException {
    IOException first = null;
    try {
      if (mounted) run("sync");
      unmount();
    } catch (IOException e) {
      first = e;
    }
    for (String l : loops) {
      try {
        run("losetup", "-d", l);
      } catch (IOException e) {
        if (first == null) first = e;
      }
    }
    loops.clear();
    if (!mounted) Files.deleteIfExists(mountPoint);
    if (first != null) throw first;
  }
}

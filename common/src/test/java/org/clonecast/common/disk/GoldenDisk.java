package org.clonecast.common.disk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.clonecast.protocol.disk.PartitionTable;
import org.clonecast.protocol.image.AllocationMap;
import org.junit.jupiter.api.Assumptions;

/**
 * Disks made with the real tools for the capture tests: partitioned with sgdisk, each partition
 * attached as a loop device at its offset (partition scanning of loop devices is not available
 * everywhere: not in our CI's VMs), formatted with mkfs, filled through a mount with files whose
 * every 512-byte unit names itself ("CCLIVE:tag:file:unit;"), and with "deleted" files ("CCDEAD:")
 * written and removed. Every loop device and mount is undone by {@link #close}.
 *
 * <p>Not thread-safe.
 */
final class GoldenDisk implements AutoCloseable {
  static final int UNIT = 512;
  private static final long MIB = 1L << 20;

  final Path file;
  private final Map<Integer, String> parts = new TreeMap<>();
  private final List<String> loops = new ArrayList<>();
  private final List<Path> mounts = new ArrayList<>();

  private GoldenDisk(Path file) {
    this.file = file;
  }

  /** Fails in CI, skips elsewhere, when a tool is missing or the test is not root. */
  static void require(String... tools) {
    List<String> missing = new ArrayList<>();
    for (String t : tools) {
      if (List.of("/usr/sbin", "/usr/bin", "/sbin", "/bin").stream()
          .noneMatch(d -> Files.isExecutable(Path.of(d, t)))) {
        missing.add(t);
      }
    }
    String why =
        !missing.isEmpty()
            ? String.join(", ", missing) + " not installed (scripts/install-deps.sh installs them)"
            : !"root".equals(System.getProperty("user.name"))
                ? "not root: loop devices and mounts need root"
                : null;
    if (why != null) {
      if ("true".equals(System.getenv("CI"))) {
        fail(why);
      }
      Assumptions.abort(why);
    }
  }

  /** A sparse disk file of {@code sizeMib}, partitioned by {@code sgdisk ARGS}. */
  static GoldenDisk create(Path dir, long sizeMib, String... sgdisk) throws IOException {
    Path f = sparse(dir, sizeMib);
    List<String> cmd = new ArrayList<>(List.of("sgdisk"));
    cmd.addAll(List.of(sgdisk));
    cmd.add(f.toString());
    run(cmd.toArray(String[]::new));
    return new GoldenDisk(f);
  }

  /**
   * A sparse disk file of {@code sizeMib} with an MBR written by {@code sfdisk} from {@code
   * script}.
   */
  static GoldenDisk createMbr(Path dir, long sizeMib, String script) throws IOException {
    Path f = sparse(dir, sizeMib);
    runWithInput(script, "sfdisk", "--no-reread", "--no-tell-kernel", f.toString());
    return new GoldenDisk(f);
  }

  private static Path sparse(Path dir, long sizeMib) throws IOException {
    Path f = dir.resolve("disk.img");
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.setLength(sizeMib * MIB);
    }
    return f;
  }

  /** An existing disk file; its partitions are attached when asked for. */
  static GoldenDisk attach(Path f) {
    return new GoldenDisk(f);
  }

  /** A loop device over the whole disk. */
  String wholeLoop() {
    String loop = run("losetup", "--find", "--show", file.toString()).strip();
    loops.add(loop);
    return loop;
  }

  /** A loop device over partition {@code n} (from the disk's partition table), attached once. */
  String part(int n) throws IOException {
    String dev = parts.get(n);
    if (dev == null) {
      byte[] head = new byte[PartitionTable.HEAD_BYTES];
      try (RandomAccessFile r = new RandomAccessFile(file.toFile(), "r")) {
        r.readFully(head);
      }
      List<PartitionTable.Partition> all = new ArrayList<>();
      for (PartitionTable.Partition p : PartitionTable.parse(head).orElseThrow().partitions()) {
        all.add(p);
        if (p.extended()) {
          all.addAll(PartitionTable.logicalPartitions(p, at -> read(at, 512)));
        }
      }
      PartitionTable.Partition p =
          all.stream().filter(x -> x.number() == n).findFirst().orElseThrow();
      dev =
          run(
                  "losetup",
                  "--find",
                  "--show",
                  "--offset",
                  Long.toString(p.offset()),
                  "--sizelimit",
                  Long.toString(p.size()),
                  file.toString())
              .strip();
      loops.add(dev);
      parts.put(n, dev);
    }
    return dev;
  }

  private byte[] read(long at, int n) throws IOException {
    try (RandomAccessFile r = new RandomAccessFile(file.toFile(), "r")) {
      byte[] b = new byte[n];
      r.seek(at);
      r.readFully(b);
      return b;
    }
  }

  /**
   * Mounts partition {@code n} in this (the host's) mount namespace, for tests that need the mount
   * seen in /proc/self/mounts. A namespace another process creates meanwhile (ip netns exec,
   * unshare: the lab's VMs) copies it and may hold the filesystem after {@link #umount}: tests that
   * need the filesystem cleanly unmounted write through {@link #inPrivateMount} instead.
   */
  Path mount(int n, Path dir, String... options) throws IOException {
    Path mp = Files.createDirectories(dir.resolve("mnt" + n + "-" + mounts.size()));
    List<String> cmd = new ArrayList<>(List.of("mount"));
    if (options.length > 0) {
      cmd.addAll(List.of("-o", String.join(",", options)));
    }
    cmd.addAll(List.of(part(n), mp.toString()));
    run(cmd.toArray(String[]::new));
    mounts.add(mp);
    return mp;
  }

  void umount(Path mp) {
    run("umount", mp.toString());
    mounts.remove(mp);
  }

  @Override
  public void close() {
    Throwable first = null;
    for (Path mp : List.copyOf(mounts)) {
      try {
        umount(mp);
      } catch (RuntimeException | AssertionError e) {
        runAnyExit("umount", "-l", mp.toString());
        first = first == null ? e : first;
      }
    }
    for (String loop : loops) {
      Result r = runAnyExit("losetup", "-d", loop);
      if (r.exit() != 0 && first == null) {
        first = new AssertionError("losetup -d " + loop + ": " + r.output());
      }
    }
    if (first instanceof RuntimeException e) {
      throw e;
    }
    if (first != null) {
      throw (AssertionError) first;
    }
  }

  /**
   * Runs {@code script} (sh) with partition {@code n} mounted at its working directory, in a mount
   * namespace of its own: no other process can copy the mount, so when the script ends the
   * filesystem is unmounted for good (its ext4 journal clean). {@code $S} is {@code staging}.
   */
  void inPrivateMount(int n, Path staging, String options, String script) throws IOException {
    Path mp = Files.createDirectories(staging.resolve("private-mnt"));
    run(
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-euc",
        "mount -o \"$3\" \"$1\" \"$2\"; cd \"$2\"; S=\"$4\"; ( "
            + script
            + " ); cd /; umount \"$2\"",
        "sh",
        part(n),
        mp.toString(),
        options,
        staging.toString());
  }

  /**
   * Fills partition {@code n}: live files {@code TAG-i.dat}, a "deleted" file of {@code deleted}
   * bytes written, synced and removed, then live files {@code TAG-late-i.dat} (which may reuse the
   * deleted file's blocks).
   */
  void fill(int n, Path staging, String tag, int files, int units, long deleted)
      throws IOException {
    Path live = Files.createDirectories(staging.resolve(tag));
    Path late = Files.createDirectories(staging.resolve(tag + "-late"));
    writeLive(live, tag, files, units);
    writeLive(late, tag + "-late", files, units);
    Path unit = deadUnit(staging);
    inPrivateMount(
        n,
        staging,
        "rw",
        "cp \""
            + live
            + "\"/* .; i=0; while [ $i -lt "
            + deleted / (1 << 20)
            + " ]; do cat \""
            + unit
            + "\"; i=$((i + 1)); done > deleted.dat; sync -f deleted.dat; rm deleted.dat; sync -f .; cp \""
            + late
            + "\"/* .");
  }

  /** Copies partition {@code n}'s files out (mounted read-only) to {@code staging/out-n}. */
  Path copyOut(int n, Path staging) throws IOException {
    Path out = Files.createDirectories(staging.resolve("out-" + n));
    inPrivateMount(n, staging, "ro", "cp -r . \"" + out + "\"");
    return out;
  }

  /** One MiB of units marked "CCDEAD;", at {@code staging/dead-unit.bin}. */
  static Path deadUnit(Path staging) throws IOException {
    byte[] unit = new byte[1 << 20];
    for (int i = 0; i < unit.length; i += UNIT) {
      System.arraycopy("CCDEAD;".getBytes(StandardCharsets.US_ASCII), 0, unit, i, 7);
    }
    return Files.write(staging.resolve("dead-unit.bin"), unit);
  }

  /** The content of live file {@code file} of {@code units} units with {@code tag}. */
  static byte[] live(String tag, int file, int units) {
    byte[] b = new byte[units * UNIT];
    for (int u = 0; u < units; u++) {
      byte[] h = ("CCLIVE:" + tag + ":" + file + ":" + u + ";").getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(h, 0, b, u * UNIT, h.length);
      for (int i = h.length; i < UNIT; i++) {
        b[u * UNIT + i] = (byte) ('a' + (file * 7 + u * 13 + i) % 26);
      }
    }
    return b;
  }

  /** Writes {@code files} live files of {@code units} units each under {@code dir}. */
  static void writeLive(Path dir, String tag, int files, int units) throws IOException {
    for (int f = 0; f < files; f++) {
      Files.write(dir.resolve(tag + "-" + f + ".dat"), live(tag, f, units));
    }
  }

  /** Checks every live file under {@code dir} against what {@link #writeLive} wrote. */
  static void checkLive(Path dir, String tag, int files, int units) throws IOException {
    for (int f = 0; f < files; f++) {
      assertArrayEquals(
          live(tag, f, units),
          Files.readAllBytes(dir.resolve(tag + "-" + f + ".dat")),
          tag + " file " + f);
    }
  }

  /**
   * {@link #writeLive} then {@link #writeDeleted} and again {@link #writeLive} ("-late") on FAT
   * partition {@code dev} through mtools: not every kernel has vfat (our CI's has not).
   */
  static void fillFat(String dev, Path staging, String tag, int files, int units, long deleted)
      throws IOException {
    Path in = Files.createDirectories(staging.resolve("fat-in"));
    writeLive(in, tag, files, units);
    for (int f = 0; f < files; f++) {
      run("mcopy", "-i", dev, in.resolve(tag + "-" + f + ".dat").toString(), "::/");
    }
    Path dead = in.resolve("deleted.dat");
    byte[] unit = Files.readAllBytes(deadUnit(staging));
    try (OutputStream out = Files.newOutputStream(dead)) {
      for (long done = 0; done < deleted; done += unit.length) {
        out.write(unit);
      }
    }
    run("mcopy", "-i", dev, dead.toString(), "::/");
    run("mdel", "-i", dev, "::/deleted.dat");
    writeLive(in, tag + "-late", files, units);
    for (int f = 0; f < files; f++) {
      run("mcopy", "-i", dev, in.resolve(tag + "-late-" + f + ".dat").toString(), "::/");
    }
  }

  /** {@link #checkLive} for a FAT partition read through mtools. */
  static void checkFat(String dev, Path staging, String tag, int files, int units)
      throws IOException {
    Path out = Files.createDirectories(staging.resolve("fat-out-" + tag));
    for (int f = 0; f < files; f++) {
      run("mcopy", "-i", dev, "::/" + tag + "-" + f + ".dat", out.toString());
    }
    checkLive(out, tag, files, units);
  }

  /**
   * A copy of the disk holding only the bytes of {@code map} (zeros elsewhere): what a clone
   * receives.
   */
  static Path restore(Path disk, AllocationMap map, Path to) throws IOException {
    try (FileChannel in = FileChannel.open(disk, StandardOpenOption.READ);
        FileChannel out =
            FileChannel.open(to, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (AllocationMap.Extent e : map.extents()) {
        long done = 0;
        while (done < e.length()) {
          done +=
              in.transferTo(e.offset() + done, e.length() - done, out.position(e.offset() + done));
        }
      }
      try (RandomAccessFile r = new RandomAccessFile(to.toFile(), "rw")) {
        r.setLength(map.diskSize());
      }
    }
    return to;
  }

  /** Runs a command to its end (120 s at most); a non-zero exit fails the test with its output. */
  static String run(String... cmd) {
    return runWithInput(null, cmd);
  }

  record Result(int exit, String output) {}

  static Result runAnyExit(String... cmd) {
    return exec(null, cmd);
  }

  static String runWithInput(String stdin, String... cmd) {
    Result r = exec(stdin, cmd);
    if (r.exit() != 0) {
      fail(String.join(" ", cmd) + " exited " + r.exit() + ": " + r.output());
    }
    return r.output();
  }

  private static Result exec(String stdin, String... cmd) {
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment()
          .put("MTOOLS_SKIP_CHECK", "1"); // mtools on a partition whose size is no floppy geometry
      Process p = pb.start();
      if (stdin != null) {
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
      }
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail(String.join(" ", cmd) + " did not finish in 120 s");
      }
      return new Result(p.exitValue(), out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}

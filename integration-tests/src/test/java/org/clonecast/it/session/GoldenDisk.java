package org.clonecast.it.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The golden disk of the session tests and how their written copies are read back: a 64 MiB GPT
 * disk image with one ext4 root partition (a Debian-like /etc and a data file), built with sfdisk
 * and {@code mkfs.ext4 -d}; files of a copy are read with debugfs through a read-only loop device
 * at the root partition's offset. Needs root (losetup).
 */
final class GoldenDisk {
  static final long ROOT_START = 2048;
  static final long ROOT_SECTORS = 62 * 2048; // 62 MiB of a 64 MiB disk, ending on a MiB boundary
  /** The data file in the root filesystem. */
  static final String DATA = "/home/admin/dataset.bin";

  private GoldenDisk() {}

  /** Writes {@code dir/golden.img} with {@code dataMib} MiB of seeded random data in {@link #DATA}. */
  static Path create(Path dir, int dataMib, long seed) throws Exception {
    Path tree = dir.resolve("tree");
    Files.createDirectories(tree.resolve("etc/ssh"));
    Files.createDirectories(tree.resolve("home/admin"));
    Files.writeString(tree.resolve("etc/hostname"), "golden\n");
    Files.writeString(tree.resolve("etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 golden\n");
    Files.writeString(tree.resolve("etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
    Files.writeString(tree.resolve("etc/ssh/ssh_host_ed25519_key"), "golden secret\n");
    byte[] data = new byte[dataMib << 20];
    new Random(seed).nextBytes(data);
    Files.write(tree.resolve(DATA.substring(1)), data);
    Path disk = dir.resolve("golden.img");
    run("truncate", "-s", "64M", disk.toString());
    Process p = new ProcessBuilder("sfdisk", "-q", disk.toString()).redirectErrorStream(true).start();
    p.getOutputStream().write(("label: gpt\nstart=" + ROOT_START + ", size=" + ROOT_SECTORS
        + ", type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n").getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    run("mkfs.ext4", "-q", "-F", "-d", tree.toString(), "-E", "offset=" + ROOT_START * 512, disk.toString(), ROOT_SECTORS / 2 + "k");
    return disk;
  }

  /** A file of the root filesystem of {@code disk}. */
  static String cat(Path disk, String file) throws Exception {
    String loop = attach(disk);
    try {
      return run("debugfs", "-R", "cat " + file, loop).replaceFirst("(?s)^debugfs [^\\n]*\\n", "");
    } finally {
      run("losetup", "-d", loop);
    }
  }

  /** SHA-256 of a file of the root filesystem of {@code disk}, dumped into {@code work}. */
  static String sha(Path disk, String file, Path work) throws Exception {
    Path out = Files.createTempFile(work, "dump", ".bin");
    String loop = attach(disk);
    try {
      Files.delete(out);
      run("debugfs", "-R", "dump " + file + " " + out, loop);
      return run("sha256sum", out.toString()).split(" ")[0];
    } finally {
      run("losetup", "-d", loop);
      Files.deleteIfExists(out);
    }
  }

  /** The disk's GUID and its partitions (start, size, type, UUID), not the disk's size. */
  static String partitions(Path disk) throws Exception {
    StringBuilder sb = new StringBuilder();
    for (String line : run("sfdisk", "--dump", disk.toString()).split("\n")) {
      if (line.startsWith("label-id:")) sb.append(line.trim()).append('\n');
      int colon = line.indexOf(" : ");
      if (colon > 0) sb.append(line.substring(colon + 3).trim()).append('\n');
    }
    assertTrue(sb.toString().contains("start="), "no partition in " + disk);
    return sb.toString();
  }

  private static String attach(Path disk) throws Exception {
    return run("losetup", "--find", "--show", "--read-only", "--offset", Long.toString(ROOT_START * 512), disk.toString()).trim();
  }

  /** Runs a host command (no network); returns its output; fails unless it exits 0 within 120 s. */
  static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
    return out;
  }
}

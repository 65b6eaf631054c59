package org.clonecast.it.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Disk images as a golden node's disk looks: a GPT made by sfdisk with an ext4 root filled by
 * mkfs.ext4 from a directory tree (no mounting, no loop devices to build one), and reads of the
 * written root filesystem with debugfs through a read-only loop device at the root's offset.
 *
 * @param rootStart the root partition's first sector
 * @param rootSectors its size, ending on a MiB boundary before the backup GPT (as sfdisk would)
 * @param espSectors an EFI system partition before the root (from sector 2048), 0 for none
 */
public record GoldenDisks(long rootStart, long rootSectors, long espSectors) {
  /** 64 MiB: a root from 1 MiB to 63 MiB, no ESP. */
  public static final GoldenDisks PLAIN = new GoldenDisks(2048, 62 * 2048, 0);

  /** 64 MiB: an 8 MiB ESP, then a 54 MiB root. */
  public static final GoldenDisks WITH_ESP = new GoldenDisks(18432, 54 * 2048, 16384);

  /**
   * A golden node's /etc, with what must not be cloned: its name, machine-id, host keys, net rules.
   */
  public static Path goldenTree(Path dir) throws IOException {
    Path tree = dir.resolve("tree");
    Files.createDirectories(tree.resolve("etc/ssh"));
    Files.createDirectories(tree.resolve("etc/udev/rules.d"));
    Files.writeString(tree.resolve("etc/hostname"), "golden\n");
    Files.writeString(tree.resolve("etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 golden\n");
    Files.writeString(tree.resolve("etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
    Files.writeString(tree.resolve("etc/ssh/ssh_host_ed25519_key"), "golden secret\n");
    Files.writeString(tree.resolve("etc/ssh/ssh_host_rsa_key"), "golden secret\n");
    Files.writeString(tree.resolve("etc/udev/rules.d/70-persistent-net.rules"), "# golden MACs\n");
    return tree;
  }

  /** Writes a 64 MiB disk image {@code disk} holding {@code tree} in its ext4 root. */
  public Path build(Path tree, Path disk) throws IOException, InterruptedException {
    run("truncate", "-s", "64M", disk.toString());
    String table =
        "label: gpt\n"
            + (espSectors > 0
                ? "start=2048, size=" + espSectors + ", type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
                : "")
            + "start="
            + rootStart
            + ", size="
            + rootSectors
            + ", type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n";
    Process p =
        new ProcessBuilder("sfdisk", "-q", disk.toString()).redirectErrorStream(true).start();
    p.getOutputStream().write(table.getBytes(StandardCharsets.US_ASCII));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "sfdisk hung");
    assertEquals(0, p.exitValue(), "sfdisk: " + out);
    run(
        "mkfs.ext4",
        "-q",
        "-F",
        "-d",
        tree.toString(),
        "-E",
        "offset=" + rootStart * 512,
        disk.toString(),
        rootSectors / 2 + "k");
    return disk;
  }

  /**
   * Runs a debugfs request on the root filesystem of {@code disk}, read-only; returns its output.
   */
  public String debugfs(Path disk, String request) throws IOException, InterruptedException {
    String loop = rootLoop(disk, false);
    try {
      return run("debugfs", "-R", request, loop).replaceFirst("(?s)^debugfs [^\\n]*\\n", "");
    } finally {
      run("losetup", "-d", loop);
    }
  }

  /**
   * Checks that the root of a golden disk written onto the larger {@code disk} (a file of {@code
   * diskBytes}) was grown: the GPT is valid with its backup at the end, the root partition ends
   * just before it, its ext4 fills the partition and checks clean.
   *
   * @return the grown disk's layout, to read its root
   */
  public GoldenDisks assertGrown(Path disk, long diskBytes)
      throws IOException, InterruptedException {
    String verify = run("sgdisk", "-v", disk.toString());
    assertTrue(verify.contains("No problems found"), verify);
    long rootEnd = diskBytes / 512 - 34;
    String dump = run("sfdisk", "--dump", disk.toString());
    assertTrue(
        dump.contains(
            "start="
                + String.format("%12d", rootStart)
                + ", size="
                + String.format("%12d", rootEnd - rootStart + 1)),
        dump);
    GoldenDisks grown = new GoldenDisks(rootStart, rootEnd - rootStart + 1, espSectors);
    String super0 = grown.debugfs(disk, "stats");
    Matcher blocks = Pattern.compile("Block count:\\s+(\\d+)").matcher(super0);
    Matcher bsize = Pattern.compile("Block size:\\s+(\\d+)").matcher(super0);
    assertTrue(blocks.find() && bsize.find(), super0);
    long fsBytes = Long.parseLong(blocks.group(1)) * Long.parseLong(bsize.group(1));
    long partBytes = (rootEnd - rootStart + 1) * 512;
    assertTrue(
        fsBytes <= partBytes && fsBytes > partBytes - (1 << 20),
        "ext4 of " + fsBytes + " bytes fills the partition of " + partBytes);
    grown.fsck(disk);
    return grown;
  }

  /** A read-only loop device at the root's offset, ending with the root when {@code sized}. */
  private String rootLoop(Path disk, boolean sized) throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "losetup", "--find", "--show", "--read-only", "--offset", "" + rootStart * 512));
    if (sized) cmd.addAll(List.of("--sizelimit", Long.toString(rootSectors * 512)));
    cmd.add(disk.toString());
    return run(cmd.toArray(String[]::new)).trim();
  }

  /** e2fsck -fn on the root partition of {@code disk}: clean. */
  public void fsck(Path disk) throws IOException, InterruptedException {
    String loop = rootLoop(disk, true);
    try {
      run("e2fsck", "-f", "-n", loop);
    } finally {
      run("losetup", "-d", loop);
    }
  }

  /** A file of the root filesystem. */
  public String cat(Path disk, String file) throws IOException, InterruptedException {
    return debugfs(disk, "cat " + file);
  }

  /** SHA-256 of a file of the root filesystem, dumped to {@code work} and removed again. */
  public String sha(Path disk, String file, Path work) throws IOException, InterruptedException {
    Path out = work.resolve("dump-" + System.nanoTime() + ".bin");
    try {
      debugfs(disk, "dump " + file + " " + out);
      return run("sha256sum", out.toString()).split(" ")[0];
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** Runs a command to its end; its output, or an assertion failure naming it and its output. */
  public static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
    return out;
  }
}

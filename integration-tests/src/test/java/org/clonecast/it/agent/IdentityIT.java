package org.clonecast.it.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.clonecast.it.lab.Prereqs;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clonecast-agent identity} on real disk images: a GPT disk with an EFI partition and an
 * ext4 root built by mkfs.ext4 from a golden /etc, attached through a loop device and mounted by
 * the agent; the result is read back with debugfs, without mounting. Two clones get different keys.
 */
class IdentityIT {
  private static Path repo;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("sfdisk", "mkfs.ext4", "debugfs", "losetup", "mount", "java");
    repo = Path.of(System.getProperty("clonecast.repo", "../")).toAbsolutePath().normalize();
    assertTrue(Files.exists(repo.resolve("client-agent/target/clonecast-agent.jar")), "build the jars first (mvn install)");
  }

  private static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
    return out;
  }

  private static final long ROOT_START = 18432;
  /** 54 MiB: up to the last 1 MiB boundary before the backup GPT, where sfdisk would end it too. */
  private static final long ROOT_SECTORS = 110592;

  /** 64 MiB GPT disk: an 8 MiB EFI system partition (FAT signature absent: not ext) and an ext4 root. */
  private static Path goldenDisk(Path dir) throws Exception {
    Path tree = dir.resolve("tree");
    Files.createDirectories(tree.resolve("etc/ssh"));
    Files.createDirectories(tree.resolve("etc/udev/rules.d"));
    Files.writeString(tree.resolve("etc/hostname"), "golden\n");
    Files.writeString(tree.resolve("etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 golden\n");
    Files.writeString(tree.resolve("etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
    Files.writeString(tree.resolve("etc/ssh/ssh_host_ed25519_key"), "golden secret\n");
    Files.writeString(tree.resolve("etc/ssh/ssh_host_rsa_key"), "golden secret\n");
    Files.writeString(tree.resolve("etc/udev/rules.d/70-persistent-net.rules"), "# golden MACs\n");
    Path disk = dir.resolve("disk.img");
    run("truncate", "-s", "64M", disk.toString());
    Process p = new ProcessBuilder("sfdisk", "-q", disk.toString()).redirectErrorStream(true).start();
    p.getOutputStream().write(("label: gpt\nstart=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
        + "start=" + ROOT_START + ", size=" + ROOT_SECTORS + ", type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n").getBytes());
    p.getOutputStream().close();
    p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue());
    long rootKiB = ROOT_SECTORS * 512 / 1024;
    run("mkfs.ext4", "-q", "-F", "-d", tree.toString(), "-E", "offset=" + ROOT_START * 512, disk.toString(), rootKiB + "k");
    return disk;
  }

  /** Reads a file of the root filesystem with debugfs (no mount), through a loop device at the root's offset. */
  private static String cat(Path disk, String file) throws Exception {
    String loop = run("losetup", "--find", "--show", "--offset", Long.toString(ROOT_START * 512), "--read-only", disk.toString()).trim();
    try {
      return run("debugfs", "-R", "cat " + file, loop).replaceFirst("(?s)^debugfs [^\\n]*\\n", "");
    } finally {
      run("losetup", "-d", loop);
    }
  }

  private static String ls(Path disk, String dirPath) throws Exception {
    String loop = run("losetup", "--find", "--show", "--offset", Long.toString(ROOT_START * 512), "--read-only", disk.toString()).trim();
    try {
      return run("debugfs", "-R", "ls -l " + dirPath, loop);
    } finally {
      run("losetup", "-d", loop);
    }
  }

  private static String identity(Path disk, String name) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(repo.resolve("clonecast-agent").toString(), "identity", "--target", disk.toString(),
        "--hostname", name, "--domain", "cluster.internal"));
    return run(cmd.toArray(String[]::new));
  }

  @Test
  void twoClonesGetTheirOwnNamesAndKeys(@TempDir Path dir) throws Exception {
    Path a = goldenDisk(dir);
    Path b = dir.resolve("disk-b.img");
    Files.copy(a, b);
    String outA = identity(a, "node01");
    String outB = identity(b, "node02");
    assertEquals("node01\n", cat(a, "/etc/hostname"));
    assertEquals("node02\n", cat(b, "/etc/hostname"));
    assertTrue(cat(a, "/etc/hosts").contains("127.0.1.1\tnode01.cluster.internal node01\n"), cat(a, "/etc/hosts"));
    assertEquals("", cat(a, "/etc/machine-id"));
    String keyA = cat(a, "/etc/ssh/ssh_host_ed25519_key.pub").trim();
    String keyB = cat(b, "/etc/ssh/ssh_host_ed25519_key.pub").trim();
    assertTrue(keyA.startsWith("ssh-ed25519 ") && keyA.endsWith(" root@node01"), keyA);
    assertNotEquals(keyA.split(" ")[1], keyB.split(" ")[1], "every clone gets its own host key");
    assertTrue(outA.contains(keyA), "the public key is printed for the cluster's known_hosts:\n" + outA);
    assertTrue(outB.contains(keyB), outB);
    assertFalse(ls(a, "/etc/ssh").contains("ssh_host_rsa_key"), "the golden node's keys are gone");
    assertFalse(ls(a, "/etc/udev/rules.d").contains("70-persistent-net.rules"));
    assertTrue(run("losetup", "-a").lines().noneMatch(l -> l.contains(dir.toString())), "no loop device left attached");
  }

  @Test
  void aDiskWithoutALinuxRootIsRefusedClearly(@TempDir Path dir) throws Exception {
    Path blank = dir.resolve("blank.img");
    run("truncate", "-s", "16M", blank.toString());
    Process p = new ProcessBuilder(repo.resolve("clonecast-agent").toString(), "identity", "--target", blank.toString(),
        "--hostname", "n1").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(1, p.exitValue(), out);
    assertTrue(out.contains("no Linux root filesystem"), out);
    assertTrue(run("losetup", "-a").lines().noneMatch(l -> l.contains(dir.toString())), "no loop device left attached");
  }
}

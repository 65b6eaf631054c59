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
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.GoldenDisks;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clonecast-agent identity} on real disk images: a GPT disk with an EFI partition and an
 * ext4 root built by mkfs.ext4 from a golden /etc, attached through a loop device and mounted by
 * the agent; the result is read back with debugfs, without mounting. Two clones get different keys.
 */
@LightLane
class IdentityIT {
  private static Path repo;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("sfdisk", "sgdisk", "mkfs.ext4", "debugfs", "losetup", "mount", "java");
    repo = Checkout.built(true);
  }

  private static final GoldenDisks DISKS = GoldenDisks.WITH_ESP;

  private static String run(String... cmd) throws IOException, InterruptedException {
    return GoldenDisks.run(cmd);
  }

  /**
   * 64 MiB GPT disk: an 8 MiB EFI system partition (FAT signature absent: not ext) and an ext4
   * root.
   */
  private static Path goldenDisk(Path dir) throws Exception {
    Path tree = GoldenDisks.goldenTree(dir);
    // What a booted golden node also leaves behind: systemd's entropy seed and its persistent
    // journal.
    Files.createDirectories(tree.resolve("var/lib/systemd"));
    Files.write(tree.resolve("var/lib/systemd/random-seed"), new byte[512]);
    Path journal =
        Files.createDirectories(tree.resolve("var/log/journal/0123456789abcdef0123456789abcdef"));
    Files.writeString(journal.resolve("system.journal"), "golden logs\n");
    return DISKS.build(tree, dir.resolve("disk.img"));
  }

  private static String cat(Path disk, String file) throws Exception {
    return DISKS.cat(disk, file);
  }

  private static String ls(Path disk, String dirPath) throws Exception {
    return DISKS.debugfs(disk, "ls -l " + dirPath);
  }

  private static String identity(Path disk, String name) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            Checkout.agent(
                "identity",
                "--target",
                disk.toString(),
                "--hostname",
                name,
                "--domain",
                "cluster.internal"));
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
    assertTrue(
        cat(a, "/etc/hosts").contains("127.0.1.1\tnode01.cluster.internal node01\n"),
        cat(a, "/etc/hosts"));
    assertEquals("", cat(a, "/etc/machine-id"));
    String keyA = cat(a, "/etc/ssh/ssh_host_ed25519_key.pub").trim();
    String keyB = cat(b, "/etc/ssh/ssh_host_ed25519_key.pub").trim();
    assertTrue(keyA.startsWith("ssh-ed25519 ") && keyA.endsWith(" root@node01"), keyA);
    assertNotEquals(keyA.split(" ")[1], keyB.split(" ")[1], "every clone gets its own host key");
    assertTrue(
        outA.contains(keyA), "the public key is printed for the cluster's known_hosts:\n" + outA);
    assertTrue(outB.contains(keyB), outB);
    assertFalse(ls(a, "/etc/ssh").contains("ssh_host_rsa_key"), "the golden node's keys are gone");
    assertFalse(ls(a, "/etc/udev/rules.d").contains("70-persistent-net.rules"));
    assertFalse(
        ls(a, "/var/lib/systemd").contains("random-seed"),
        "the golden node's entropy seed is gone");
    assertFalse(
        ls(a, "/var/log/journal").contains("0123456789abcdef"),
        "the golden node's journal is gone");
    assertTrue(
        run("losetup", "-a").lines().noneMatch(l -> l.contains(dir.toString())),
        "no loop device left attached");
  }

  @Test
  void onALargerDiskTheBackupGptMovesToTheEnd(@TempDir Path dir) throws Exception {
    Path disk = goldenDisk(dir);
    run("truncate", "-s", "96M", disk.toString());
    assertTrue(
        run("sgdisk", "-v", disk.toString()).contains("secondary header"),
        "the golden's backup is in the middle");
    String out = identity(disk, "node03");
    assertTrue(out.contains("GPT backup moved from LBA 131071 to the disk's last LBA 196607"), out);
    String verify = run("sgdisk", "-v", disk.toString());
    assertTrue(verify.contains("No problems found"), verify);
    assertTrue(run("sfdisk", "--dump", disk.toString()).contains("last-lba: 196574"));
    assertEquals("node03\n", cat(disk, "/etc/hostname"));
  }

  @Test
  void aDiskWithoutALinuxRootIsRefusedClearly(@TempDir Path dir) throws Exception {
    Path blank = dir.resolve("blank.img");
    run("truncate", "-s", "16M", blank.toString());
    Process p =
        new ProcessBuilder(
                repo.resolve("clonecast-agent").toString(),
                "identity",
                "--target",
                blank.toString(),
                "--hostname",
                "n1")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(1, p.exitValue(), out);
    assertTrue(out.contains("no Linux root filesystem"), out);
    assertTrue(
        run("losetup", "-a").lines().noneMatch(l -> l.contains(dir.toString())),
        "no loop device left attached");
  }
}

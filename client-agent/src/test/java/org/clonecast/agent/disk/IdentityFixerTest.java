package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdentityFixerTest {
  /** A golden node's /etc as Debian leaves it, with the things that must not be cloned. */
  private static Path golden(Path dir) throws IOException {
    Path root = dir.resolve("root");
    Files.createDirectories(root.resolve("etc/ssh"));
    Files.createDirectories(root.resolve("etc/udev/rules.d"));
    Files.createDirectories(root.resolve("var/lib/dbus"));
    Files.writeString(root.resolve("etc/hostname"), "golden\n");
    Files.writeString(
        root.resolve("etc/hosts"),
        "127.0.0.1\tlocalhost\n127.0.1.1\tgolden.lab golden\n\n::1 localhost ip6-localhost\n");
    Files.writeString(root.resolve("etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
    Files.writeString(
        root.resolve("var/lib/dbus/machine-id"), "0123456789abcdef0123456789abcdef\n");
    for (String k : new String[] {"rsa", "ecdsa", "ed25519"}) {
      Files.writeString(root.resolve("etc/ssh/ssh_host_" + k + "_key"), "golden secret");
      Files.writeString(root.resolve("etc/ssh/ssh_host_" + k + "_key.pub"), "golden public");
    }
    Files.writeString(root.resolve("etc/ssh/sshd_config"), "PermitRootLogin no\n");
    Files.writeString(
        root.resolve("etc/udev/rules.d/70-persistent-net.rules"),
        "SUBSYSTEM==\"net\", ATTR{address}==\"52:54:00:00:00:01\", NAME=\"eth0\"\n");
    return root;
  }

  @Test
  void aClonedSystemGetsItsOwnIdentity(@TempDir Path dir) throws IOException {
    Path root = golden(dir);
    IdentityFixer.Report r =
        IdentityFixer.apply(
            root,
            new IdentityFixer.NodeIdentity(
                "node07",
                Optional.of("cluster.internal"),
                Map.of("/etc/motd", "node07 of the cluster\n")));
    assertEquals("node07\n", Files.readString(root.resolve("etc/hostname")));
    assertEquals(
        "127.0.0.1\tlocalhost\n127.0.1.1\tnode07.cluster.internal node07\n\n::1 localhost ip6-localhost\n",
        Files.readString(root.resolve("etc/hosts")));
    assertEquals("", Files.readString(root.resolve("etc/machine-id")));
    assertFalse(Files.exists(root.resolve("var/lib/dbus/machine-id")));
    assertFalse(Files.exists(root.resolve("etc/ssh/ssh_host_rsa_key")));
    assertFalse(Files.exists(root.resolve("etc/ssh/ssh_host_ecdsa_key.pub")));
    assertTrue(
        Files.readString(root.resolve("etc/ssh/ssh_host_ed25519_key"))
            .startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assertEquals(
        PosixFilePermissions.fromString("rw-------"),
        Files.getPosixFilePermissions(root.resolve("etc/ssh/ssh_host_ed25519_key")));
    assertEquals(
        r.sshHostKey().orElseThrow() + "\n",
        Files.readString(root.resolve("etc/ssh/ssh_host_ed25519_key.pub")));
    assertTrue(r.sshHostKey().get().endsWith(" root@node07"));
    assertEquals(
        "PermitRootLogin no\n",
        Files.readString(root.resolve("etc/ssh/sshd_config")),
        "the rest of /etc/ssh stays");
    assertFalse(Files.exists(root.resolve("etc/udev/rules.d/70-persistent-net.rules")));
    assertEquals("node07 of the cluster\n", Files.readString(root.resolve("etc/motd")));
    assertTrue(
        r.changes().stream().anyMatch(c -> c.contains("6 golden file(s) removed")),
        r.changes().toString());
  }

  @Test
  void theGoldenNodesEntropySeedAndJournalAreRemovedOthersKept(@TempDir Path dir)
      throws IOException {
    Path root = golden(dir);
    Path seed = Files.createDirectories(root.resolve("var/lib/systemd")).resolve("random-seed");
    Files.write(seed, new byte[512]);
    Path journal =
        Files.createDirectories(root.resolve("var/log/journal/0123456789abcdef0123456789abcdef"));
    Files.writeString(journal.resolve("system.journal"), "golden logs");
    Files.writeString(journal.resolve("user-1000.journal"), "golden logs");
    Path other =
        Files.createDirectories(root.resolve("var/log/journal/fedcba9876543210fedcba9876543210"));
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Files.writeString(outside.resolve("keep"), "not the node's");
    Files.createSymbolicLink(journal.resolve("link-out"), outside);
    IdentityFixer.Report r =
        IdentityFixer.apply(
            root, new IdentityFixer.NodeIdentity("node08", Optional.empty(), Map.of()));
    assertFalse(Files.exists(seed));
    assertFalse(Files.exists(journal, LinkOption.NOFOLLOW_LINKS));
    assertTrue(Files.isDirectory(other), "only the golden machine-id's journal goes");
    assertTrue(
        Files.isDirectory(root.resolve("var/log/journal")),
        "journald keeps its persistent journal");
    assertEquals(
        "not the node's",
        Files.readString(outside.resolve("keep")),
        "a link is removed, not followed");
    assertTrue(
        r.changes().stream().anyMatch(c -> c.contains("random-seed removed")),
        r.changes().toString());
    assertTrue(
        r.changes().stream().anyMatch(c -> c.contains("golden node's journal, 3 file(s)")),
        r.changes().toString());
  }

  @Test
  void aJournalReachedThroughALinkOutOfTheRootIsLeftAlone(@TempDir Path dir) throws IOException {
    Path root = golden(dir);
    Path outside =
        Files.createDirectories(dir.resolve("elsewhere/journal/0123456789abcdef0123456789abcdef"));
    Files.writeString(outside.resolve("system.journal"), "the head node's logs");
    Files.createDirectories(root.resolve("var"));
    Files.createSymbolicLink(root.resolve("var/log"), dir.resolve("elsewhere"));
    IdentityFixer.apply(root, new IdentityFixer.NodeIdentity("node09", Optional.empty(), Map.of()));
    assertEquals("the head node's logs", Files.readString(outside.resolve("system.journal")));
  }

  @Test
  void theClusterKnownHostsAndItsBootTimeRefreshAreInstalled(@TempDir Path dir) throws IOException {
    Path root = golden(dir);
    Files.createDirectories(root.resolve("etc/systemd/system"));
    String published =
        "# clonecast: SSH host keys of re-imaged nodes (ssh_known_hosts format)\n"
            + "node01,node01.cluster.internal,10.77.0.101 ssh-ed25519 AAAAold01\n"
            + "node02,node02.cluster.internal,10.77.0.102 ssh-ed25519 AAAAkey02\n";
    List<String> changes =
        IdentityFixer.installKnownHosts(
            root,
            published,
            List.of("node01", "node01.cluster.internal", "10.77.0.101"),
            "ssh-ed25519 AAAAnew01 root@node01",
            URI.create("http://10.77.0.1:8080"));
    assertEquals(
        "# clonecast: SSH host keys of re-imaged nodes (ssh_known_hosts format)\n"
            + "node02,node02.cluster.internal,10.77.0.102 ssh-ed25519 AAAAkey02\n"
            + "node01,node01.cluster.internal,10.77.0.101 ssh-ed25519 AAAAnew01\n",
        Files.readString(root.resolve("etc/ssh/ssh_known_hosts")),
        "this node's old key is replaced by its new one, the others kept");
    String script = Files.readString(root.resolve("usr/local/sbin/clonecast-known-hosts"));
    assertTrue(
        script.startsWith("#!/bin/bash\n") && script.contains("host=10.77.0.1\nport=8080\n"),
        script);
    assertEquals(
        PosixFilePermissions.fromString("rwxr-xr-x"),
        Files.getPosixFilePermissions(root.resolve("usr/local/sbin/clonecast-known-hosts")));
    assertTrue(
        Files.readString(root.resolve("etc/systemd/system/clonecast-known-hosts.service"))
            .contains("After=network-online.target"));
    assertEquals(
        Path.of("../clonecast-known-hosts.service"),
        Files.readSymbolicLink(
            root.resolve(
                "etc/systemd/system/multi-user.target.wants/clonecast-known-hosts.service")));
    assertEquals(
        Path.of("../clonecast-known-hosts.timer"),
        Files.readSymbolicLink(
            root.resolve("etc/systemd/system/timers.target.wants/clonecast-known-hosts.timer")));
    assertEquals(2, changes.size(), changes.toString());
  }

  /**
   * The clone's fetcher, run by bash against a real HTTP server on loopback (python3's
   * http.server).
   */
  @Test
  void theRefreshScriptFetchesTheServersFileWithBashAlone(@TempDir Path dir) throws Exception {
    Path docs = Files.createDirectories(dir.resolve("www/boot"));
    String file =
        "# clonecast: SSH host keys of re-imaged nodes (ssh_known_hosts format)\nnode02 ssh-ed25519 AAAAkey02\n";
    Files.writeString(docs.resolve("known_hosts"), file);
    Path target = Files.createDirectories(dir.resolve("etc/ssh")).resolve("ssh_known_hosts");
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Process http =
        new ProcessBuilder(
                "python3",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
                dir.resolve("www").toString(),
                Integer.toString(port))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("http.log").toFile())
            .start();
    try {
      Path script = dir.resolve("fetch.sh");
      Files.writeString(
          script,
          IdentityFixer.refreshScript("127.0.0.1", port)
              .replace("/etc/ssh/ssh_known_hosts", target.toString()));
      Process p = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the fetcher is bounded");
      assertEquals(0, p.exitValue(), out + Files.readString(dir.resolve("http.log")));
      assertEquals(file, Files.readString(target));
    } finally {
      http.destroy();
      http.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void hostsWithoutAnOwnLineGetsOne() {
    var id = new IdentityFixer.NodeIdentity("n1", Optional.empty(), Map.of());
    assertEquals(
        "127.0.0.1 localhost\n127.0.1.1\tn1\n",
        IdentityFixer.hosts(Optional.of("127.0.0.1 localhost\n"), id));
    assertEquals(
        "127.0.0.1\tlocalhost\n127.0.1.1\tn1\n", IdentityFixer.hosts(Optional.empty(), id));
  }

  @Test
  void noSshdMeansNoKeyAndNothingBreaks(@TempDir Path dir) throws IOException {
    Path root = dir.resolve("r");
    Files.createDirectories(root.resolve("etc"));
    IdentityFixer.Report r =
        IdentityFixer.apply(root, new IdentityFixer.NodeIdentity("n2", Optional.empty(), Map.of()));
    assertEquals(Optional.empty(), r.sshHostKey());
    assertEquals("n2\n", Files.readString(root.resolve("etc/hostname")));
  }

  @Test
  void symlinksOutOfTheRootAreNotWrittenThrough(@TempDir Path dir) throws IOException {
    Path root = golden(dir);
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Files.createSymbolicLink(root.resolve("opt"), outside);
    var id = new IdentityFixer.NodeIdentity("n3", Optional.empty(), Map.of("/opt/evil", "x"));
    IOException e = assertThrows(IOException.class, () -> IdentityFixer.apply(root, id));
    assertTrue(e.getMessage().contains("/opt is a symbolic link"), e.getMessage());
    assertFalse(Files.exists(outside.resolve("evil")));
  }

  @Test
  void badInputIsRefusedClearly(@TempDir Path dir) {
    assertThrows(
        IllegalArgumentException.class,
        () -> new IdentityFixer.NodeIdentity("Bad_Name", Optional.empty(), Map.of()));
    assertThrows(
        IllegalArgumentException.class,
        () -> new IdentityFixer.NodeIdentity("n", Optional.empty(), Map.of("etc/x", "")));
    assertThrows(
        IllegalArgumentException.class,
        () -> new IdentityFixer.NodeIdentity("n", Optional.empty(), Map.of("/etc/../../x", "")));
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () ->
                IdentityFixer.apply(
                    dir, new IdentityFixer.NodeIdentity("n", Optional.empty(), Map.of())));
    assertTrue(e.getMessage().contains("no /etc"), e.getMessage());
  }
}

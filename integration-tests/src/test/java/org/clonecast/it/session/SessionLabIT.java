package org.clonecast.it.session;

import static org.awaitility.Awaitility.await;
import static org.clonecast.it.session.SessionLab.STEP;
import static org.clonecast.it.session.SessionLab.agent;
import static org.clonecast.it.session.SessionLab.cat;
import static org.clonecast.it.session.SessionLab.cli;
import static org.clonecast.it.session.SessionLab.enrollAll;
import static org.clonecast.it.session.SessionLab.goldenDisk;
import static org.clonecast.it.session.SessionLab.mac;
import static org.clonecast.it.session.SessionLab.run;
import static org.clonecast.it.session.SessionLab.serve;
import static org.clonecast.it.session.SessionLab.sha;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.GoldenDisks;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.Signal;
import org.clonecast.it.session.SessionLab.Daemon;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A whole re-imaging session driven by {@code clonecast serve}, with agents in automatic mode in
 * lab namespaces (what the netboot environment runs on a real node): the image is added to the
 * store, nodes are enrolled and a session started from the CLI; each agent registers, receives,
 * writes, verifies, fixes its identity and reports; {@code session watch} follows it to the end.
 * The written disks are read back with debugfs.
 */
@LightLane
class SessionLabIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require(
        "ip", "nft", "tc", "java", "curl", "sfdisk", "mkfs.ext4", "debugfs", "losetup", "mount");
    Checkout.built(false);
  }

  /**
   * Three enrolled nodes in one group: two with blank 64 MiB disks are re-imaged, named from the
   * inventory, with empty machine-ids and SSH keys of their own that the server publishes, and boot
   * locally next time; one whose disk is too small fails with that reason and does not hold the
   * others back. The session ends failed (2 of 3) and watch says so.
   */
  @Test
  void twoNodesReimagedAndOneWithATooSmallDiskFails() throws Exception {
    String smallLoop = null;
    try (Lab lab = Lab.create("session", 3)) {
      Path golden = goldenDisk(lab.dir());
      Daemon d = serve(lab);
      cli(lab, d, 0, "image", "add", "golden", golden.toString());

      Map<Host, Path> disks = new HashMap<>();
      for (int i = 1; i <= 3; i++) {
        Host h = lab.agent(i);
        cli(
            lab,
            d,
            0,
            "node",
            "add",
            mac(h),
            "--name",
            "node0" + i,
            "--group",
            "rack1",
            "--ip",
            h.ip());
        Path disk = lab.dir().resolve("disk-" + h.name() + ".img");
        run("truncate", "-s", i == 3 ? "16M" : "64M", disk.toString());
        disks.put(h, disk);
      }
      // Node 3's "disk" is a real block device of 16 MiB: the agent must refuse to write it.
      smallLoop = run("losetup", "--find", "--show", disks.get(lab.agent(3)).toString()).trim();
      cli(
          lab,
          d,
          0,
          "node",
          "set",
          mac(lab.agent(1)),
          "--target-disk",
          disks.get(lab.agent(1)).toString());
      cli(
          lab,
          d,
          0,
          "node",
          "set",
          mac(lab.agent(2)),
          "--target-disk",
          disks.get(lab.agent(2)).toString());
      cli(lab, d, 0, "node", "set", mac(lab.agent(3)), "--target-disk", smallLoop);

      // Per-node files: one for every node, one for node01 only.
      Path files = lab.dir().resolve("state/node-files");
      Files.createDirectories(files.resolve("all/etc"));
      Files.createDirectories(files.resolve("node01/etc"));
      Files.writeString(files.resolve("all/etc/motd"), "a clonecast node\n");
      Files.writeString(files.resolve("node01/etc/cluster-role"), "rack leader\n");
      String started =
          cli(
              lab,
              d,
              0,
              "session",
              "start",
              "--image",
              "golden",
              "--nodes",
              "rack1",
              "--max-wait",
              "60");
      assertTrue(started.contains("to 3 node(s) in 'rack1'"), started);
      JsonNode nodes = JSON.readTree(cli(lab, d, 0, "node", "list", "--json"));
      for (JsonNode n : nodes)
        assertEquals("reimage", n.path("action").asText(), "marked for the session: " + n);

      List<LabProcess> agents = new ArrayList<>();
      for (Host h : lab.agents()) agents.add(lab.spawn(h, "agent-" + h.name(), agent(d), Map.of()));
      LabProcess watch =
          lab.spawn(lab.server(), "watch", Checkout.clonecast("session", "watch"), d.env());
      assertEquals(
          1,
          watch.waitFor(Duration.ofSeconds(240)),
          "one node failed, so watch exits 1:\n" + watch.tail(30));
      assertTrue(watch.log().contains("2 of 3 node(s) re-imaged"), watch.log());
      assertEquals(0, agents.get(0).waitFor(STEP), agents.get(0).tail(30));
      assertEquals(0, agents.get(1).waitFor(STEP), agents.get(1).tail(30));
      assertEquals(1, agents.get(2).waitFor(STEP), agents.get(2).tail(30));
      assertTrue(agents.get(2).log().contains("too small"), agents.get(2).log());

      // The written disks: the golden data, each node's own name and key, no machine-id.
      String wantData = sha(golden, "/home/admin/dataset.bin", lab.dir());
      List<String> keys = new ArrayList<>();
      for (int i = 1; i <= 2; i++) {
        Path disk = disks.get(lab.agent(i));
        assertEquals("node0" + i + "\n", cat(disk, "/etc/hostname"));
        assertEquals("", cat(disk, "/etc/machine-id"));
        assertEquals(
            wantData,
            sha(disk, "/home/admin/dataset.bin", lab.dir()),
            "the data came through intact");
        String key = cat(disk, "/etc/ssh/ssh_host_ed25519_key.pub").trim();
        assertTrue(key.startsWith("ssh-ed25519 "), key);
        keys.add(key.split(" ")[1]);
      }
      assertNotEquals(keys.get(0), keys.get(1), "every node has its own SSH host key");
      assertEquals("a clonecast node\n", cat(disks.get(lab.agent(2)), "/etc/motd"));
      assertEquals("rack leader\n", cat(disks.get(lab.agent(1)), "/etc/cluster-role"));
      assertTrue(
          !SessionLab.DISKS.debugfs(disks.get(lab.agent(2)), "ls /etc").contains("cluster-role"),
          "node01's file only");

      // The inventory: re-imaged nodes boot locally with their reported key; the failed one keeps
      // its reason.
      nodes = JSON.readTree(cli(lab, d, 0, "node", "list", "--json"));
      for (JsonNode n : nodes) {
        assertEquals("local", n.path("action").asText(), "the next PXE boot falls through: " + n);
        if (n.path("name").asText().equals("node03")) {
          assertEquals("failed", n.path("state").asText(), n.toString());
          assertTrue(n.path("detail").asText().contains("too small"), n.toString());
        } else {
          assertEquals("done", n.path("state").asText(), n.toString());
          assertTrue(keys.contains(n.path("sshHostKey").asText().split(" ")[1]), n.toString());
        }
      }
      LabProcess known =
          lab.spawn(
              lab.agent(1),
              "known-hosts",
              List.of(
                  "curl", "-fsS", "http://" + Lab.SERVER_IP + ":" + d.port() + "/boot/known_hosts"),
              Map.of());
      assertEquals(0, known.waitFor(STEP), known.tail(10));
      for (String k : keys) assertTrue(known.log().contains(k), known.log());
      assertTrue(
          known
              .log()
              .lines()
              .anyMatch(l -> l.startsWith("node01,") && l.contains(lab.agent(1).ip())),
          known.log());
      // The next iPXE script of a re-imaged node boots its disk.
      LabProcess script =
          lab.spawn(
              lab.agent(1),
              "ipxe",
              List.of(
                  "curl",
                  "-fsS",
                  "http://"
                      + Lab.SERVER_IP
                      + ":"
                      + d.port()
                      + "/boot/"
                      + mac(lab.agent(1))
                      + ".ipxe"),
              Map.of());
      assertEquals(0, script.waitFor(STEP), script.tail(10));
      assertTrue(script.log().contains("booting the local disk"), script.log());
      // The event log tells the story, and the listings have JSON for scripts.
      String events = cli(lab, d, 0, "events", "--limit", "200");
      assertTrue(events.contains("session 1: ended failed: 2 of 3 node(s) re-imaged"), events);
      assertTrue(events.contains("node03") || events.contains("too small"), events);
      JsonNode sessions = JSON.readTree(cli(lab, d, 0, "session", "list", "--json"));
      assertEquals("failed", sessions.get(0).path("state").asText(), sessions.toString());
      JsonNode images = JSON.readTree(cli(lab, d, 0, "image", "list", "--json"));
      assertEquals("ready", images.get(0).path("state").asText(), images.toString());
      // Prometheus sees the session, what it sent and how much of it was FEC repair.
      LabProcess metrics =
          lab.spawn(
              lab.server(),
              "metrics",
              List.of("curl", "-fsS", "http://127.0.0.1:" + d.port() + "/metrics"),
              Map.of());
      assertEquals(0, metrics.waitFor(STEP), metrics.tail(10));
      String page = metrics.log();
      assertTrue(page.contains("clonecast_sessions{state=\"failed\"} 1\n"), page);
      assertTrue(
          page.matches("(?s).*\nclonecast_session_sent_bytes_total \\d{7,}\n.*"),
          "at least the image's 25 MB:\n" + page);
      assertTrue(page.contains("clonecast_session_packets_total{kind=\"repair\"} "), page);
      assertTrue(page.contains("clonecast_nodes{state=\"done\"} 2\n"), page);
    } finally {
      if (smallLoop != null) run("losetup", "-d", smallLoop);
    }
  }

  /** A node that dies mid-transfer is failed with the reason, and the session still ends. */
  @Test
  void aNodePoweredOffMidSessionFailsAndTheSessionEnds() throws Exception {
    try (Lab lab = Lab.create("sessionkill", 2)) {
      Path golden = goldenDisk(lab.dir());
      Daemon d = serve(lab);
      cli(lab, d, 0, "image", "add", "golden", golden.toString());
      enrollAll(lab, d);
      Host victim = lab.agent(2);
      lab.rateLimit(victim, 10); // slow enough (~30 s for the image) to be caught mid-transfer
      cli(
          lab,
          d,
          0,
          "session",
          "start",
          "--image",
          "golden",
          "--nodes",
          "rack1",
          "--max-wait",
          "60");
      LabProcess survivor = lab.spawn(lab.agent(1), "agent-a1", agent(d), Map.of());
      LabProcess dying = lab.spawn(victim, "agent-a2", agent(d), Map.of());
      await()
          .atMost(STEP)
          .pollInterval(Duration.ofMillis(500))
          .until(() -> !dying.isAlive() || receiving(lab, d, "node02"));
      assertTrue(dying.isAlive(), "finished before it could be killed:\n" + dying.tail(20));
      dying.kill(Signal.KILL); // the power goes: no last word to the server
      LabProcess watch =
          lab.spawn(lab.server(), "watch", Checkout.clonecast("session", "watch"), d.env());
      assertEquals(1, watch.waitFor(Duration.ofSeconds(240)), watch.tail(30));
      assertEquals(0, survivor.waitFor(STEP), survivor.tail(30));
      JsonNode s = JSON.readTree(cli(lab, d, 0, "session", "list", "--json")).get(0);
      assertEquals("failed", s.path("state").asText(), s.toString());
      for (JsonNode m : s.path("members")) {
        if (m.path("name").asText().equals("node02")) {
          assertEquals("failed", m.path("state").asText(), m.toString());
          assertTrue(m.path("detail").asText().contains("during the transfer"), m.toString());
        } else {
          assertEquals("done", m.path("state").asText(), m.toString());
        }
      }
    }
  }

  /**
   * Whether {@code name} has reported some but not all of its bytes in the newest session (read
   * from the API).
   */
  private static boolean receiving(Lab lab, Daemon d, String name) throws IOException {
    LabProcess p =
        lab.spawn(
            lab.server(),
            "poll",
            List.of("curl", "-fsS", "http://127.0.0.1:" + d.port() + "/api/v1/sessions?limit=1"),
            Map.of());
    if (p.waitFor(Duration.ofSeconds(30)) != 0) return false;
    for (JsonNode m : JSON.readTree(p.log()).get(0).path("members")) {
      if (m.path("name").asText().equals(name)) {
        long done = m.path("bytesDone").asLong();
        return done > 0 && done < m.path("bytesTotal").asLong() / 2;
      }
    }
    return false;
  }

  /**
   * {@code session start --grow}: the option travels with the session's assignment to the agent
   * (which is not given --grow itself), and a node whose disk is 1.5 times the golden's ends with
   * its root partition and ext4 grown to fill it, fsck clean, the data intact.
   */
  @Test
  void aSessionWithGrowGrowsTheRootOntoALargerDisk() throws Exception {
    String loop = null;
    try (Lab lab = Lab.create("grow", 1)) {
      Path golden = goldenDisk(lab.dir());
      Daemon d = serve(lab);
      cli(lab, d, 0, "image", "add", "golden", golden.toString());
      Host h = lab.agent(1);
      cli(lab, d, 0, "node", "add", mac(h), "--name", "node01", "--group", "rack1", "--ip", h.ip());
      Path disk = lab.dir().resolve("disk-big.img");
      long bytes = 96L << 20;
      run("truncate", "-s", Long.toString(bytes), disk.toString());
      // A block device with partitions, as a node's disk is: the grown table is re-read from it,
      // and the identity step mounts its root partition.
      loop = run("losetup", "--find", "--show", "--partscan", disk.toString()).trim();
      cli(lab, d, 0, "node", "set", mac(h), "--target-disk", loop);
      cli(
          lab,
          d,
          0,
          "session",
          "start",
          "--image",
          "golden",
          "--nodes",
          "rack1",
          "--grow",
          "--max-wait",
          "60");
      JsonNode s = JSON.readTree(cli(lab, d, 0, "session", "list", "--json")).get(0);
      assertTrue(s.path("grow").asBoolean(), s.toString());
      LabProcess a = lab.spawn(h, "agent-grow", agent(d), Map.of());
      assertEquals(0, a.waitFor(STEP), a.tail(30));
      assertTrue(a.log().contains("grown with resize2fs"), a.log());
      run("losetup", "-d", loop);
      loop = null;
      GoldenDisks grown = SessionLab.DISKS.assertGrown(disk, bytes);
      assertEquals(
          sha(golden, "/home/admin/dataset.bin", lab.dir()),
          grown.sha(disk, "/home/admin/dataset.bin", lab.dir()),
          "the data came through intact");
    } finally {
      if (loop != null) run("losetup", "-d", loop);
    }
  }

  /**
   * A node booted ahead of its session ({@code auto --wait-for-session}): told there is no session
   * yet, its agent registers again asking the daemon to hold the call (a long poll; it warms up its
   * disk check meanwhile) and takes the session as soon as it starts, with no boot in between; the
   * event log keeps its "nothing to do" once.
   */
  @Test
  void aNodeBootedAheadOfItsSessionWaitsForIt() throws Exception {
    try (Lab lab = Lab.create("waiting", 1)) {
      Path golden = goldenDisk(lab.dir());
      Daemon d = serve(lab);
      cli(lab, d, 0, "image", "add", "golden", golden.toString());
      Path disk = enrollAll(lab, d).get(0);
      Host h = lab.agent(1);
      // Marked, so that its netboot script (and the per-boot secret in it) is handed out.
      cli(lab, d, 0, "node", "set", mac(h), "--action", "reimage");
      LabProcess a = lab.spawn(h, "agent-waiting", agent(d, "--wait-for-session", "120"), Map.of());
      await().atMost(STEP).until(() -> a.log().contains("warmed up while waiting") || !a.isAlive());
      assertTrue(a.isAlive(), "the agent waits:\n" + a.tail(20));
      assertTrue(a.log().contains("no session yet (no session is waiting for node01)"), a.log());
      cli(lab, d, 0, "session", "start", "--image", "golden", "--nodes", "rack1");
      assertEquals(0, a.waitFor(STEP), a.tail(30));
      assertTrue(a.log().contains("re-imaged as node01"), a.log());
      assertEquals("node01\n", cat(disk, "/etc/hostname"));
      String events = cli(lab, d, 0, "events", "--limit", "200");
      assertEquals(
          1,
          events.lines().filter(l -> l.contains("nothing to do: no session is waiting")).count(),
          events);
    }
  }
}

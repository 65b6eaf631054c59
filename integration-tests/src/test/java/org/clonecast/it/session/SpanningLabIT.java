package org.clonecast.it.session;

import static org.awaitility.Awaitility.await;
import static org.clonecast.it.session.SessionLab.STEP;
import static org.clonecast.it.session.SessionLab.cli;
import static org.clonecast.it.session.SessionLab.goldenDisk;
import static org.clonecast.it.session.SessionLab.mac;
import static org.clonecast.it.session.SessionLab.run;
import static org.clonecast.it.session.SessionLab.sha;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.common.testing.TestPostgres;
import org.clonecast.it.lab.Checkout;
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
 * Several daemons, one cluster (issue 17, docs/scale.md): Debian's PostgreSQL in the lab, three
 * daemons on it on two segments joined by a router namespace: A and B on segment 1 (failover
 * partners), C on segment 2. Three nodes (agents as processes with file disks) take their addresses
 * by DHCP from the daemons, run their netboot script's {@code clonecast.server=} (A's lists B after
 * A) and are re-imaged in one session started on A: node01 and node02 by A, node03 by C. A is
 * killed with SIGKILL once node01 has a quarter of the image; their agents move to B, register
 * again and receive the rest from B's part. Every disk ends with the golden data under its own
 * name, every node's done comes from its own report, and the store holds one running lease per MAC
 * and per address, each held by its agent.
 */
@LightLane
class SpanningLabIT {
  private static final String UDHCPC_SCRIPT =
      """
      #!/bin/sh
      case "$1" in
        bound|renew) ip -4 addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;
      esac
      exit 0
      """;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "java", "curl", "udhcpc", "sfdisk", "mkfs.ext4", "debugfs");
    Checkout.built(true);
  }

  @Test
  void oneSessionAcrossTwoSegmentsOutlivesADaemonKilledMidSession() throws Exception {
    try (Lab lab = Lab.builder("span").agents(3).secondSegment(1).create();
        TestPostgres pg =
            TestPostgres.start(
                List.of("ip", "netns", "exec", lab.server().netns()), Lab.SERVER_IP, 5432)) {
      String database = pg.newDatabase();
      String store = pg.url(database);
      Host hostB = lab.agent(1);
      List<Host> nodes = List.of(lab.agent(2), lab.agent(3), lab.agents2().get(0));
      Daemon a =
          SessionLab.serve(
              lab,
              lab.server(),
              lab.dir().resolve("state-a"),
              0,
              List.of("--dhcp", "full", "--range", "10.77.0.100,10.77.0.119", "--store", store));
      Daemon b =
          SessionLab.serve(
              lab,
              hostB,
              lab.dir().resolve("state-b"),
              0,
              List.of("--dhcp", "full", "--range", "10.77.0.100,10.77.0.119", "--store", store));
      Daemon c =
          SessionLab.serve(
              lab,
              lab.server2(),
              lab.dir().resolve("state-c"),
              0,
              List.of("--dhcp", "full", "--range", "10.78.0.100,10.78.0.119", "--store", store));
      String urlA = "http://" + Lab.SERVER_IP + ":" + a.port();
      String urlB = "http://" + hostB.ip() + ":" + b.port();
      String urlC = "http://" + Lab.SERVER2_IP + ":" + c.port();

      Path golden = goldenDisk(lab.dir());
      cli(lab, a, 0, "image", "add", "golden", golden.toString());
      List<Path> disks = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        Host h = nodes.get(i);
        cli(lab, a, 0, "node", "add", mac(h), "--name", "node0" + (i + 1), "--group", "span");
        Path disk = lab.dir().resolve("disk-" + h.name() + ".img");
        run("truncate", "-s", "64M", disk.toString());
        cli(lab, a, 0, "node", "set", mac(h), "--target-disk", disk.toString());
        disks.add(disk);
      }
      // Each node's address by DHCP from its segment's daemons, as a netbooting node has it.
      Path script = lab.dir().resolve("udhcpc.sh");
      Files.writeString(script, UDHCPC_SCRIPT);
      script.toFile().setExecutable(true);
      for (Host h : nodes) {
        LabProcess dhcp =
            lab.spawn(
                h,
                "udhcpc-" + h.name(),
                List.of(
                    "udhcpc",
                    "-q",
                    "-n",
                    "-i",
                    Lab.IFACE,
                    "-s",
                    script.toString(),
                    "-t",
                    "20",
                    "-T",
                    "1",
                    "-A",
                    "1"),
                Map.of());
        assertEquals(0, dhcp.waitFor(STEP), dhcp.tail(20));
      }

      cli(
          lab,
          a,
          0,
          "session",
          "start",
          "--image",
          "golden",
          "--nodes",
          "span",
          "--max-wait",
          "20");
      for (Host h : nodes) lab.rateLimit(h, 32);
      Map<Host, LabProcess> agents = new LinkedHashMap<>();
      Map<Host, String> serversOf = new HashMap<>();
      for (Host h : nodes) {
        String own = h.name().startsWith("b") ? urlC : urlA;
        String servers = scriptServers(lab, h, own);
        serversOf.put(h, servers);
        List<String> cmd =
            new ArrayList<>(
                Checkout.agent(
                    "auto",
                    "--server",
                    servers,
                    "--interface",
                    Lab.IFACE,
                    "--join-timeout",
                    "90",
                    "--sender-timeout",
                    "5",
                    "--unicast-after",
                    "0"));
        for (String d : List.of("state-a", "state-b", "state-c")) {
          cmd.addAll(List.of("--trust", lab.dir().resolve(d).resolve("image-key.pub").toString()));
        }
        agents.put(h, lab.spawn(h, "agent-" + h.name(), cmd, Map.of()));
      }
      assertEquals(urlA + "," + urlB, serversOf.get(nodes.get(0)), "A's script lists B after A");
      assertEquals(urlC, serversOf.get(nodes.get(2)), "C has no partner on its segment");

      // A is killed mid-session, once node01 has written a quarter of the image from it.
      LabProcess first = agents.get(nodes.get(0));
      await()
          .atMost(STEP)
          .pollInterval(Duration.ofMillis(50))
          .until(() -> first.log().contains("mcast progress 25%") || !first.isAlive());
      assertTrue(first.isAlive(), first.tail(30));
      a.process().kill(Signal.KILL);
      assertEquals(128 + 9, a.process().waitFor(STEP));
      assertTrue(!first.log().contains("re-imaged as"), "killed before node01 was done");

      for (Host h : nodes) {
        LabProcess p = agents.get(h);
        assertEquals(0, p.waitFor(Duration.ofSeconds(300)), h.name() + ":\n" + p.tail(40));
      }
      for (Host h : nodes.subList(0, 2)) {
        assertTrue(
            agents.get(h).log().contains("goes on from " + urlB),
            h.name() + " moved to B:\n" + agents.get(h).tail(40));
      }

      // The store: the session done, each node done by its own report, served by B or C.
      String idA = pg.psql(database, "SELECT id FROM daemons WHERE address = '10.77.0.1'").strip();
      String idB = pg.psql(database, "SELECT id FROM daemons WHERE address = '10.77.0.11'").strip();
      String idC = pg.psql(database, "SELECT id FROM daemons WHERE address = '10.78.0.1'").strip();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> pg.psql(database, "SELECT state FROM sessions").strip().equals("done"));
      assertEquals(
          "node01|done|" + idB + "\nnode02|done|" + idB + "\nnode03|done|" + idC,
          pg.psql(database, "SELECT name, state, daemon FROM session_nodes ORDER BY name").strip(),
          "A (" + idA + ") serves nobody at the end");

      // Leases: one running lease per MAC and per address, each the address its agent holds.
      Map<String, String> stored = new HashMap<>();
      for (String row :
          pg.psql(
                  database,
                  "SELECT mac, ip FROM leases WHERE state = 'bound' AND expires >"
                      + " (extract(epoch from now()) * 1000)::bigint")
              .strip()
              .split("\n")) {
        String[] f = row.split("\\|");
        assertEquals(null, stored.put(f[0], f[1]), "one running lease per MAC: " + row);
      }
      assertEquals(stored.size(), Set.copyOf(stored.values()).size(), "one MAC per address");
      for (Host h : nodes) {
        String held =
            run("ip", "netns", "exec", h.netns(), "ip", "-4", "-o", "addr", "show", Lab.IFACE);
        assertTrue(held.contains(" " + stored.get(mac(h)) + "/"), h + ": " + held + " " + stored);
      }

      // Every disk holds the golden data, under its own name.
      String want = sha(golden, "/home/admin/dataset.bin", lab.dir());
      for (int i = 0; i < nodes.size(); i++) {
        assertEquals(want, sha(disks.get(i), "/home/admin/dataset.bin", lab.dir()), "node" + i);
        assertEquals("node0" + (i + 1) + "\n", SessionLab.cat(disks.get(i), "/etc/hostname"));
      }
      System.out.println(
          "span: "
              + pg.psql(database, "SELECT name, wire FROM session_nodes ORDER BY name").strip());
    }
  }

  /**
   * The {@code clonecast.server=} of {@code h}'s netboot script from daemon {@code url}, fetched
   * from the node's own address as iPXE would (the agent fetches its own script again, and with it
   * the secret it uses).
   */
  private static String scriptServers(Lab lab, Host h, String url) throws Exception {
    String script =
        run(
            "ip",
            "netns",
            "exec",
            h.netns(),
            "curl",
            "-fsS",
            "--max-time",
            "10",
            url + "/boot/" + mac(h) + ".ipxe");
    Matcher m = Pattern.compile("clonecast\\.server=(\\S+)").matcher(script);
    assertTrue(m.find(), script);
    return m.group(1);
  }
}

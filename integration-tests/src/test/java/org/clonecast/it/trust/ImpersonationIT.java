package org.clonecast.it.trust;

import static org.awaitility.Awaitility.await;
import static org.clonecast.it.session.SessionLab.STEP;
import static org.clonecast.it.session.SessionLab.cli;
import static org.clonecast.it.session.SessionLab.mac;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.session.SessionLab;
import org.clonecast.it.session.SessionLab.Daemon;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 13's "node impersonation", by a rogue host (agent 2) on the segment beside the real node01
 * (agent 1) in a daemon session: the rogue fetches node01's boot script (and gets the boot-local
 * one, without a secret), calls register, progress and result for node01 without a secret and with
 * guessed ones, tries to publish its own host key, tries the capture calls, and tries all of it
 * again after the real agent registered. Every attempt gets a 403; the real node is re-imaged with
 * the golden data, the session says truthfully "1 of 1", and {@code /boot/known_hosts} holds only
 * node01's own key. The rogue also tries to join the session's multicast as node01 (no node proof,
 * a forged one) and under a name of its own: each HELLO is answered with END naming the refusal, so
 * it can neither count as node01 nor fail it.
 */
@LightLane
class ImpersonationIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ROGUE_KEY =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIroguerogueroguerogueroguerogueroguerogue0";

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "java", "curl", "sfdisk", "mkfs.ext4", "debugfs", "python3");
    Checkout.built(false);
  }

  @Test
  void aRogueHostCannotRegisterReportOrPublishAKeyForANode() throws Exception {
    try (Lab lab = Lab.create("impersonate", 2)) {
      Path golden = SessionLab.goldenDisk(lab.dir());
      Daemon d = SessionLab.serve(lab);
      cli(lab, d, 0, "image", "add", "golden", golden.toString());
      Host node = lab.agent(1);
      Host rogue = lab.agent(2);
      String nodeMac = mac(node);
      cli(
          lab, d, 0, "node", "add", nodeMac, "--name", "node01", "--group", "rack1", "--ip",
          node.ip());
      Path disk = lab.dir().resolve("disk-node01.img");
      SessionLab.run("truncate", "-s", "64M", disk.toString());
      cli(lab, d, 0, "node", "set", nodeMac, "--target-disk", disk.toString());
      await()
          .atMost(STEP)
          .pollInterval(Duration.ofMillis(500))
          .until(() -> cli(lab, d, 0, "image", "list").contains("ready"));
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
      String base = "http://" + Lab.SERVER_IP + ":" + d.port();

      // The rogue asks for node01's script: the boot-local one, no secret.
      String script = curl(lab, rogue, List.of(base + "/boot/" + nodeMac + ".ipxe"));
      assertTrue(script.contains("sanboot") && !script.contains("clonecast.secret"), script);

      List<String> before = attempts(lab, rogue, base, nodeMac);
      int port = sessionState(lab, d).path("port").asInt();
      for (String[] hello :
          List.of(
              new String[] {"node01"},
              new String[] {"node01", "00".repeat(32)},
              new String[] {"rogue"})) {
        List<String> args =
            new ArrayList<>(List.of("hello", Lab.SERVER_IP, Integer.toString(port)));
        args.addAll(List.of(hello));
        LabProcess join = lab.spawn(rogue, "rogue-hello", rogueScript(lab, args), Map.of());
        assertEquals(0, join.waitFor(Duration.ofSeconds(60)), join.tail(10));
        assertTrue(
            join.log().contains("END join refused: "),
            "the multicast took a rogue HELLO " + args + ":\n" + join.log());
      }
      LabProcess agent = lab.spawn(node, "agent-node01", SessionLab.agent(d), Map.of());
      await()
          .atMost(STEP)
          .pollInterval(Duration.ofMillis(300))
          .until(() -> !agent.isAlive() || !memberState(lab, d).equals("waiting"));
      // The real agent registered: the rogue tries again to take over its session.
      List<String> after = attempts(lab, rogue, base, nodeMac);
      for (String code : concat(before, after)) {
        assertEquals(
            "403", code, "every forged call is refused: before " + before + ", after " + after);
      }

      assertEquals(0, agent.waitFor(STEP), agent.tail(30));
      await()
          .atMost(STEP)
          .pollInterval(Duration.ofMillis(500))
          .until(
              () ->
                  !sessionState(lab, d).path("state").asText().equals("running")
                      && !sessionState(lab, d).path("state").asText().equals("waiting"));
      JsonNode s = sessionState(lab, d);
      assertEquals("done", s.path("state").asText(), s.toString());
      assertEquals("1 of 1 node(s) re-imaged", s.path("detail").asText(), s.toString());
      JsonNode m = s.path("members").get(0);
      assertTrue(
          m.path("detail").asText().contains("bytes written and verified"),
          "the real node's own report: " + m);
      assertTrue(m.path("bytesDone").asLong() > 0, m.toString());

      Path work = Files.createDirectories(lab.dir().resolve("work"));
      assertEquals(
          SessionLab.sha(golden, "/home/admin/dataset.bin", work),
          SessionLab.sha(disk, "/home/admin/dataset.bin", work),
          "node01 holds the golden data");
      assertEquals("node01\n", SessionLab.cat(disk, "/etc/hostname"));
      JsonNode n = JSON.readTree(cli(lab, d, 0, "node", "list", "--json")).get(0);
      String key = n.path("sshHostKey").asText();
      assertTrue(key.startsWith("ssh-ed25519 ") && !key.equals(ROGUE_KEY), n.toString());
      String hosts = curl(lab, rogue, List.of(base + "/boot/known_hosts"));
      assertTrue(hosts.contains("node01,") && hosts.contains(key.split(" ")[1]), hosts);
      assertFalse(hosts.contains(ROGUE_KEY.split(" ")[1]), hosts);
    }
  }

  /**
   * Each agent call for node01 from the rogue, without and with guessed secrets; the HTTP codes.
   */
  private static List<String> attempts(Lab lab, Host rogue, String base, String nodeMac)
      throws IOException {
    List<String> codes = new ArrayList<>();
    String register =
        "{\"mac\":\""
            + nodeMac
            + "\",\"disks\":[{\"path\":\"/dev/vda\",\"size\":68719476736,\"removable\":false}]}";
    String progress =
        "{\"mac\":\""
            + nodeMac
            + "\",\"session\":1,\"phase\":\"receiving\",\"done\":67108864,\"total\":67108864}";
    String result =
        "{\"mac\":\""
            + nodeMac
            + "\",\"session\":1,\"ok\":true,\"detail\":\"re-imaged\",\"sshHostKey\":\""
            + ROGUE_KEY
            + "\"}";
    String begin = "{\"mac\":\"" + nodeMac + "\",\"logicalSize\":1048576,\"chunkSize\":1048576}";
    for (String auth :
        new String[] {
          null,
          "Clonecast 00000000000000000000000000000000",
          "Clonecast 0123456789abcdef0123456789abcdef",
          "Bearer 0123456789abcdef"
        }) {
      for (String[] call :
          List.of(
              new String[] {"register", register},
              new String[] {"progress", progress},
              new String[] {"result", result},
              new String[] {"capture/1/begin", begin})) {
        List<String> args =
            new ArrayList<>(
                List.of(
                    "-X",
                    "POST",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    call[1],
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}"));
        if (auth != null) args.addAll(List.of("-H", "Authorization: " + auth));
        args.add(base + "/agent/v1/" + call[0]);
        codes.add(curl(lab, rogue, args).trim());
      }
    }
    return codes;
  }

  private static List<String> rogueScript(Lab lab, List<String> args) throws IOException {
    Path script = lab.dir().resolve("mcast_rogue.py");
    if (!Files.exists(script)) {
      try (InputStream in = ImpersonationIT.class.getResourceAsStream("/trust/mcast_rogue.py")) {
        Files.copy(in, script);
      }
    }
    List<String> cmd = new ArrayList<>(List.of("python3", script.toString()));
    cmd.addAll(args);
    return cmd;
  }

  private static String curl(Lab lab, Host h, List<String> args) {
    List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10"));
    cmd.addAll(args);
    LabProcess p = lab.spawn(h, "curl", cmd, Map.of());
    assertEquals(0, p.waitFor(Duration.ofSeconds(30)), p.tail(10));
    return p.log();
  }

  private static JsonNode sessionState(Lab lab, Daemon d) throws IOException {
    return JSON.readTree(cli(lab, d, 0, "session", "list", "--json")).get(0);
  }

  private static String memberState(Lab lab, Daemon d) throws IOException {
    return sessionState(lab, d).path("members").get(0).path("state").asText();
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}

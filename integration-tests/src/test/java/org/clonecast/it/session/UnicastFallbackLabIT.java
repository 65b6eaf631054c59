package org.clonecast.it.session;

import static org.awaitility.Awaitility.await;
import static org.clonecast.it.session.SessionLab.STEP;
import static org.clonecast.it.session.SessionLab.agent;
import static org.clonecast.it.session.SessionLab.cat;
import static org.clonecast.it.session.SessionLab.cli;
import static org.clonecast.it.session.SessionLab.enrollAll;
import static org.clonecast.it.session.SessionLab.goldenDisk;
import static org.clonecast.it.session.SessionLab.mac;
import static org.clonecast.it.session.SessionLab.serve;
import static org.clonecast.it.session.SessionLab.sha;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.session.SessionLab.Daemon;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Nobody left behind (issue 17, docs/unicast.md): four nodes in one daemon session, each switch
 * port paced to 32 Mbit/s so the multicast lasts a few seconds. node03's multicast is dropped by
 * nftables in its namespace from the start; node04's is cut once it has written a quarter of the
 * image. Both finish by HTTP range requests from the daemon, every chunk checked against the
 * manifest; node01 and node02 take everything by multicast. Asserted on paths and byte counts (the
 * session's record, the agents' summaries, the metrics), never on times.
 */
@LightLane
class UnicastFallbackLabIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "java", "curl", "sfdisk", "mkfs.ext4", "debugfs");
    Checkout.built(false);
  }

  @Test
  void aNodeBlockedFromTheStartAndOneCutMidSessionFinishByUnicast() throws Exception {
    try (Lab lab = Lab.create("unicast", 4)) {
      Path golden = goldenDisk(lab.dir());
      Daemon d = serve(lab);
      cli(lab, d, 0, "image", "add", "golden", golden.toString());
      List<Path> disks = enrollAll(lab, d);
      for (Host h : lab.agents()) lab.rateLimit(h, 32);
      Host blocked = lab.agent(3);
      Host cut = lab.agent(4);
      lab.dropMulticast(blocked);

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
      Map<Host, LabProcess> agents = new HashMap<>();
      for (Host h : lab.agents())
        agents.put(
            h, lab.spawn(h, "agent-" + h.name(), agent(d, "--unicast-after", "3"), Map.of()));
      // node04 is cut off the group once it has written a quarter of the image by multicast.
      await()
          .atMost(STEP)
          .pollInterval(Duration.ofMillis(50))
          .until(
              () ->
                  agents.get(cut).log().contains("mcast progress 25%")
                      || !agents.get(cut).isAlive());
      lab.dropMulticast(cut);
      assertTrue(agents.get(cut).isAlive(), agents.get(cut).tail(30));
      assertTrue(
          !agents.get(cut).log().contains("mcast progress 75%"),
          "cut before it had the image:\n" + agents.get(cut).tail(30));

      // A caller without the node's secret gets nothing from the fallback.
      LabProcess anonymous =
          lab.spawn(
              lab.agent(1),
              "anonymous",
              List.of(
                  "curl",
                  "-sS",
                  "-o",
                  "/dev/null",
                  "-w",
                  "%{http_code}",
                  "-H",
                  "Range: bytes=4096-8191",
                  "http://"
                      + Lab.SERVER_IP
                      + ":"
                      + d.port()
                      + "/agent/v1/sessions/1/image?mac="
                      + mac(blocked)),
              Map.of());
      assertEquals(0, anonymous.waitFor(STEP), anonymous.tail(10));
      assertEquals("403", anonymous.log().trim());

      LabProcess watch =
          lab.spawn(
              lab.server(),
              "watch",
              List.of(SessionLab.repo().resolve("clonecast").toString(), "session", "watch"),
              d.env());
      assertEquals(0, watch.waitFor(Duration.ofSeconds(240)), watch.tail(40));
      for (Host h : lab.agents()) {
        assertEquals(0, agents.get(h).waitFor(STEP), h.name() + ":\n" + agents.get(h).tail(30));
      }
      assertTrue(watch.log().contains("node03: by unicast"), watch.log());
      assertTrue(watch.log().contains("node04: by multicast and unicast"), watch.log());
      assertTrue(watch.log().contains("node01: by multicast"), watch.log());

      // The session's record: which path each node's bytes took.
      JsonNode s = JSON.readTree(cli(lab, d, 0, "session", "list", "--json")).get(0);
      assertEquals("done", s.path("state").asText(), s.toString());
      Map<String, JsonNode> byName = new HashMap<>();
      for (JsonNode m : s.path("members")) byName.put(m.path("name").asText(), m);
      for (String n : List.of("node01", "node02")) {
        assertEquals("multicast", byName.get(n).path("path").asText(), byName.get(n).toString());
        assertEquals(0, byName.get(n).path("unicastBytes").asLong(), byName.get(n).toString());
      }
      // The sender told the two apart: their zero loss (no packet seen, none missed) did not pace
      // the others (before, it made the group's median and the sender ran 523 passes at the wire's
      // rate past the hearing nodes' ports).
      for (String n : List.of("node01", "node02"))
        assertTrue(
            !byName.get(n).path("wire").asText().contains("no multicast reached it"),
            byName.get(n).toString());
      for (String n : List.of("node03", "node04"))
        assertTrue(
            byName.get(n).path("wire").asText().contains("no multicast reached it"),
            byName.get(n).toString());
      JsonNode n3 = byName.get("node03");
      assertEquals("unicast", n3.path("path").asText(), n3.toString());
      assertEquals(n3.path("bytesDone").asLong(), n3.path("unicastBytes").asLong(), n3.toString());
      JsonNode n4 = byName.get("node04");
      assertEquals("both", n4.path("path").asText(), n4.toString());
      assertTrue(
          n4.path("unicastBytes").asLong() > 0
              && n4.path("unicastBytes").asLong() < n4.path("bytesDone").asLong(),
          n4.toString());
      // The agents say it too, and the daemon counted what it served.
      assertTrue(agents.get(blocked).log().contains(", by unicast"), agents.get(blocked).tail(20));
      assertTrue(
          agents.get(cut).log().contains("by multicast and unicast"), agents.get(cut).tail(20));
      assertTrue(
          agents.get(lab.agent(1)).log().contains(", by multicast"),
          agents.get(lab.agent(1)).tail(20));
      String metrics = SessionLab.metrics(lab, d);
      long served = metric(metrics, "clonecast_unicast_sent_bytes_total");
      assertTrue(
          served >= n3.path("unicastBytes").asLong() / 2,
          "stored bytes served (compressed) " + served + "\n" + metrics);
      String events = cli(lab, d, 0, "events", "--limit", "200");
      assertTrue(events.contains("node03 takes chunks by unicast"), events);
      assertTrue(events.contains("node04 takes chunks by unicast"), events);

      // Every disk holds the golden data, under its own name.
      String want = sha(golden, "/home/admin/dataset.bin", lab.dir());
      List<String> got = new ArrayList<>();
      for (int i = 1; i <= 4; i++) {
        Path disk = disks.get(i - 1);
        got.add(sha(disk, "/home/admin/dataset.bin", lab.dir()));
        assertEquals("node0" + i + "\n", cat(disk, "/etc/hostname"));
      }
      assertEquals(List.of(want, want, want, want), got);
    }
  }

  private static long metric(String text, String name) {
    return text.lines()
        .filter(l -> l.startsWith(name + " "))
        .map(l -> (long) Double.parseDouble(l.substring(name.length() + 1).trim()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + name + " in\n" + text));
  }
}

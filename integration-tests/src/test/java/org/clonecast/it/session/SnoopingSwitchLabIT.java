package org.clonecast.it.session;

import static org.clonecast.it.session.SessionLab.STEP;
import static org.clonecast.it.session.SessionLab.agent;
import static org.clonecast.it.session.SessionLab.cli;
import static org.clonecast.it.session.SessionLab.enrollAll;
import static org.clonecast.it.session.SessionLab.goldenDisk;
import static org.clonecast.it.session.SessionLab.serve;
import static org.clonecast.it.session.SessionLab.sha;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
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
 * A switch with IGMP snooping and no working querier (issue 17, docs/switches.md): br0 with {@code
 * mcast_snooping 1} and a 6 s membership interval; its own querier is on but asks once an hour, so
 * br0 forwards a group only to the ports that reported it (a Linux bridge that knows of no querier
 * floods every group instead) and no host is asked to report again after its join. Each agent port
 * paced to 16 Mbit/s so the multicast lasts well past the membership interval. Two nodes, two
 * sessions of the same image on one daemon:
 *
 * <ol>
 *   <li>{@code session.igmp-querier = off}: the memberships the agents' joins made end after the
 *       membership interval and the switch stops forwarding the group to them (their own re-joins
 *       come every 60 s); both nodes finish by unicast from the daemon (docs/unicast.md);
 *   <li>the daemon restarted with the default ({@code auto}, a query every 2 s): it hears no
 *       querier it counts (br0's queries come from 0.0.0.0) and queries; every host reports when
 *       asked, and both nodes take every byte by multicast.
 * </ol>
 *
 * Asserted on the sessions' records (each node's path and unicast bytes), the querier's metrics and
 * events, the agents' summaries and the disks' data; never on times.
 */
@LightLane
class SnoopingSwitchLabIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "bridge", "nft", "tc", "java", "curl", "sfdisk", "mkfs.ext4", "debugfs");
    Checkout.built(false);
  }

  @Test
  void withoutAQuerierNodesFinishByUnicastWithTheDaemonsMulticastCarriesOn() throws Exception {
    try (Lab lab =
        Lab.builder("snoop")
            .agents(2)
            .multicastSnooping(true)
            .igmpQuerier(true)
            .igmpQueryInterval(Duration.ofHours(1))
            .create()) {
      // Three query intervals of the daemon (2 s): one late or lost report does not end the group
      // on a loaded machine, and still a tenth of the agents' 60 s re-join interval.
      lab.igmpMembershipInterval(Duration.ofSeconds(6));
      // Paced so the multicast outlasts the membership interval (about 15 s for the image).
      for (Host h : lab.agents()) lab.rateLimit(h, 16);
      Path golden = goldenDisk(lab.dir());
      String want = sha(golden, "/home/admin/dataset.bin", lab.dir());

      // 1. Nobody asks the hosts to report: the group stops after the membership interval, and
      // both nodes finish by unicast.
      Path off = lab.dir().resolve("querier-off.conf");
      Files.writeString(off, "session.igmp-querier = off\n");
      Daemon d = serve(lab, 0, List.of("--config", off.toString()));
      cli(lab, d, 0, "image", "add", "golden", golden.toString());
      List<Path> disks = enrollAll(lab, d);
      Map<Host, LabProcess> agents = session(lab, d);
      Map<String, JsonNode> members = members(lab, d, 1);
      for (String n : List.of("node01", "node02")) {
        JsonNode m = members.get(n);
        assertTrue(List.of("unicast", "both").contains(m.path("path").asText()), m.toString());
        assertTrue(m.path("unicastBytes").asLong() > 0, m.toString());
        assertTrue(m.path("wire").asText().contains("no multicast reached it"), m.toString());
      }
      for (LabProcess a : agents.values())
        assertTrue(a.log().contains("unicast"), "the summary names the path:\n" + a.tail(10));
      assertEquals(-1, metric(lab, d, "clonecast_igmp_querier"), "no querier when off");
      for (Path disk : disks) assertEquals(want, sha(disk, "/home/admin/dataset.bin", lab.dir()));

      // 2. The daemon as the segment's querier (the default, auto): multicast to the end.
      d.process().kill(Signal.TERM);
      d.process().waitFor(Duration.ofSeconds(30));
      for (Path disk : disks) {
        SessionLab.run("truncate", "-s", "0", disk.toString());
        SessionLab.run("truncate", "-s", "64M", disk.toString());
      }
      Path auto = lab.dir().resolve("querier-auto.conf");
      Files.writeString(auto, "session.igmp-query-interval = 2\n");
      Daemon q = serve(lab, 0, List.of("--config", auto.toString()));
      Awaitility.await("the daemon querying")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(300))
          .until(() -> metric(lab, q, "clonecast_igmp_queries_sent_total") >= 1);
      agents = session(lab, q);
      members = members(lab, q, 2);
      for (String n : List.of("node01", "node02")) {
        JsonNode m = members.get(n);
        assertEquals("multicast", m.path("path").asText(), m.toString());
        assertEquals(0, m.path("unicastBytes").asLong(), m.toString());
      }
      for (LabProcess a : agents.values()) {
        assertTrue(a.log().contains(", by multicast"), a.tail(10));
        // The agents did not keep the group alive themselves: the queries did.
        assertTrue(a.log().contains(" 0 IGMP re-joins"), a.tail(10));
      }
      assertEquals(1, metric(lab, q, "clonecast_igmp_querier"), "nobody else queries here");
      assertTrue(metric(lab, q, "clonecast_igmp_queries_sent_total") >= 3);
      assertEquals(0, metric(lab, q, "clonecast_igmp_malformed_total"));
      String events = cli(lab, q, 0, "events", "--limit", "200");
      assertTrue(events.contains("the daemon is its querier"), events);
      for (Path disk : disks) assertEquals(want, sha(disk, "/home/admin/dataset.bin", lab.dir()));
    }
  }

  /**
   * The election against a real querier: br0's own, sending every 2 s from 10.77.0.250. In {@code
   * auto} the daemon hears it in its first query interval and leaves it the role (no query sent,
   * the event names it); with {@code on} it queries, and keeps querying since br0's address is the
   * higher one, while br0 stands down (RFC 2236: the lower address wins).
   */
  @Test
  void autoLeavesTheRoleToAQuerierAlreadyThereAndOnKeepsItAgainstAHigherAddress() throws Exception {
    try (Lab lab =
        Lab.builder("elect")
            .agents(1)
            .multicastSnooping(true)
            .igmpQuerier(true)
            .igmpQueryInterval(Duration.ofSeconds(2))
            .create()) {
      lab.switchAddress("10.77.0.250/24");
      Path auto = lab.dir().resolve("auto.conf");
      Files.writeString(auto, "session.igmp-query-interval = 4\n");
      Daemon d = serve(lab, 0, List.of("--config", auto.toString()));
      Awaitility.await("br0's queries heard")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> metric(lab, d, "clonecast_igmp_queries_heard_total") >= 2);
      assertEquals(0, metric(lab, d, "clonecast_igmp_querier"), "auto defers to br0");
      assertEquals(0, metric(lab, d, "clonecast_igmp_queries_sent_total"));
      String events = cli(lab, d, 0, "events", "--limit", "50");
      assertTrue(events.contains("IGMP querier 10.77.0.250 found on eth0"), events);
      d.process().kill(Signal.TERM);
      d.process().waitFor(Duration.ofSeconds(30));

      Path on = lab.dir().resolve("on.conf");
      Files.writeString(on, "session.igmp-querier = on\nsession.igmp-query-interval = 4\n");
      Daemon q = serve(lab, 0, List.of("--config", on.toString()));
      Awaitility.await("three queries sent")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> metric(lab, q, "clonecast_igmp_queries_sent_total") >= 3);
      double heard = metric(lab, q, "clonecast_igmp_queries_heard_total");
      Awaitility.await("two more queries sent")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> metric(lab, q, "clonecast_igmp_queries_sent_total") >= 5);
      // br0 follows the same election: it stood down for the lower address and stopped its
      // queries (one every 2 s, twice as often as the daemon's).
      assertEquals(heard, metric(lab, q, "clonecast_igmp_queries_heard_total"));
      assertEquals(1, metric(lab, q, "clonecast_igmp_querier"), "10.77.0.1 is the lower address");
      assertEquals(0, metric(lab, q, "clonecast_igmp_stand_downs_total"));
      assertEquals(0, metric(lab, q, "clonecast_igmp_malformed_total"));
    }
  }

  /** Starts a session of golden on rack1 and both agents; returns them once the session is done. */
  private static Map<Host, LabProcess> session(Lab lab, Daemon d) {
    cli(lab, d, 0, "session", "start", "--image", "golden", "--nodes", "rack1", "--max-wait", "60");
    Map<Host, LabProcess> agents = new HashMap<>();
    for (Host h : lab.agents())
      agents.put(h, lab.spawn(h, "agent-" + h.name(), agent(d, "--unicast-after", "5"), Map.of()));
    for (Host h : lab.agents())
      assertEquals(0, agents.get(h).waitFor(STEP), h.name() + ":\n" + agents.get(h).tail(30));
    return agents;
  }

  /** Session {@code id}'s members by name, once its record says done. */
  private static Map<String, JsonNode> members(Lab lab, Daemon d, int id) {
    JsonNode[] done = new JsonNode[1];
    Awaitility.await("session " + id + " done")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () -> {
              for (JsonNode s : JSON.readTree(cli(lab, d, 0, "session", "list", "--json")))
                if (s.path("id").asInt() == id && s.path("state").asText().equals("done"))
                  done[0] = s;
              return done[0] != null;
            });
    Map<String, JsonNode> byName = new HashMap<>();
    for (JsonNode m : done[0].path("members")) byName.put(m.path("name").asText(), m);
    return byName;
  }

  /** One value of the daemon's metrics, -1 when absent. */
  private static double metric(Lab lab, Daemon d, String name) throws Exception {
    return SessionLab.metrics(lab, d)
        .lines()
        .filter(l -> l.startsWith(name + " "))
        .mapToDouble(l -> Double.parseDouble(l.substring(name.length() + 1).trim()))
        .findFirst()
        .orElse(-1);
  }
}

package org.clonecast.it.lab;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The lab itself: reachability, multicast flooding, loss, rate limit, and cleanup on every path.
 */
@LightLane
class LabIT {
  private static final Duration WAIT = Duration.ofSeconds(15);
  private static final int BURST = 2000;

  /**
   * Counts datagrams on a port (joining a group unless it is "-") until an "E" datagram arrives or
   * 10 s pass, then prints "received N". Prints "ready" once it listens.
   */
  private static final String RECEIVER =
      """
      import socket, struct, sys, time
      group, port, local_ip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
      s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
      s.bind(('', port))
      if group != '-':
          mreq = struct.pack('4s4s', socket.inet_aton(group), socket.inet_aton(local_ip))
          s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
      s.settimeout(0.2)
      print('ready', flush=True)
      n, deadline = 0, time.monotonic() + 10
      while time.monotonic() < deadline:
          try:
              d = s.recv(2048)
          except socket.timeout:
              continue
          if d == b'E':
              break
          n += 1
      print('received', n, flush=True)
      """;

  /**
   * Sends COUNT 64-byte datagrams, pausing briefly every 50 so that no receive buffer overflows,
   * then 20 end markers. No interface is chosen: multicast relies on the lab's 224/4 route.
   */
  private static final String SENDER =
      """
      import socket, sys, time
      dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
      s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
      s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
      for i in range(count):
          s.sendto(b'D' * 64, (dst, port))
          if i % 50 == 49:
              time.sleep(0.002)
      for i in range(20):
          s.sendto(b'E', (dst, port))
          time.sleep(0.005)
      """;

  private static final Pattern RECEIVED = Pattern.compile("received (\\d+)");

  private static Lab lab;

  @BeforeAll
  static void createLab() throws IOException {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "setsid", "kill", "ping", "python3");
    lab = Lab.create("labit", 2);
  }

  @AfterAll
  static void closeLab() {
    if (lab != null) {
      lab.close();
    }
  }

  @Test
  void topologyMatchesTheContract() throws IOException {
    assertEquals("10.77.0.1", lab.server().ip());
    assertEquals(List.of("10.77.0.11", "10.77.0.12"), lab.agents().stream().map(Host::ip).toList());
    assertEquals(lab.agent(2), lab.agents().get(1));
    assertThrows(IllegalArgumentException.class, () -> lab.agent(3));
    List<String> ns =
        Lab.listNamespaces().stream()
            .filter(n -> n.startsWith(lab.prefix() + "-"))
            .sorted()
            .toList();
    String p = lab.prefix();
    assertEquals(List.of(p + "-a1", p + "-a2", p + "-s", p + "-sw"), ns);
    String addr =
        Exec.check(
            List.of("ip", "-n", lab.agent(1).netns(), "-4", "addr", "show", "dev", "eth0"), null);
    assertTrue(addr.contains("inet 10.77.0.11/24 brd 10.77.0.255"), addr);
    assertTrue(addr.contains("mtu 1500"), addr);
    String br = Exec.check(List.of("ip", "-n", p + "-sw", "-d", "link", "show", "br0"), null);
    assertTrue(br.contains("mcast_snooping 0"), br);
    // Nothing of the lab may appear in the namespace the tests run in.
    String rootLinks = Exec.check(List.of("ip", "-br", "link"), null);
    assertFalse(rootLinks.contains("sw-a1") || rootLinks.contains("sw-s@"), rootLinks);
  }

  @Test
  void agentsReachTheServer() {
    for (Host a : lab.agents()) {
      LabProcess ping =
          lab.spawn(
              a, "ping-" + a.name(), List.of("ping", "-c1", "-W1", lab.server().ip()), Map.of());
      assertEquals(0, ping.waitFor(WAIT), ping.log());
    }
  }

  @Test
  void multicastFromTheServerReachesEveryAgent() {
    List<LabProcess> receivers = startReceivers(lab.agents(), "239.77.1.1", 5001, "mc");
    send("239.77.1.1", 5001, 100, "mc-send");
    for (LabProcess r : receivers) {
      assertEquals(100, received(r), r.name());
    }
  }

  @Test
  void lossDropsItsShareOfMulticastAndUnicast() {
    Host lossy = lab.agent(1);
    lab.loss(lossy, 30);
    try {
      List<LabProcess> mc = startReceivers(lab.agents(), "239.77.1.2", 5002, "loss-mc");
      send("239.77.1.2", 5002, BURST, "loss-mc-send");
      int lossyCount = received(mc.get(0));
      int cleanCount = received(mc.get(1));
      assertTrue(cleanCount >= BURST * 0.95, "the agent without loss got only " + cleanCount);
      double share = (double) lossyCount / cleanCount;
      assertTrue(
          share > 0.6 && share < 0.8,
          "30 % loss let " + lossyCount + " of " + cleanCount + " through");

      List<LabProcess> uc = startReceivers(List.of(lossy), "-", 5003, "loss-uc");
      send(lossy.ip(), 5003, BURST, "loss-uc-send");
      double ucShare = (double) received(uc.get(0)) / BURST;
      assertTrue(
          ucShare > 0.6 && ucShare < 0.8, "30 % loss let " + ucShare + " of unicast through");
    } finally {
      lab.loss(lossy, 0);
    }
    List<LabProcess> after = startReceivers(List.of(lossy), "-", 5004, "noloss-uc");
    send(lossy.ip(), 5004, 200, "noloss-uc-send");
    assertEquals(200, received(after.get(0)), "loss 0 must remove the rule");
  }

  @Test
  void aHundredPercentLossIsAPlainDrop() throws IOException {
    List<String> list =
        List.of("ip", "netns", "exec", lab.agent(2).netns(), "nft", "list", "ruleset");
    lab.loss(lab.agent(2), 100);
    try {
      String rules = Exec.check(list, null);
      assertTrue(rules.contains("meta l4proto udp counter") && !rules.contains("numgen"), rules);
    } finally {
      lab.loss(lab.agent(2), 0);
    }
    assertEquals("", Exec.check(list, null).strip());
  }

  @Test
  void rateLimitShapesTheSwitchPortTowardTheHost() throws IOException {
    List<String> show = List.of("tc", "-n", lab.prefix() + "-sw", "qdisc", "show", "dev", "sw-a2");
    lab.rateLimit(lab.agent(2), 200);
    try {
      String q = Exec.check(show, null);
      assertTrue(q.contains("tbf") && q.contains("rate 200Mbit"), q);
    } finally {
      lab.rateLimit(lab.agent(2), 0);
    }
    assertFalse(Exec.check(show, null).contains("tbf"));
  }

  /**
   * A second lab, with the same addresses, next to the first; its body throws. Afterwards none of
   * its namespaces and none of its processes are left, including a child that ignores SIGTERM and a
   * grandchild, and the outer lab still works.
   */
  @Test
  void closeRemovesEverythingEvenWhenTheBodyThrows() throws IOException {
    AtomicReference<String> prefix = new AtomicReference<>();
    List<Long> pids = new ArrayList<>();
    Path grandchildPid = lab.dir().resolve("grandchild.pid");
    IllegalStateException thrown =
        assertThrows(
            IllegalStateException.class,
            () -> {
              try (Lab inner = Lab.create("nested", 1)) {
                prefix.set(inner.prefix());
                pids.add(
                    inner.spawn(inner.agent(1), "sleeper", List.of("sleep", "60"), Map.of()).pid());
                LabProcess stubborn =
                    inner.spawn(
                        inner.server(),
                        "stubborn",
                        List.of(
                            "sh",
                            "-c",
                            "trap '' TERM; sleep 60 & echo $! > " + grandchildPid + "; wait"),
                        Map.of());
                pids.add(stubborn.pid());
                await()
                    .atMost(WAIT)
                    .pollInterval(Duration.ofMillis(20))
                    .until(
                        () ->
                            Files.exists(grandchildPid)
                                && !Files.readString(grandchildPid).isBlank());
                pids.add(Long.parseLong(Files.readString(grandchildPid).trim()));
                throw new IllegalStateException("test body failed");
              }
            });
    assertEquals("test body failed", thrown.getMessage());
    assertTrue(
        Lab.listNamespaces().stream().noneMatch(n -> n.startsWith(prefix.get() + "-")),
        "namespaces left: " + Lab.listNamespaces());
    for (long pid : pids) {
      assertEquals(-1, LabProcess.processGroup(pid), "pid " + pid + " survived close()");
    }
    agentsReachTheServer();
  }

  @Test
  void closeIsIdempotentAndRefusesNewProcesses() throws IOException {
    Lab l = Lab.create("twice", 1);
    l.close();
    l.close();
    assertThrows(
        IllegalStateException.class, () -> l.spawn(l.server(), "late", List.of("true"), Map.of()));
  }

  // ---- helpers

  private static List<LabProcess> startReceivers(
      List<Host> hosts, String group, int port, String name) {
    List<LabProcess> rs = new ArrayList<>();
    for (Host h : hosts) {
      rs.add(
          lab.spawn(
              h,
              name + "-" + h.name(),
              List.of("python3", "-c", RECEIVER, group, Integer.toString(port), h.ip()),
              Map.of()));
    }
    for (LabProcess r : rs) {
      await()
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(20))
          .until(() -> r.log().contains("ready"));
    }
    return rs;
  }

  private static void send(String dst, int port, int count, String name) {
    LabProcess s =
        lab.spawn(
            lab.server(),
            name,
            List.of("python3", "-c", SENDER, dst, Integer.toString(port), Integer.toString(count)),
            Map.of());
    assertEquals(0, s.waitFor(WAIT), s.log());
  }

  private static int received(LabProcess r) {
    assertEquals(0, r.waitFor(WAIT), r.log());
    Matcher m = RECEIVED.matcher(r.log());
    assertTrue(m.find(), r.log());
    return Integer.parseInt(m.group(1));
  }
}

package org.clonecast.it.udpcast;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.mcast.Images;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * clonecast's udpcast mode against the stock udpcast 20120424 tools (udp-sender, udp-receiver)
 * in the namespace lab; every output is checked by SHA-256.
 */
class UdpcastInteropIT {
  private static final Duration SESSION = Duration.ofSeconds(60);
  private static Path repo;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "java", "udp-sender", "udp-receiver");
    repo = Path.of(System.getProperty("clonecast.repo", "../")).toAbsolutePath().normalize();
    assertTrue(Files.exists(repo.resolve("server/target/clonecast.jar")), "build the jars first (mvn install)");
  }

  private static List<String> ourSender(Path img, int receivers) {
    return List.of(repo.resolve("clonecast").toString(), "send", img.toString(), "--udpcast", "--interface", Lab.IFACE,
        "--min-receivers", Integer.toString(receivers), "--max-wait", "30", "--receiver-timeout", "5");
  }

  private static List<String> stockReceiver(Path out) {
    return List.of("udp-receiver", "--nokbd", "--interface", Lab.IFACE, "--file", out.toString());
  }

  private static Path out(Lab lab, Host h) {
    return lab.dir().resolve("out-" + h.name() + ".img");
  }

  /** One stock receiver: our sender goes point-to-point (unicast), as stock would. */
  @Test
  void ourSenderToOneStockReceiver() throws IOException {
    try (Lab lab = Lab.create("ucs1", 1)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 32, 11);
      // An odd length: the last data slice is short and its last block shorter still.
      appendTail(img, 777);
      LabProcess rcv = lab.spawn(lab.agent(1), "udp-receiver", stockReceiver(out(lab, lab.agent(1))), Map.of());
      LabProcess sender = lab.spawn(lab.server(), "send", ourSender(img, 1), Map.of());
      assertEquals(0, sender.waitFor(SESSION), sender.tail(30));
      assertTrue(sender.log().contains("started with 1 receiver(s) (point-to-point)"), sender.log());
      assertEquals(0, rcv.waitFor(Duration.ofSeconds(20)), rcv.tail(20));
      assertSame(img, out(lab, lab.agent(1)));
    }
  }

  /** Three stock receivers on the multicast group, one of them losing 2% of everything it receives. */
  @Test
  void ourSenderToThreeStockReceiversOneWithLoss() throws IOException {
    try (Lab lab = Lab.create("ucs3", 3)) {
      Path img = Images.mixed(lab.dir(), "disk.raw", 32, 12);
      lab.loss(lab.agent(2), 2);
      List<LabProcess> rcvs = new ArrayList<>();
      for (Host a : lab.agents()) rcvs.add(lab.spawn(a, "udp-receiver-" + a.name(), stockReceiver(out(lab, a)), Map.of()));
      LabProcess sender = lab.spawn(lab.server(), "send", ourSender(img, 3), Map.of());
      assertEquals(0, sender.waitFor(SESSION), sender.tail(30));
      assertTrue(sender.log().contains("started with 3 receiver(s)\n"), sender.log());
      for (LabProcess r : rcvs) {
        assertEquals(0, r.waitFor(Duration.ofSeconds(20)), r.tail(20));
        assertSame(img, out(lab, r.host()));
      }
    }
  }

  private static void appendTail(Path img, int bytes) throws IOException {
    byte[] tail = new byte[bytes];
    for (int i = 0; i < bytes; i++) tail[i] = (byte) (i * 31 + 7);
    Files.write(img, tail, java.nio.file.StandardOpenOption.APPEND);
  }

  private static void assertSame(Path want, Path got) throws IOException {
    assertTrue(Files.exists(got), got + " missing");
    assertEquals(Files.size(want), Files.size(got), got + " has the wrong length");
    assertEquals(Images.sha256(want, Files.size(want)), Images.sha256(got, Files.size(got)), got + " differs");
  }
}

package org.clonecast.it.pxe;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code clonecast serve} answers an IPv6 Router Solicitation with the harmless advert (router
 * lifetime 0, no prefix, no M/O flags, our MAC) that keeps iPXE from waiting for IPv6, and with
 * {@code boot.router-advert = false} sends nothing.
 */
@LightLane
class RouterAdvertIT {
  /**
   * Sends Router Solicitations from eth0 until an advert arrives (or 20 s pass) and prints it as
   * "RA hop flags lifetime options-hex source"; exit 1 when none came.
   */
  private static final String SOLICIT =
      """
      import socket, struct, sys, time
      s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
      s.setsockopt(socket.SOL_SOCKET, 25, b"eth0\\0")
      s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
      idx = socket.if_nametoindex("eth0")
      end = time.time() + float(sys.argv[1])
      while time.time() < end:
          try:
              s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, idx))
          except OSError:
              time.sleep(0.2)   # link-local address still tentative
              continue
          s.settimeout(1.0)
          try:
              while True:
                  data, addr = s.recvfrom(1500)
                  if data[0] == 134:
                      hop, flags, life = data[4], data[5], struct.unpack("!H", data[6:8])[0]
                      print("RA", hop, flags, life, data[16:].hex(), addr[0], flush=True)
                      sys.exit(0)
          except socket.timeout:
              pass
      sys.exit(1)
      """;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "python3", "java");
    Checkout.built(false);
  }

  private static LabProcess serve(Lab lab, String... extra) throws IOException {
    Path conf = lab.dir().resolve("clonecast.conf");
    Files.writeString(conf, String.join("\n", extra) + "\n");
    LabProcess serve =
        lab.spawn(
            lab.server(),
            "serve",
            Checkout.clonecast(
                "serve",
                "--interface",
                Lab.IFACE,
                "--state-dir",
                lab.dir().resolve("state").toString(),
                "--http-port",
                "0",
                "--config",
                conf.toString()),
            Map.of());
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> serve.log().contains("clonecast serve: ready") || !serve.isAlive());
    assertTrue(serve.isAlive(), serve.tail(20));
    return serve;
  }

  private static String mac(Lab lab, Host h) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder("ip", "netns", "exec", h.netns(), "cat", "/sys/class/net/eth0/address")
            .start();
    String mac = new String(p.getInputStream().readAllBytes()).trim();
    assertEquals(0, p.waitFor());
    return mac;
  }

  @Test
  void solicitationIsAnsweredWithAHarmlessAdvert() throws Exception {
    try (Lab lab = Lab.create("ra", 1)) {
      serve(lab, "# defaults: router adverts on");
      Path script = lab.dir().resolve("solicit.py");
      Files.writeString(script, SOLICIT);
      LabProcess rs =
          lab.spawn(lab.agent(1), "solicit", List.of("python3", script.toString(), "40"), Map.of());
      assertEquals(0, rs.waitFor(Duration.ofSeconds(60)), rs.tail(20));
      String[] f =
          rs.log().lines().filter(l -> l.startsWith("RA ")).findFirst().orElseThrow().split(" ");
      assertEquals("0", f[1], "cur hop limit");
      assertEquals("0", f[2], "no M or O flag: no DHCPv6");
      assertEquals("0", f[3], "router lifetime 0: not a default router");
      String serverMac = mac(lab, lab.server()).replace(":", "");
      assertEquals("0101" + serverMac, f[4], "only the source link-layer option: no prefix");
      assertTrue(f[5].startsWith("fe80:"), "from the server's link-local address: " + f[5]);
    }
  }

  @Test
  void switchedOffSendsNothing() throws Exception {
    try (Lab lab = Lab.create("ra-off", 1)) {
      LabProcess serve = serve(lab, "boot.router-advert = false");
      Path script = lab.dir().resolve("solicit.py");
      Files.writeString(script, SOLICIT);
      LabProcess rs =
          lab.spawn(lab.agent(1), "solicit", List.of("python3", script.toString(), "8"), Map.of());
      assertEquals(1, rs.waitFor(Duration.ofSeconds(30)), rs.tail(20));
      assertTrue(serve.isAlive(), serve.tail(20));
      assertTrue(!serve.log().contains("ra: advertising"), serve.tail(20));
    }
  }
}

package org.clonecast.it.trust;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The "Exhaustion" attacks of issue 13, each by a rogue host (agent 1) on the lab's segment beside
 * a real node (agent 2) and {@code clonecast serve} (full DHCP, cluster DNS): every one must now
 * fail while the real node is still served. The rogue's tools are small Python scripts written into
 * the lab directory; every loop is bounded in count and time, and all traffic stays in the lab's
 * namespaces.
 */
@LightLane
class BootServicesAbuseIT {
  private static final Duration STEP = Duration.ofSeconds(60);
  private static final String RANGE = "10.77.0.100,10.77.0.150";
  private static final String NODE01_MAC = "52:54:00:ab:00:01";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path repo;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "java", "python3", "atftp", "curl", "dig", "udhcpc");
    repo = Checkout.built(false);
  }

  /**
   * The rogue's TFTP flood: N read requests, each from its own port, never answered; the sockets
   * stay open.
   */
  private static final String TFTP_FLOOD =
      """
      import socket, sys, time
      server, n = sys.argv[1], int(sys.argv[2])
      socks, busy, answered = [], 0, 0
      for i in range(n):
          s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
          s.settimeout(2)
          s.sendto(b"\\x00\\x01big.bin\\x00octet\\x00timeout\\x00255\\x00tsize\\x000\\x00", (server, 69))
          try:
              data, _ = s.recvfrom(2048)
              if data[:2] == b"\\x00\\x05" and b"busy" in data: busy += 1
              else: answered += 1
          except socket.timeout:
              print("no answer to request", i, flush=True)
          socks.append(s)
      print("answered", answered, "busy", busy, flush=True)
      time.sleep(float(sys.argv[3]))
      """;

  /**
   * A PXE REQUEST (arch 7) to port 4011 with the given ciaddr, from port 4011 of the given local
   * address; prints what comes back.
   */
  private static final String PXE_4011 =
      """
      import socket, struct, sys
      server, ciaddr, mac, local = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3].replace(":", "")), sys.argv[4]
      p = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x5eed, 0, 0, socket.inet_aton(ciaddr),
                      bytes(4), bytes(4), bytes(4), mac + bytes(10), bytes(64), bytes(128))
      vc = b"PXEClient:Arch:00007:UNDI:003016"
      p += b"\\x63\\x82\\x53\\x63" + b"\\x35\\x01\\x03" + bytes([60, len(vc)]) + vc + b"\\x5d\\x02\\x00\\x07" \\
           + b"\\x61\\x11\\x00" + bytes(range(16)) + b"\\xff"
      s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
      s.bind((local, 4011))
      s.settimeout(3)
      s.sendto(p, (server, 4011))
      try:
          data, src = s.recvfrom(2048)
          print("reply from", src[0], "len", len(data), flush=True)
      except socket.timeout:
          print("no reply", flush=True)
      """;

  /** Listens on UDP 4011 for a while and prints every datagram's source. */
  private static final String LISTEN_4011 =
      """
      import socket, sys, time
      s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
      s.bind(("0.0.0.0", 4011))
      print("listening", flush=True)
      end = time.time() + float(sys.argv[1])
      n = 0
      while time.time() < end:
          s.settimeout(max(0.01, end - time.time()))
          try:
              data, src = s.recvfrom(2048)
              n += 1
              print("got", len(data), "from", src[0], flush=True)
          except socket.timeout:
              pass
      print("received", n, flush=True)
      """;

  /**
   * N iPXE script requests for random MACs on one keep-alive connection (bounded by a deadline).
   */
  private static final String SCRIPT_FLOOD =
      """
      import http.client, random, sys, time
      host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
      rnd = random.Random(13)
      c = http.client.HTTPConnection(host, port, timeout=10)
      ok, end = 0, time.time() + 60
      for i in range(n):
          if time.time() > end: break
          mac = "02:" + ":".join("%02x" % rnd.randrange(256) for _ in range(5))
          c.request("GET", "/boot/" + mac + ".ipxe")
          r = c.getresponse(); r.read()
          ok += r.status == 200
      print("served", ok, flush=True)
      """;

  /**
   * N TCP connections opened and held without a byte (soft fd limit raised); the server's metrics
   * tell which it kept.
   */
  private static final String CONNECTION_FLOOD =
      """
      import resource, socket, sys, time
      host, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
      soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
      resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
      socks, failed = [], 0
      for i in range(n):
          s = socket.socket()
          s.settimeout(2)
          try:
              s.connect((host, port))
              socks.append(s)
          except OSError:
              failed += 1
              s.close()
      print("connected", len(socks), "failed", failed, flush=True)
      time.sleep(hold)
      """;

  private static Path script(Lab lab, String name, String text) throws IOException {
    return Files.writeString(lab.dir().resolve(name + ".py"), text);
  }

  private static String run(Lab lab, Host h, String... cmd) {
    return run(lab, h, Map.of(), cmd);
  }

  private static String run(Lab lab, Host h, Map<String, String> env, String... cmd) {
    LabProcess p = lab.spawn(h, cmd[0].replaceAll(".*/", ""), List.of(cmd), env);
    assertEquals(0, p.waitFor(STEP), String.join(" ", cmd) + " failed:\n" + p.tail(20));
    return p.log();
  }

  private static String metrics(Lab lab, int port) {
    return run(
        lab,
        lab.server(),
        "curl",
        "-fsS",
        "--max-time",
        "10",
        "http://127.0.0.1:" + port + "/metrics");
  }

  private static long metric(String page, String sample) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(sample) + " (\\d+)").matcher(page);
    assertTrue(m.find(), "no " + sample + " in:\n" + page);
    return Long.parseLong(m.group(1));
  }

  private static String digA(Lab lab, Host h) {
    return run(
            lab,
            h,
            "dig",
            "@" + Lab.SERVER_IP,
            "+short",
            "+tries=1",
            "+time=3",
            "node01.cluster.internal",
            "A")
        .trim();
  }

  @Test
  void aRogueHostCannotExhaustOrMisdirectTheBootServices() throws Exception {
    try (Lab lab = Lab.create("abuse", 2)) {
      Host rogue = lab.agent(1);
      Host node = lab.agent(2);
      Path state = Files.createDirectories(lab.dir().resolve("state"));
      Path tftpRoot = Files.createDirectories(state.resolve("tftp"));
      byte[] big = new byte[2 * 1024 * 1024 + 17];
      new Random(5).nextBytes(big);
      Files.write(tftpRoot.resolve("big.bin"), big);
      Path conf =
          Files.writeString(
              lab.dir().resolve("clonecast.conf"),
              """
          http.idle-timeout = 20
          tftp.max-transfers = 16
          """);
      LabProcess serve =
          lab.spawn(
              lab.server(),
              "serve",
              Checkout.clonecast(
                  "serve",
                  "--interface",
                  Lab.IFACE,
                  "--state-dir",
                  state.toString(),
                  "--http-port",
                  "0",
                  "--dns-port",
                  "53",
                  "--dhcp",
                  "full",
                  "--range",
                  RANGE,
                  "--config",
                  conf.toString()),
              Map.of());
      Pattern ready = Pattern.compile("clonecast serve: ready on .* http port (\\d+)");
      await().atMost(STEP).until(() -> ready.matcher(serve.log()).find() || !serve.isAlive());
      Matcher rm = ready.matcher(serve.log());
      assertTrue(rm.find(), "the daemon did not start:\n" + serve.tail(30));
      int port = Integer.parseInt(rm.group(1));
      String cli = repo.resolve("clonecast").toString();
      Map<String, String> env =
          Map.of(
              "CLONECAST_SERVER",
              "http://127.0.0.1:" + port,
              "CLONECAST_TOKEN_FILE",
              state.resolve("api-token").toString());

      // node01 is the real node: enrolled, its NIC carries that MAC, its address from a DHCP lease.
      run(lab, lab.server(), env, cli, "node", "add", NODE01_MAC, "--name", "node01");
      run(lab, node, "ip", "link", "set", "dev", Lab.IFACE, "address", NODE01_MAC);
      Path udhcpcScript = lab.dir().resolve("udhcpc.sh");
      Files.writeString(
          udhcpcScript,
          "#!/bin/sh\ncase \"$1\" in\n  bound|renew) ip addr replace \"$ip/$mask\" dev \"$interface\" ;;\n"
              + "esac\nexit 0\n");
      Files.setPosixFilePermissions(udhcpcScript, PosixFilePermissions.fromString("rwxr-xr-x"));
      run(
          lab,
          node,
          "udhcpc",
          "-f",
          "-q",
          "-n",
          "-i",
          Lab.IFACE,
          "-s",
          udhcpcScript.toString(),
          "-t",
          "10",
          "-T",
          "1",
          "-A",
          "1");
      String node01Ip = digA(lab, node);
      assertTrue(
          node01Ip.startsWith("10.77.0.1"), "node01 resolves to its lease: '" + node01Ip + "'");

      // 1. TFTP: 64 unanswered requests from the rogue take 4 slots; the node still gets its file.
      LabProcess flood =
          lab.spawn(
              rogue,
              "tftp-flood",
              List.of(
                  "python3",
                  script(lab, "tftp_flood", TFTP_FLOOD).toString(),
                  Lab.SERVER_IP,
                  "64",
                  "40"),
              Map.of());
      await().atMost(STEP).until(() -> flood.log().contains("busy") || !flood.isAlive());
      Matcher fm = Pattern.compile("answered (\\d+) busy (\\d+)").matcher(flood.log());
      assertTrue(fm.find(), flood.tail(20));
      assertEquals(
          4, Integer.parseInt(fm.group(1)), "tftp.max-transfers-per-client: " + flood.log());
      assertEquals(60, Integer.parseInt(fm.group(2)), flood.log());
      Path got = lab.dir().resolve("big.got");
      run(
          lab,
          node,
          "atftp",
          "--option",
          "blksize 1468",
          "--option",
          "windowsize 8",
          "-g",
          "-r",
          "big.bin",
          "-l",
          got.toString(),
          Lab.SERVER_IP);
      assertTrue(
          Arrays.equals(big, Files.readAllBytes(got)), "the node's download is byte-identical");
      String page = metrics(lab, port);
      assertEquals(60, metric(page, "clonecast_tftp_transfers_total{result=\"busy_client\"}"));
      assertEquals(
          0,
          metric(page, "clonecast_tftp_transfers_total{result=\"busy\"}"),
          "the table never filled");

      // 2. PXE 4011: the rogue names node01's address; node01 hears nothing. Then node01 asks
      // itself and is answered.
      LabProcess listen =
          lab.spawn(
              node,
              "listen-4011",
              List.of("python3", script(lab, "listen_4011", LISTEN_4011).toString(), "6"),
              Map.of());
      await().atMost(STEP).until(() -> listen.log().contains("listening") || !listen.isAlive());
      String rogueTry =
          run(
              lab,
              rogue,
              "python3",
              script(lab, "pxe_4011", PXE_4011).toString(),
              Lab.SERVER_IP,
              node01Ip,
              "02:00:00:00:66:01",
              "0.0.0.0");
      assertTrue(rogueTry.contains("no reply"), rogueTry);
      assertEquals(0, listen.waitFor(STEP), listen.tail(10));
      assertTrue(
          listen.log().contains("received 0"),
          "node01's port 4011 got an ACK it never asked for:\n" + listen.log());
      // From its lease address (the node also has the lab's own 10.77.0.12, the kernel's default
      // source).
      String own =
          run(
              lab,
              node,
              "python3",
              lab.dir().resolve("pxe_4011.py").toString(),
              Lab.SERVER_IP,
              node01Ip,
              NODE01_MAC,
              node01Ip);
      assertTrue(
          own.contains("reply from " + Lab.SERVER_IP),
          "a real request from its own address is answered: " + own);

      // 3. 2,000 scripts for random MACs: all served, a bounded trace; node01's script does not
      // move it.
      String served =
          run(
              lab,
              rogue,
              "python3",
              script(lab, "script_flood", SCRIPT_FLOOD).toString(),
              Lab.SERVER_IP,
              Integer.toString(port),
              "2000");
      assertTrue(served.contains("served 2000"), served);
      run(
          lab,
          rogue,
          "curl",
          "-fsS",
          "--max-time",
          "10",
          "-o",
          "/dev/null",
          "http://" + Lab.SERVER_IP + ":" + port + "/boot/" + NODE01_MAC + ".ipxe");
      assertEquals(
          node01Ip,
          digA(lab, node),
          "a script request from the rogue does not move node01's DNS record");
      JsonNode nodes = JSON.readTree(run(lab, lab.server(), env, cli, "node", "list", "--json"));
      long discovered = 0;
      for (JsonNode n : nodes) {
        if (n.path("state").asText().equals("discovered")) discovered++;
      }
      // The address's burst of 30, plus one every 2 s while the flood ran (at most its 60 s).
      assertTrue(discovered <= 60, "a bounded trace of the rogue's 2000 requests: " + discovered);
      page = metrics(lab, port);
      assertTrue(metric(page, "clonecast_http_boot_scripts_unrecorded_total") >= 2000 - 60, page);
      LabProcess stream =
          lab.spawn(
              lab.server(),
              "stream",
              List.of(
                  "curl",
                  "-sS",
                  "-N",
                  "--max-time",
                  "3",
                  "http://127.0.0.1:" + port + "/api/v1/stream"),
              Map.of());
      stream.waitFor(STEP);
      int size = stream.log().length();
      assertTrue(
          size > 100 && size < 256 * 1024, "the dashboard stream stays small: " + size + " bytes");

      // 4. 2,000 idle connections: 64 held, the rest refused at accept; the node still downloads;
      // idle ones closed.
      LabProcess conns =
          lab.spawn(
              rogue,
              "conn-flood",
              List.of(
                  "python3",
                  script(lab, "conn_flood", CONNECTION_FLOOD).toString(),
                  Lab.SERVER_IP,
                  Integer.toString(port),
                  "2000",
                  "45"),
              Map.of());
      await().atMost(STEP).until(() -> conns.log().contains("connected") || !conns.isAlive());
      // The kernel completes every handshake into the accept queue; the daemon then refuses all but
      // 64.
      await()
          .atMost(STEP)
          .until(
              () ->
                  metric(
                          metrics(lab, port),
                          "clonecast_http_connections_refused_total{limit=\"per_client\"}")
                      >= 2000 - 64);
      page = metrics(lab, port);
      assertTrue(
          metric(page, "clonecast_http_connections") <= 64 + 1,
          "the rogue's 64 and this scrape:\n" + page);
      String head =
          run(
              lab,
              node,
              "curl",
              "-fsS",
              "--max-time",
              "10",
              "-o",
              "/dev/null",
              "-w",
              "%{http_code}",
              "http://" + Lab.SERVER_IP + ":" + port + "/boot/" + NODE01_MAC + ".ipxe");
      assertEquals("200", head.trim(), "the node is served during the flood");
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> metric(metrics(lab, port), "clonecast_http_idle_closed_total") >= 64);

      assertTrue(serve.isAlive(), serve.tail(30));
      List<String> warnings = new ArrayList<>();
      serve.log().lines().filter(l -> l.contains("Exception")).forEach(warnings::add);
      assertTrue(
          warnings.isEmpty(), "no exception in the daemon's log:\n" + String.join("\n", warnings));
    }
  }
}

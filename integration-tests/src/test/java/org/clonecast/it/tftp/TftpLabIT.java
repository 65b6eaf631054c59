package org.clonecast.it.tftp;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
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
import org.clonecast.it.mcast.Images;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code clonecast serve}'s TFTP server in the namespace lab (server 10.77.0.1, port 69 of its own
 * namespace) against real clients in the agent namespaces: tftp-hpa, atftp with windowsize and
 * blksize, curl, several at once, traversal attempts, and an EDK2-style probe-then-download done by
 * the codec client ({@code TftpTestClient} from the server's test classes). Every download is
 * compared by SHA-256.
 */
@LightLane
class TftpLabIT {
  private static final Duration RUN = Duration.ofSeconds(90);
  private static final int SIZE = 6 * 1024 * 1024 + 777;
  private static Path repo;
  private static Lab lab;
  private static LabProcess serve;
  private static Path root;
  private static String want;

  @BeforeAll
  static void startServer() throws IOException {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "java", "tftp", "atftp", "curl");
    repo = Checkout.built(false);
    assertTrue(
        Files.isDirectory(repo.resolve("server/target/test-classes/org/clonecast/server/tftp")),
        "build the server's test classes first (mvn install -DskipTests)");
    lab = Lab.create("tftp", 4);
    Path state = lab.dir().resolve("state");
    root = Files.createDirectories(state.resolve("tftp"));
    byte[] data = new byte[SIZE];
    new Random(7).nextBytes(data);
    Files.write(root.resolve("big.bin"), data);
    want = Images.sha256(root.resolve("big.bin"), SIZE);
    Files.writeString(state.resolve("outside.txt"), "not for nodes\n");
    Files.createSymbolicLink(root.resolve("escape"), state.resolve("outside.txt"));
    serve =
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
                "0"),
            Map.of());
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> serve.log().contains("clonecast serve: ready") || !serve.isAlive());
    assertTrue(serve.isAlive(), serve.tail(30));
  }

  @AfterAll
  static void stop() {
    if (lab != null) {
      lab.close();
    }
  }

  private static Path out(String name) {
    return lab.dir().resolve(name);
  }

  private static void assertFetched(LabProcess p, Path out) throws IOException {
    assertEquals(0, p.waitFor(RUN), p.name() + " failed:\n" + p.tail(20));
    assertTrue(Files.exists(out), p.name() + " wrote nothing:\n" + p.tail(20));
    assertEquals(SIZE, Files.size(out), p.name());
    assertEquals(want, Images.sha256(out, SIZE), p.name() + " fetched different bytes");
  }

  private static List<String> codecClient(String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "java",
                "-cp",
                repo.resolve("server/target/test-classes")
                    + ":"
                    + repo.resolve("server/target/clonecast.jar"),
                "org.clonecast.server.tftp.TftpTestClient"));
    cmd.addAll(List.of(args));
    return cmd;
  }

  @Test
  void tftpHpaFetchesTheFile() throws IOException {
    Path o = out("hpa.bin");
    assertFetched(
        lab.spawn(
            lab.agent(1),
            "tftp-hpa",
            List.of("tftp", "-m", "binary", Lab.SERVER_IP, "-c", "get", "big.bin", o.toString()),
            Map.of()),
        o);
  }

  @Test
  void atftpWithWindowsizeAndBlksize() throws IOException {
    Path o = out("atftp.bin");
    Host a = lab.agent(2);
    assertFetched(
        lab.spawn(
            a,
            "atftp",
            List.of(
                "atftp",
                "--option",
                "windowsize 16",
                "--option",
                "blksize 1468",
                "-g",
                "-r",
                "big.bin",
                "-l",
                o.toString(),
                Lab.SERVER_IP),
            Map.of()),
        o);
    await()
        .atMost(RUN)
        .until(
            () ->
                serve
                    .log()
                    .lines()
                    .anyMatch(
                        l ->
                            l.contains("done big.bin to /" + a.ip())
                                && l.contains("blksize 1468, windowsize 16")));
  }

  @Test
  void curlFetchesTheFile() throws IOException {
    Path o = out("curl.bin");
    assertFetched(
        lab.spawn(
            lab.agent(3),
            "curl",
            List.of(
                "curl",
                "-sS",
                "--tftp-blksize",
                "1468",
                "-o",
                o.toString(),
                "tftp://" + Lab.SERVER_IP + "/big.bin"),
            Map.of()),
        o);
  }

  /**
   * 1 % of the datagrams reaching the client are dropped: lost DATA is resent, after the client's
   * ACK of the last block it has in order or after the timeout. Windowed only: in lock-step every
   * loss costs a whole timeout (1 s here, 6 s with curl's own timeout option), too slow for a test.
   */
  @Test
  void aLossyLinkStillDeliversEveryByte() throws IOException {
    Host a = lab.agent(3);
    lab.loss(a, 1);
    try {
      Path w = out("lossy-atftp.bin");
      assertFetched(
          lab.spawn(
              a,
              "lossy-atftp",
              List.of(
                  "atftp",
                  "--option",
                  "windowsize 16",
                  "--option",
                  "blksize 1468",
                  "-g",
                  "-r",
                  "big.bin",
                  "-l",
                  w.toString(),
                  Lab.SERVER_IP),
              Map.of()),
          w);
    } finally {
      lab.loss(a, 0);
    }
    await()
        .atMost(RUN)
        .until(
            () ->
                serve
                    .log()
                    .lines()
                    .filter(x -> x.contains("done big.bin to /" + a.ip()))
                    .anyMatch(x -> x.contains("windowsize 16") && !x.endsWith(" 0 retransmits")));
  }

  @Test
  void severalClientsAtOnce() throws IOException {
    List<LabProcess> ps = new ArrayList<>();
    List<Path> outs = new ArrayList<>();
    for (Host a : lab.agents()) {
      for (int i = 0; i < 2; i++) {
        Path o = out("par-" + a.name() + "-" + i + ".bin");
        outs.add(o);
        ps.add(
            lab.spawn(
                a,
                "par-" + a.name() + "-" + i,
                List.of("curl", "-sS", "-o", o.toString(), "tftp://" + Lab.SERVER_IP + "/big.bin"),
                Map.of()));
      }
    }
    for (int i = 0; i < ps.size(); i++) {
      assertFetched(ps.get(i), outs.get(i));
    }
  }

  @Test
  void traversalIsRefusedWithATftpError() throws IOException {
    Host a = lab.agent(4);
    for (String[] c :
        new String[][] {
          {"../../etc/passwd", "ERROR 2"},
          {"/etc/passwd", "ERROR 1"},
          {"escape", "ERROR 2"},
          {"..\\..\\etc\\passwd", "ERROR 2"}
        }) {
      LabProcess p =
          lab.spawn(
              a,
              "refuse-" + c[1].charAt(6) + "-" + Math.abs(c[0].hashCode()),
              codecClient("error", Lab.SERVER_IP, c[0]),
              Map.of());
      assertEquals(0, p.waitFor(RUN), p.tail(20));
      assertTrue(p.log().contains(c[1]), c[0] + ": " + p.log());
    }
    // and a stock client gets the error too, and no file
    Path o = out("passwd");
    LabProcess hpa =
        lab.spawn(
            a,
            "hpa-traversal",
            List.of(
                "tftp",
                "-m",
                "binary",
                Lab.SERVER_IP,
                "-c",
                "get",
                "../../etc/passwd",
                o.toString()),
            Map.of());
    hpa.waitFor(RUN);
    assertTrue(hpa.log().contains("Error code 2"), hpa.log());
    assertFalse(Files.exists(o) && Files.size(o) > 0, "nothing was written");
  }

  @Test
  void edk2StyleProbeThenWindowedDownload() throws IOException {
    Host a = lab.agent(1);
    LabProcess probe =
        lab.spawn(a, "edk2-probe", codecClient("probe", Lab.SERVER_IP, "big.bin"), Map.of());
    assertEquals(0, probe.waitFor(RUN), probe.tail(20));
    assertTrue(
        probe.log().contains("OACK tsize=" + SIZE + " blksize=1468 windowsize=4"), probe.log());
    Path o = out("edk2.bin");
    assertFetched(
        lab.spawn(
            a,
            "edk2-get",
            codecClient(
                "get", Lab.SERVER_IP, "big.bin", o.toString(), "blksize=1468", "windowsize=4"),
            Map.of()),
        o);
    await().atMost(RUN).until(() -> serve.log().contains("size probe big.bin to /" + a.ip()));
  }

  @Test
  void theIpxeLoadersAreServed() throws IOException {
    Path src = Path.of("/usr/lib/ipxe/undionly.kpxe");
    assertTrue(
        Files.exists(src),
        src + " missing; install the Debian package ipxe (scripts/install-deps.sh)");
    Path o = out("undionly.kpxe");
    LabProcess p =
        lab.spawn(
            lab.agent(2),
            "undionly",
            List.of(
                "tftp", "-m", "binary", Lab.SERVER_IP, "-c", "get", "undionly.kpxe", o.toString()),
            Map.of());
    assertEquals(0, p.waitFor(RUN), p.tail(20));
    assertEquals(Images.sha256(src, Files.size(src)), Images.sha256(o, Files.size(src)));
    assertEquals(Files.size(src), Files.size(o));
  }

  /**
   * The transfers show on the daemon's /metrics page, as Prometheus reads it (from the head node
   * itself).
   */
  @Test
  void metricsCountTheTransfers() throws IOException {
    Path o = out("for-metrics.bin");
    assertFetched(
        lab.spawn(
            lab.agent(4),
            "metrics-fetch",
            List.of("tftp", "-m", "binary", Lab.SERVER_IP, "-c", "get", "big.bin", o.toString()),
            Map.of()),
        o);
    Matcher port = Pattern.compile("http port (\\d+)").matcher(serve.log());
    assertTrue(port.find(), serve.log());
    LabProcess curl =
        lab.spawn(
            lab.server(),
            "metrics",
            List.of("curl", "-sf", "http://127.0.0.1:" + port.group(1) + "/metrics"),
            Map.of());
    assertEquals(0, curl.waitFor(RUN), curl.tail(20));
    String page = curl.log();
    Matcher ok =
        Pattern.compile("(?m)^clonecast_tftp_transfers_total\\{result=\"ok\"} (\\d+)$")
            .matcher(page);
    assertTrue(ok.find(), page);
    assertTrue(Long.parseLong(ok.group(1)) >= 1, page);
    assertTrue(page.contains("# TYPE clonecast_tftp_sent_bytes_total counter"), page);
    assertTrue(
        page.matches("(?s).*\\nclonecast_tftp_sent_bytes_total (\\d{7,})\\n.*"),
        "at least the 6 MiB just fetched:\n" + page);
  }
}

package org.clonecast.it.dns;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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
 * Cluster DNS with real peers in the namespace lab: {@code dig} (BIND 9's client) asks {@code
 * clonecast serve} on port 53 of the provisioning interface, and a real {@code named} in an agent's
 * namespace receives the daemon's TSIG-signed RFC 2136 updates.
 *
 * <p>A node gets its address from a real DHCP lease (udhcpc against the daemon's full-mode DHCP);
 * an iPXE script request never records one (docs/security.md).
 */
@LightLane
class DnsLabIT {
  private static final Duration STEP = Duration.ofSeconds(30);
  private static final String MAC = "52:54:00:dd:00:01";
  private static final String RANGE = "10.77.0.100,10.77.0.150";

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "nft", "tc", "java", "dig", "udhcpc", "named", "tsig-keygen");
    Checkout.built(false);
  }

  /** The daemon in the server namespace, and how the CLI reaches it. */
  private record Daemon(LabProcess process, int httpPort, Map<String, String> cliEnv) {}

  private static Daemon serve(Lab lab, String... extra) throws IOException {
    Path state = lab.dir().resolve("state");
    Files.createDirectories(state);
    List<String> cmd =
        new ArrayList<>(
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
                RANGE));
    cmd.addAll(List.of(extra));
    LabProcess p = lab.spawn(lab.server(), "serve", cmd, Map.of());
    Pattern ready = Pattern.compile("clonecast serve: ready on .* http port (\\d+), dns port 53");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> ready.matcher(p.log()).find() || !p.isAlive());
    Matcher m = ready.matcher(p.log());
    assertTrue(m.find(), "the daemon did not start:\n" + p.tail(30));
    int port = Integer.parseInt(m.group(1));
    return new Daemon(
        p,
        port,
        Map.of(
            "CLONECAST_SERVER",
            "http://127.0.0.1:" + port,
            "CLONECAST_TOKEN_FILE",
            state.resolve("api-token").toString()));
  }

  /**
   * Runs a command to its end in {@code h}'s namespace; returns its output, failing on a non-zero
   * exit.
   */
  private static String run(Lab lab, Host h, Map<String, String> env, String... cmd) {
    LabProcess p = lab.spawn(h, cmd[0].replaceAll(".*/", ""), List.of(cmd), env);
    int rc = p.waitFor(STEP);
    assertEquals(0, rc, String.join(" ", cmd) + " failed:\n" + p.tail(20));
    return p.log();
  }

  private static String clonecast(Lab lab, Daemon d, String... args) {
    List<String> cmd = Checkout.clonecast(args);
    return run(lab, lab.server(), d.cliEnv(), cmd.toArray(String[]::new));
  }

  /** dig from {@code h}, one try, full output (header with status and flags, answer section). */
  private static String dig(Lab lab, Host h, String server, String... args) {
    List<String> cmd = new ArrayList<>(List.of("dig", "@" + server, "+tries=1", "+time=3"));
    cmd.addAll(List.of(args));
    return run(lab, h, Map.of(), cmd.toArray(String[]::new));
  }

  private static void assertAnswer(String digOutput, String status, String answerRegex) {
    assertTrue(digOutput.contains("status: " + status), "want " + status + ":\n" + digOutput);
    if (answerRegex != null) {
      assertTrue(
          Pattern.compile(answerRegex, Pattern.MULTILINE).matcher(digOutput).find(),
          "want an answer matching " + answerRegex + ":\n" + digOutput);
    }
  }

  /**
   * The node takes a lease from the daemon's DHCP (udhcpc, once, with a script that only records
   * what it was told and adds the address to the node's eth0); returns udhcpc's variables.
   */
  private static Map<String, String> lease(Lab lab, Host node) throws IOException {
    // The node's NIC gets the enrolled MAC, so the lease is the enrolled node's.
    run(lab, node, Map.of(), "ip", "link", "set", "dev", Lab.IFACE, "address", MAC);
    Path script = lab.dir().resolve("udhcpc-" + node.name() + ".sh");
    Path env = lab.dir().resolve("lease-" + node.name() + ".env");
    Files.writeString(
        script,
        "#!/bin/sh\ncase \"$1\" in\n  bound|renew) env > "
            + env
            + "; ip addr replace \"$ip/$mask\" dev \"$interface\" ;;\n"
            + "esac\nexit 0\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    run(
        lab,
        node,
        Map.of(),
        "udhcpc",
        "-f",
        "-q",
        "-n",
        "-O",
        "hostname",
        "-i",
        Lab.IFACE,
        "-s",
        script.toString(),
        "-t",
        "10",
        "-T",
        "1",
        "-A",
        "1");
    Map<String, String> vars = new TreeMap<>();
    for (String line : Files.readAllLines(env)) {
      int eq = line.indexOf('=');
      String key = eq > 0 ? line.substring(0, eq) : "";
      if (Set.of("ip", "mask", "dns", "domain", "hostname", "serverid", "lease").contains(key)) {
        vars.put(key, line.substring(eq + 1));
      }
    }
    return vars;
  }

  @Test
  void digResolvesEnrolledNodesBothWaysAndFollowsARename() throws IOException {
    try (Lab lab = Lab.create("dns", 1)) {
      Daemon d = serve(lab);
      Host node = lab.agent(1);
      clonecast(lab, d, "node", "add", MAC, "--name", "node01");
      // Enrolled, but no address yet: the name does not exist in DNS.
      assertAnswer(dig(lab, node, Lab.SERVER_IP, "node01.cluster.internal", "A"), "NXDOMAIN", null);
      Map<String, String> lease = lease(lab, node);
      String ip = lease.get("ip");
      assertTrue(ip != null && ip.startsWith("10.77.0.1"), "a lease from the pool: " + lease);
      // Full-mode DHCP names the cluster DNS, its zone and the node's inventory name.
      assertEquals(Lab.SERVER_IP, lease.get("dns"), lease.toString());
      assertEquals("cluster.internal", lease.get("domain"), lease.toString());
      assertEquals("node01", lease.get("hostname"), lease.toString());

      String a = dig(lab, node, Lab.SERVER_IP, "node01.cluster.internal", "A");
      assertAnswer(
          a,
          "NOERROR",
          "^node01\\.cluster\\.internal\\.\\s+60\\s+IN\\s+A\\s+" + Pattern.quote(ip) + "$");
      assertTrue(
          a.matches("(?s).*flags: qr aa rd;.*"), "authoritative, no recursion offered:\n" + a);
      assertAnswer(
          dig(lab, node, Lab.SERVER_IP, "-x", ip),
          "NOERROR",
          "\\sPTR\\s+node01\\.cluster\\.internal\\.$");
      String tcp = dig(lab, node, Lab.SERVER_IP, "+tcp", "NODE01.Cluster.Internal", "A");
      assertAnswer(tcp, "NOERROR", "\\sA\\s+" + Pattern.quote(ip) + "$");
      assertTrue(tcp.contains("(TCP)"), tcp);
      assertAnswer(
          dig(lab, node, Lab.SERVER_IP, "cluster.internal", "SOA"),
          "NOERROR",
          "\\sSOA\\s+ns\\.cluster\\.internal\\. ");
      assertAnswer(
          dig(lab, node, Lab.SERVER_IP, "ns.cluster.internal", "A"),
          "NOERROR",
          "\\sA\\s+10\\.77\\.0\\.1$");
      assertAnswer(
          dig(lab, node, Lab.SERVER_IP, "nobody.cluster.internal", "A"),
          "NXDOMAIN",
          "^cluster\\.internal\\..*SOA");
      assertAnswer(dig(lab, node, Lab.SERVER_IP, "-x", "10.77.0.99"), "NXDOMAIN", null);
      // Never an open resolver.
      assertAnswer(dig(lab, node, Lab.SERVER_IP, "example.com", "A"), "REFUSED", null);
      assertAnswer(dig(lab, node, Lab.SERVER_IP, "-x", "192.0.2.1"), "REFUSED", null);
      assertAnswer(
          dig(lab, node, Lab.SERVER_IP, "+noedns", "version.bind", "TXT", "CH"), "REFUSED", null);
      // The head node asks over loopback.
      assertAnswer(
          dig(lab, lab.server(), "127.0.0.1", "node01.cluster.internal", "A"),
          "NOERROR",
          "\\sA\\s+" + Pattern.quote(ip) + "$");

      long serial = soaSerial(dig(lab, node, Lab.SERVER_IP, "+short", "cluster.internal", "SOA"));
      clonecast(lab, d, "node", "set", MAC, "--name", "web01");
      assertAnswer(
          dig(lab, node, Lab.SERVER_IP, "web01.cluster.internal", "A"),
          "NOERROR",
          "^web01\\.cluster\\.internal\\..*\\sA\\s+" + Pattern.quote(ip) + "$");
      assertAnswer(dig(lab, node, Lab.SERVER_IP, "node01.cluster.internal", "A"), "NXDOMAIN", null);
      assertAnswer(
          dig(lab, node, Lab.SERVER_IP, "-x", ip),
          "NOERROR",
          "\\sPTR\\s+web01\\.cluster\\.internal\\.$");
      assertTrue(
          soaSerial(dig(lab, node, Lab.SERVER_IP, "+short", "cluster.internal", "SOA")) > serial,
          "the serial goes up on a rename");

      clonecast(lab, d, "node", "remove", MAC);
      assertAnswer(dig(lab, node, Lab.SERVER_IP, "web01.cluster.internal", "A"), "NXDOMAIN", null);
      assertTrue(d.process().isAlive(), d.process().tail(20));
    }
  }

  private static long soaSerial(String digShort) {
    // +short SOA: "ns.cluster.internal. hostmaster.cluster.internal. SERIAL 3600 600 86400 60"
    for (String line : digShort.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 7 && f[0].equals("ns.cluster.internal.")) {
        return Long.parseLong(f[2]);
      }
    }
    throw new AssertionError("no SOA in:\n" + digShort);
  }

  /**
   * A site's own BIND 9 (in agent 1's namespace) accepts the daemon's TSIG-signed updates for its
   * zone and reverse zone, and serves the records: after a lease, a rename and a removal.
   */
  @Test
  void bindAcceptsTheSignedUpdatesAndServesTheRecords() throws IOException {
    try (Lab lab = Lab.create("dnsbind", 2)) {
      Host bind = lab.agent(1);
      Host node = lab.agent(2);
      Path dir = lab.dir().resolve("bind");
      Files.createDirectories(dir);
      Path key = dir.resolve("ddns.key");
      Files.writeString(
          key,
          run(lab, lab.server(), Map.of(), "tsig-keygen", "-a", "hmac-sha256", "clonecast-ddns"));
      Files.writeString(
          dir.resolve("fwd.db"),
          "$TTL 300\n"
              + "@ IN SOA ns.cluster.example.org. hostmaster.cluster.example.org. 1 3600 600 86400 60\n"
              + "@ IN NS ns.cluster.example.org.\nns IN A "
              + bind.ip()
              + "\n");
      Files.writeString(
          dir.resolve("rev.db"),
          "$TTL 300\n"
              + "@ IN SOA ns.cluster.example.org. hostmaster.cluster.example.org. 1 3600 600 86400 60\n"
              + "@ IN NS ns.cluster.example.org.\n");
      String policy = "update-policy { grant clonecast-ddns zonesub ANY; };";
      Files.writeString(
          dir.resolve("named.conf"),
          "options {\n"
              + "  directory \""
              + dir
              + "\";\n"
              + "  pid-file \""
              + dir.resolve("named.pid")
              + "\";\n"
              + "  session-keyfile \""
              + dir.resolve("session.key")
              + "\";\n"
              + "  listen-on port 53 { "
              + bind.ip()
              + "; };\n"
              + "  listen-on-v6 { none; };\n"
              + "  recursion no;\n"
              + "  dnssec-validation no;\n"
              + "};\n"
              + "controls { };\n" // no rndc channel: nothing here uses it
              + "include \""
              + key
              + "\";\n"
              + "zone \"cluster.example.org\" { type primary; file \""
              + dir.resolve("fwd.db")
              + "\"; "
              + policy
              + " };\n"
              + "zone \"0.77.10.in-addr.arpa\" { type primary; file \""
              + dir.resolve("rev.db")
              + "\"; "
              + policy
              + " };\n");
      LabProcess named =
          lab.spawn(
              bind,
              "named",
              List.of("named", "-g", "-4", "-c", dir.resolve("named.conf").toString()),
              Map.of());
      // Its banner says "running on Linux …" at once: wait for the zones instead.
      await()
          .atMost(STEP)
          .until(() -> named.log().contains("all zones loaded") || !named.isAlive());
      assertTrue(
          named.isAlive() && named.log().contains("all zones loaded"),
          "named did not start:\n" + named.tail(30));

      Path conf = lab.dir().resolve("clonecast.conf");
      Files.writeString(
          conf,
          "dns.update.server = "
              + bind.ip()
              + "\n"
              + "dns.update.zone = cluster.example.org\n"
              + "dns.update.reverse-zone = 0.77.10.in-addr.arpa\n"
              + "dns.update.key-file = "
              + key
              + "\n");
      Daemon d = serve(lab, "--config", conf.toString());
      clonecast(lab, d, "node", "add", MAC, "--name", "node01");
      String ip = lease(lab, node).get("ip");

      await()
          .atMost(STEP)
          .untilAsserted(
              () ->
                  assertAnswer(
                      dig(lab, node, bind.ip(), "node01.cluster.example.org", "A"),
                      "NOERROR",
                      "^node01\\.cluster\\.example\\.org\\.\\s+60\\s+IN\\s+A\\s+"
                          + Pattern.quote(ip)
                          + "$"));
      await()
          .atMost(STEP)
          .untilAsserted(
              () ->
                  assertAnswer(
                      dig(lab, node, bind.ip(), "-x", ip),
                      "NOERROR",
                      "\\sPTR\\s+node01\\.cluster\\.example\\.org\\.$"));
      // named names the TSIG key it verified each update with.
      assertTrue(
          named
              .log()
              .contains(
                  "/key clonecast-ddns: updating zone 'cluster.example.org/IN': adding an RR at 'node01.cluster.example.org' A"),
          "BIND took the update as signed by clonecast-ddns:\n" + named.tail(30));

      clonecast(lab, d, "node", "set", MAC, "--name", "web01");
      await()
          .atMost(STEP)
          .untilAsserted(
              () -> {
                assertAnswer(
                    dig(lab, node, bind.ip(), "web01.cluster.example.org", "A"),
                    "NOERROR",
                    "\\sA\\s+" + Pattern.quote(ip) + "$");
                assertAnswer(
                    dig(lab, node, bind.ip(), "node01.cluster.example.org", "A"), "NXDOMAIN", null);
                assertAnswer(
                    dig(lab, node, bind.ip(), "-x", ip),
                    "NOERROR",
                    "\\sPTR\\s+web01\\.cluster\\.example\\.org\\.$");
              });
      String ptrs = dig(lab, node, bind.ip(), "-x", ip);
      assertTrue(!ptrs.contains("node01"), "the old PTR is gone:\n" + ptrs);

      clonecast(lab, d, "node", "remove", MAC);
      await()
          .atMost(STEP)
          .untilAsserted(
              () -> {
                assertAnswer(
                    dig(lab, node, bind.ip(), "web01.cluster.example.org", "A"), "NXDOMAIN", null);
                assertAnswer(dig(lab, node, bind.ip(), "-x", ip), "NXDOMAIN", null);
              });
      assertTrue(
          !d.process().log().contains("failed after"),
          "no update was given up:\n" + d.process().tail(30));
    }
  }
}

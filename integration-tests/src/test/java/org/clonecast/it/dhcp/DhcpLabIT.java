package org.clonecast.it.dhcp;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code clonecast serve} as the lab's DHCP server (server namespace, eth0 10.77.0.1/24) with real
 * clients in the agent namespaces. Every client runs with a script of ours that records what it was
 * given and configures only its own namespace's eth0; nothing touches the host.
 */
@LightLane
class DhcpLabIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Pattern READY = Pattern.compile("clonecast serve: ready .*http port (\\d+)");
  private static final String RANGE = "10.77.0.100,10.77.0.150";

  /**
   * udhcpc's script: record the event and its environment, configure eth0 on bound/renew. @OUT@ is
   * replaced by the lab directory and the client's name (dhclient runs its script with an
   * environment of its own, so nothing may come from ours).
   */
  private static final String UDHCPC_SCRIPT =
      """
      #!/bin/sh
      env | sort > "@OUT@-$1.env"
      echo "$1 $ip" >> "@OUT@.events"
      case "$1" in
        bound|renew) ip addr replace "$ip/$mask" dev "$interface" ;;
      esac
      exit 0
      """;

  /** dhclient's script (-sf): the same for dhclient's reasons. */
  private static final String DHCLIENT_SCRIPT =
      """
      #!/bin/sh
      env | sort > "@OUT@-$reason.env"
      echo "$reason $new_ip_address" >> "@OUT@.events"
      case "$reason" in
        BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/24" dev "$interface" ;;
      esac
      exit 0
      """;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("ip", "java", "udhcpc", "dhclient", "perfdhcp", "dnsmasq");
    Checkout.built(false);
  }

  // ---- scenarios

  /**
   * udhcpc and dhclient get leases from the pool and keep them (udhcpc renews by unicast, dhclient
   * restarts and INIT-REBOOTs); a MAC enrolled with --ip gets its reserved address and its name.
   */
  @Test
  void fullModeServesUdhcpcDhclientAndAReservation() throws IOException {
    try (Lab lab = Lab.create("dhcpfull", 3)) {
      Path state = lab.dir().resolve("state");
      Daemon d = serve(lab, state, "serve", "--dhcp", "full", "--range", RANGE);
      Host reserved = lab.agent(3);
      LabProcess add =
          lab.spawn(
              lab.server(),
              "node-add",
              Checkout.clonecast(
                  "node",
                  "add",
                  mac(lab, reserved),
                  "--name",
                  "node03",
                  "--ip",
                  "10.77.0.42",
                  "--server",
                  "http://127.0.0.1:" + d.httpPort,
                  "--token-file",
                  state.resolve("api-token").toString()),
              Map.of());
      assertEquals(0, add.waitFor(WAIT), add.tail(20));

      LabProcess u1 = udhcpc(lab, lab.agent(1), "u1");
      String ip1 = awaitEvent(lab, "u1", "bound");
      Map<String, String> env = env(lab, "u1-bound");
      assertTrue(inRange(ip1), ip1);
      assertEquals("10.77.0.1", env.get("serverid"));
      assertEquals("3600", env.get("lease"));
      assertEquals("255.255.255.0", env.get("subnet"));
      // renewal: unicast REQUEST with ciaddr, same address
      u1.kill(Signal.USR1);
      assertEquals(ip1, awaitEvent(lab, "u1", "renew"));

      LabProcess dh = dhclient(lab, lab.agent(2), "dh");
      String ip2 = awaitEvent(lab, "dh", "BOUND");
      assertTrue(inRange(ip2), ip2);
      assertNotEquals(ip1, ip2);
      assertEquals("10.77.0.1", env(lab, "dh-BOUND").get("new_dhcp_server_identifier"));
      // dhclient runs its script (BOUND) before it writes the lease file: stopped in between, it
      // would restart with no lease to reboot from.
      Path leases = lab.dir().resolve("dh.leases");
      await()
          .atMost(WAIT)
          .until(
              () ->
                  Files.exists(leases)
                      && Files.readString(leases).contains("fixed-address " + ip2 + ";"));
      dh.kill(Signal.TERM);
      dh.waitFor(WAIT);
      dhclient(lab, lab.agent(2), "dh");
      assertEquals(
          ip2,
          awaitEvent(lab, "dh", "REBOOT"),
          "dhclient keeps its address across a restart (INIT-REBOOT)");

      udhcpc(lab, reserved, "u3");
      assertEquals("10.77.0.42", awaitEvent(lab, "u3", "bound"));
      assertEquals("node03", env(lab, "u3-bound").get("hostname"));

      String log = d.process.log();
      assertTrue(log.contains("dhcp " + mac(lab, lab.agent(1)) + ": ack " + ip1), log);
      assertTrue(d.process.isAlive());
    }
  }

  /**
   * perfdhcp as a relay (giaddr 10.78.0.1, a relayed subnet with its own pool): 2000 exchanges of
   * 500 clients at 200 per second, none dropped.
   */
  @Test
  void perfdhcpThroughARelayDropsNothing() throws IOException {
    try (Lab lab = Lab.create("dhcpperf", 1)) {
      Path conf = lab.dir().resolve("clonecast.conf");
      Files.writeString(
          conf,
          """
          dhcp.relay.perf.subnet = 10.78.0.0/22
          dhcp.relay.perf.range = 10.78.0.10,10.78.3.250
          """);
      Host relay = lab.agent(1);
      run(lab, relay, "addr", "ip", "addr", "add", "10.78.0.1/22", "dev", Lab.IFACE);
      run(lab, lab.server(), "route", "ip", "route", "add", "10.78.0.0/22", "dev", Lab.IFACE);
      Daemon d =
          serve(
              lab,
              lab.dir().resolve("state"),
              "serve",
              "--dhcp",
              "full",
              "--range",
              RANGE,
              "--config",
              conf.toString());
      LabProcess perf =
          lab.spawn(
              relay,
              "perfdhcp",
              List.of(
                  "perfdhcp",
                  "-4",
                  "-l",
                  "10.78.0.1",
                  "-r",
                  "200",
                  "-n",
                  "2000",
                  "-R",
                  "500",
                  "-p",
                  "60",
                  "-d",
                  "2",
                  // wait 2 s after the last request for its reply (by default perfdhcp counts it
                  // lost at once)
                  "-W",
                  "2000000",
                  Lab.SERVER_IP),
              Map.of());
      int rc = perf.waitFor(Duration.ofSeconds(120));
      String out = perf.log();
      Matcher drops = Pattern.compile("drops: (\\d+)").matcher(out);
      int seen = 0;
      while (drops.find()) {
        assertEquals("0", drops.group(1), out);
        seen++;
      }
      assertEquals(2, seen, "DISCOVER-OFFER and REQUEST-ACK statistics:\n" + out);
      Matcher sent =
          Pattern.compile("sent packets: (\\d+)\\s+received packets: (\\d+)").matcher(out);
      assertTrue(sent.find(), out);
      // perfdhcp's sender thread may start a few exchanges past -n when it falls behind its rate
      // (seen at load 20-22: 2001 and 2002 sent, every one answered).
      assertTrue(Integer.parseInt(sent.group(1)) >= 2000, out);
      assertEquals(sent.group(1), sent.group(2), out);
      assertEquals(0, rc, out);
      assertTrue(d.process.isAlive());
      assertFalse(d.process.log().contains("WARN"), d.process.tail(40));
    }
  }

  /**
   * Proxy mode beside dnsmasq (the site's DHCP server, in agent 1): a plain client gets its address
   * from dnsmasq and nothing from us; a PXE client (arch 7) gets its address from dnsmasq and its
   * boot file from clonecast, in the proxy offer and in the port-4011 ACK.
   */
  @Test
  void proxyModeBesideDnsmasq() throws IOException {
    try (Lab lab = Lab.create("dhcpproxy", 2)) {
      Host site = lab.agent(1);
      LabProcess dnsmasq =
          lab.spawn(
              site,
              "dnsmasq",
              List.of(
                  "dnsmasq",
                  "--no-daemon",
                  "--conf-file=/dev/null",
                  "--port=0",
                  "--no-hosts",
                  "--no-resolv",
                  "--interface=" + Lab.IFACE,
                  "--bind-interfaces",
                  "--user=root",
                  "--dhcp-range=10.77.0.200,10.77.0.220,255.255.255.0,1h",
                  "--dhcp-leasefile=" + lab.dir().resolve("dnsmasq.leases"),
                  "--pid-file=" + lab.dir().resolve("dnsmasq.pid"),
                  "--log-dhcp"),
              Map.of());
      Daemon d = serve(lab, lab.dir().resolve("state"), "serve", "--dhcp", "proxy");

      Host client = lab.agent(2);
      udhcpc(lab, client, "plain");
      String plainIp = awaitEvent(lab, "plain", "bound");
      assertEquals(
          "10.77.0.11", env(lab, "plain-bound").get("serverid"), "the site's server answered");
      assertTrue(plainIp.startsWith("10.77.0.2"), plainIp);

      // Real PXE ROMs send broadcasts on a raw link; a Java socket needs a route for
      // 255.255.255.255,
      // and lab hosts have none (this changes only the agent's namespace).
      run(lab, client, "route", "ip", "route", "add", "default", "dev", Lab.IFACE);
      String pxeMac = "52:54:00:77:00:42";
      LabProcess pxe =
          lab.spawn(
              client,
              "pxeclient",
              List.of(
                  javaBin(), "-cp", testClassPath(), PxeClient.class.getName(), pxeMac, Lab.IFACE),
              Map.of());
      assertEquals(
          0,
          pxe.waitFor(WAIT),
          pxe.log()
              + "\n--- dnsmasq:\n"
              + dnsmasq.tail(30)
              + "\n--- clonecast:\n"
              + d.process.tail(30));
      String out = pxe.log();
      assertTrue(
          out.matches("(?s).*address-offer yiaddr=10\\.77\\.0\\.2\\d\\d server=10\\.77\\.0\\.11.*"),
          out);
      assertTrue(
          out.contains(
              "proxy-offer file=ipxe.efi siaddr=10.77.0.1 server=10.77.0.1 guid-echoed=true"),
          out);
      assertTrue(
          out.contains(
              "boot-ack file=ipxe.efi siaddr=10.77.0.1 sname=10.77.0.1 vendor=PXEClient guid-echoed=true"),
          out);

      String log = d.process.log();
      assertFalse(log.contains(mac(lab, client)), "proxy mode ignored the plain client:\n" + log);
      assertFalse(
          log.matches("(?s).*dhcp [0-9a-f:]+: (offer|ack) 10\\.77.*"),
          "proxy mode handed out no address:\n" + log);
      assertTrue(log.contains("dhcp " + pxeMac + ": proxy offer: ipxe.efi"), log);
      assertTrue(dnsmasq.isAlive(), dnsmasq.tail(20));
    }
  }

  /**
   * A lease survives a SIGKILL of the daemon: after the restart another client asking for the same
   * address gets a different one, and the holder renews its own.
   */
  @Test
  void aLeaseSurvivesSigkill() throws IOException {
    try (Lab lab = Lab.create("dhcpcrash", 2)) {
      Path state = lab.dir().resolve("state");
      Daemon first = serve(lab, state, "serve", "--dhcp", "full", "--range", RANGE);
      LabProcess holder = udhcpc(lab, lab.agent(1), "holder");
      String ip = awaitEvent(lab, "holder", "bound");
      first.process.kill(Signal.KILL);
      assertEquals(128 + 9, first.process.waitFor(WAIT));

      Daemon second = serve(lab, state, "serve2", "--dhcp", "full", "--range", RANGE);
      udhcpc(lab, lab.agent(2), "thief", "-r", ip);
      String other = awaitEvent(lab, "thief", "bound");
      assertNotEquals(
          ip, other, "the address of a lease ACKed before the crash went to another MAC");
      holder.kill(Signal.USR1);
      assertEquals(
          ip,
          awaitEvent(lab, "holder", "renew"),
          "the holder renews its address after the restart");
      assertTrue(second.process.isAlive());
    }
  }

  /**
   * Two daemons on one segment share one PostgreSQL store (Debian's server, started by the test in
   * the server namespace on 10.77.0.1:5432): daemon A in the server namespace, B in agent 1's.
   * Twelve udhcpc clients (macvlans with MACs of ours in agent 2's namespace) ask while both answer
   * every DISCOVER from tables that lag each other by up to 2 s; once one is bound, A is killed
   * with SIGKILL while the others are mid-exchange, and twelve more clients (agent 3) come. B
   * serves them all. Every client ends bound, no two to one address, and each address is the stored
   * lease of its client's MAC.
   */
  @Test
  void twoDaemonsOnOnePostgresqlNeverLeaseAnAddressTwice() throws IOException {
    int perWave = 12;
    try (Lab lab = Lab.create("dhcppg", 3);
        TestPostgres pg =
            TestPostgres.start(
                List.of("ip", "netns", "exec", lab.server().netns()), Lab.SERVER_IP, 5432)) {
      String database = pg.newDatabase();
      String[] args = {"--dhcp", "full", "--range", RANGE, "--store", pg.url(database)};
      LabProcess pa = spawnServe(lab, lab.server(), lab.dir().resolve("state-a"), "serve-a", args);
      LabProcess pb = spawnServe(lab, lab.agent(1), lab.dir().resolve("state-b"), "serve-b", args);
      Daemon a = ready(pa);
      Daemon b = ready(pb);
      assertEquals(
          "10.77.0.1|24|t\n10.77.0.11|24|t",
          pg.psql(database, "SELECT address, prefix, stopped IS NULL FROM daemons ORDER BY address")
              .strip(),
          "both daemons announced themselves in the store");

      Map<String, String> macOf = new HashMap<>(); // client name -> MAC
      int boundAtKill = 0;
      for (int wave = 0; wave < 2; wave++) {
        Host h = lab.agent(2 + wave);
        StringBuilder links = new StringBuilder("set -e\n");
        for (int i = 0; i < perWave; i++) {
          String mac = String.format("02:cc:00:00:%02x:%02x", wave, i);
          links.append(
              String.format(
                  "ip link add link %s name c%d address %s type macvlan mode bridge\n"
                      + "ip link set c%d up\n",
                  Lab.IFACE, i, mac, i));
          macOf.put("w" + wave + "c" + i, mac);
        }
        run(lab, h, "macvlans", "sh", "-c", links.toString());
        for (int i = 0; i < perWave; i++) {
          udhcpcOn(lab, h, "c" + i, "w" + wave + "c" + i);
        }
        if (wave == 0) {
          // Mid-run: some clients bound, the rest still discovering or requesting.
          Path[] events = new Path[perWave];
          for (int i = 0; i < perWave; i++) {
            events[i] = lab.dir().resolve("w0c" + i + ".events");
          }
          await()
              .atMost(WAIT)
              .pollInterval(Duration.ofMillis(5))
              .until(
                  () -> {
                    int bound = 0;
                    for (Path e : events) {
                      bound += count(e, "bound") > 0 ? 1 : 0;
                    }
                    return bound >= 1;
                  });
          a.process.kill(Signal.KILL);
          for (Path e : events) {
            boundAtKill += count(e, "bound") > 0 ? 1 : 0;
          }
          assertEquals(128 + 9, a.process.waitFor(WAIT));
        }
      }

      Map<String, String> ipOf = new HashMap<>(); // client name -> address
      Map<String, Integer> servedBy = new HashMap<>();
      for (String client : macOf.keySet()) {
        ipOf.put(client, awaitEvent(lab, client, "bound"));
        servedBy.merge(env(lab, client + "-bound").get("serverid"), 1, Integer::sum);
      }
      assertEquals(
          2 * perWave,
          Set.copyOf(ipOf.values()).size(),
          "no address is held by two clients: " + ipOf);
      ipOf.values().forEach(ip -> assertTrue(inRange(ip), ip));
      for (int i = 0; i < perWave; i++) {
        assertEquals(
            "10.77.0.11",
            env(lab, "w1c" + i + "-bound").get("serverid"),
            "after the kill only B answers");
      }

      Map<String, String> stored = new HashMap<>(); // MAC -> address of its running lease
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
      assertEquals(
          stored.size(), Set.copyOf(stored.values()).size(), "one MAC per address: " + stored);
      for (String client : macOf.keySet()) {
        assertEquals(
            ipOf.get(client),
            stored.get(macOf.get(client)),
            client + " holds the address stored for its MAC");
      }
      assertTrue(b.process.isAlive(), b.process.tail(40));
      System.out.println(
          "dhcp-pg: "
              + ipOf.size()
              + " clients bound ("
              + boundAtKill
              + " when A was killed); served by "
              + servedBy
              + "; NAKs clients got: "
              + macOf.keySet().stream()
                  .mapToInt(c -> count(lab.dir().resolve(c + ".events"), "nak"))
                  .sum());
    }
  }

  // ---- helpers

  /** A running daemon and its HTTP port. */
  private record Daemon(LabProcess process, int httpPort) {}

  private static Daemon serve(Lab lab, Path state, String name, String... extra) {
    return ready(spawnServe(lab, lab.server(), state, name, extra));
  }

  /** Starts {@code clonecast serve} in {@code h}'s namespace; {@link #ready} waits for it. */
  private static LabProcess spawnServe(Lab lab, Host h, Path state, String name, String... extra) {
    List<String> cmd =
        Checkout.clonecast(
            "serve", "--interface", Lab.IFACE, "--state-dir", state.toString(), "--http-port", "0");
    cmd.addAll(List.of(extra));
    return lab.spawn(h, name, cmd, Map.of());
  }

  private static Daemon ready(LabProcess p) {
    await().atMost(WAIT).until(() -> READY.matcher(p.log()).find() || !p.isAlive());
    Matcher m = READY.matcher(p.log());
    assertTrue(m.find(), "clonecast serve did not start:\n" + p.tail(40));
    return new Daemon(p, Integer.parseInt(m.group(1)));
  }

  private static LabProcess udhcpc(Lab lab, Host h, String name, String... extra) {
    return udhcpcOn(lab, h, Lab.IFACE, name, extra);
  }

  private static LabProcess udhcpcOn(Lab lab, Host h, String iface, String name, String... extra) {
    Path script = script(lab, name, UDHCPC_SCRIPT);
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "udhcpc",
                "-f",
                "-i",
                iface,
                "-s",
                script.toString(),
                "-t",
                "20",
                "-T",
                "1",
                "-A",
                "1"));
    cmd.addAll(List.of(extra));
    return lab.spawn(h, name, cmd, Map.of());
  }

  private static LabProcess dhclient(Lab lab, Host h, String name) {
    Path script = script(lab, name, DHCLIENT_SCRIPT);
    Path conf = lab.dir().resolve("dhclient.conf");
    try {
      Files.writeString(
          conf,
          "request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name;\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return lab.spawn(
        h,
        name,
        List.of(
            "dhclient",
            "-d",
            "-v",
            "-1",
            "-cf",
            conf.toString(),
            "-sf",
            script.toString(),
            "-lf",
            lab.dir().resolve(name + ".leases").toString(),
            "-pf",
            lab.dir().resolve(name + ".pid").toString(),
            Lab.IFACE),
        Map.of());
  }

  /**
   * Writes client {@code name}'s script, recording into lab.dir()/name.events and name-EVENT.env.
   */
  private static Path script(Lab lab, String name, String text) {
    Path p = lab.dir().resolve(name + "-script.sh");
    try {
      Files.writeString(
          p, text.replace("@OUT@", lab.dir().resolve(name).toAbsolutePath().toString()));
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Waits for the client's script to record {@code event} once and returns the address it reported.
   */
  private static String awaitEvent(Lab lab, String client, String event) {
    Path events = lab.dir().resolve(client + ".events");
    await().atMost(WAIT).until(() -> count(events, event) >= 1);
    return last(events, event);
  }

  private static int count(Path events, String event) {
    return (int) lines(events).stream().filter(l -> l.startsWith(event + " ")).count();
  }

  private static String last(Path events, String event) {
    List<String> l = lines(events).stream().filter(x -> x.startsWith(event + " ")).toList();
    return l.get(l.size() - 1).substring(event.length() + 1).trim();
  }

  private static List<String> lines(Path p) {
    try {
      return Files.exists(p) ? Files.readAllLines(p) : List.of();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The environment a client script recorded, e.g. {@code env(lab, "u1-bound")}. */
  private static Map<String, String> env(Lab lab, String file) {
    Map<String, String> m = new HashMap<>();
    for (String l : lines(lab.dir().resolve(file + ".env"))) {
      int eq = l.indexOf('=');
      if (eq > 0) {
        m.put(l.substring(0, eq), l.substring(eq + 1));
      }
    }
    return m;
  }

  private static boolean inRange(String ip) {
    int last = Integer.parseInt(ip.substring(ip.lastIndexOf('.') + 1));
    return ip.startsWith("10.77.0.") && last >= 100 && last <= 150;
  }

  private static String mac(Lab lab, Host h) {
    LabProcess p =
        lab.spawn(
            h,
            "mac-" + h.name(),
            List.of("cat", "/sys/class/net/" + Lab.IFACE + "/address"),
            Map.of());
    assertEquals(0, p.waitFor(WAIT), p.log());
    return p.log().trim();
  }

  private static void run(Lab lab, Host h, String name, String... cmd) {
    LabProcess p = lab.spawn(h, name + "-" + h.name(), List.of(cmd), Map.of());
    assertEquals(0, p.waitFor(WAIT), String.join(" ", cmd) + ":\n" + p.log());
  }

  private static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /**
   * The test JVM's class path (surefire's own property: java.class.path may be a manifest-only
   * jar).
   */
  private static String testClassPath() {
    return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
  }
}

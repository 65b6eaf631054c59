package org.clonecast.it.pkg;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Exec;
import org.clonecast.it.lab.Exec.Result;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.Signal;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Debian package, installed for real on this machine: {@code packaging/build-deb.sh} builds it,
 * {@code dpkg -i} installs it, and then the commands, the unit ({@code systemd-analyze verify} and
 * its security exposure), the man pages, the completion, the conffile and the system user are
 * checked. The daemon is run as systemd would run it (the unit's user, exactly its ambient
 * capabilities, its environment and ExecStart) inside a lab namespace, since there is no systemd to
 * start it here. {@code dpkg --purge} runs in a finally block, and the test refuses to start when
 * the package or its user already exist, so the machine is left as it was found.
 */
@LightLane
class PackagingIT {
  private static final Path UNIT = Path.of("/lib/systemd/system/clonecast.service");
  private static final Path CONF = Path.of("/etc/clonecast/clonecast.conf");
  private static final Path STATE = Path.of("/var/lib/clonecast");

  /** Where postinst puts the CLI's class-data sharing archive. */
  private static final Path CDS_DIR = Path.of("/var/cache/clonecast-jvm");

  /** The most systemd-analyze may rate the unit's exposure (0 = locked down, 10 = unprotected). */
  private static final double MAX_EXPOSURE = 2.0;

  private static Path repo;

  @TempDir Path out;

  @BeforeAll
  static void prerequisites() throws IOException {
    Prereqs.requireRoot();
    Prereqs.require(
        "dpkg",
        "dpkg-deb",
        "dpkg-query",
        "systemd-analyze",
        "man",
        "groff",
        "setpriv",
        "getent",
        "ip",
        "dig",
        "curl",
        "udhcpc",
        "strace",
        "pgrep",
        "java",
        "mvn",
        "bash");
    repo = Checkout.repo();
    String status =
        run(Duration.ofSeconds(30), "dpkg-query", "-W", "-f=${Status}", "clonecast").output();
    if (status.contains("installed")) {
      fail(
          "the clonecast package is installed on this machine ("
              + status.strip()
              + "); this test installs and purges"
              + " it, which would delete that installation's state: remove it first (dpkg --purge clonecast)");
    }
    for (Path dir :
        List.of(STATE, Path.of("/var/cache/clonecast"), CDS_DIR, Path.of("/etc/clonecast"))) {
      if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
        fail(
            dir
                + " exists but the package is not installed; purging the test's installation would delete it:"
                + " move it away first if it is yours");
      }
    }
    if (run(Duration.ofSeconds(30), "getent", "passwd", "clonecast").exit() == 0) {
      fail(
          "a user 'clonecast' exists but the package is not installed; purging the test's installation would delete"
              + " it: remove it first (userdel clonecast) if it is a leftover");
    }
  }

  @Test
  void installsRunsAsTheUnitSaysAndPurgesWithoutTrace() throws Exception {
    Result build =
        run(
            Duration.ofMinutes(10),
            repo.resolve("packaging/build-deb.sh").toString(),
            "--out",
            out.toString());
    assertEquals(0, build.exit(), build.output());
    Path deb = Path.of(build.output().strip().lines().reduce((a, b) -> b).orElseThrow());
    String version = mavenVersion();
    assertEquals(
        version.replace('-', '~'),
        check(Duration.ofSeconds(30), "dpkg-deb", "-f", deb.toString(), "Version").strip(),
        "Debian version from the Maven version ('~' sorts before a release)");
    // A test JVM stopped from outside (timeout, Ctrl-C) skips the finally block, not shutdown
    // hooks.
    Thread purgeOnExit = new Thread(PackagingIT::purge, "pkg-purge");
    Runtime.getRuntime().addShutdownHook(purgeOnExit);
    try {
      Result install = run(Duration.ofMinutes(5), "dpkg", "-i", deb.toString());
      assertEquals(0, install.exit(), install.output());
      // Every installed file matches DEBIAN/md5sums (and the conffile its recorded hash): silence.
      assertEquals(new Result(0, ""), run(Duration.ofMinutes(1), "dpkg", "--verify", "clonecast"));
      assertEquals(
          "clonecast " + version, check(Duration.ofMinutes(1), "clonecast", "--version").strip());
      assertEquals(
          "clonecast-agent " + version,
          check(Duration.ofMinutes(1), "clonecast-agent", "--version").strip());
      unitIsValidAndHardened();
      documentationIsInstalled();
      theCommandMapsTheClassDataArchive();
      userConfAndStateBelongToTheDaemon();
      daemonRunsWithTheUnitsUserAndCapabilities();
      reinstallKeepsTheAdminsConfigAndTheState(deb);
    } finally {
      Runtime.getRuntime().removeShutdownHook(purgeOnExit);
      Result purge = purge();
      assertEquals(0, purge.exit(), purge.output());
    }
    assertFalse(
        run(Duration.ofSeconds(30), "dpkg-query", "-W", "-f=${Status}", "clonecast")
            .output()
            .contains("installed"));
    assertEquals(
        2,
        run(Duration.ofSeconds(30), "getent", "passwd", "clonecast").exit(),
        "purge removes the user");
    assertEquals(
        2,
        run(Duration.ofSeconds(30), "getent", "group", "clonecast").exit(),
        "purge removes the group");
    for (Path p :
        List.of(
            STATE,
            Path.of("/var/cache/clonecast"),
            CDS_DIR,
            Path.of("/etc/clonecast"),
            Path.of("/usr/share/clonecast"),
            UNIT)) {
      assertFalse(Files.exists(p, LinkOption.NOFOLLOW_LINKS), p + " left after purge");
    }
  }

  /** Purges the package (harmless when it is not installed: dpkg only warns). */
  private static Result purge() {
    try {
      return run(Duration.ofMinutes(5), "dpkg", "--purge", "clonecast");
    } catch (IOException e) {
      return new Result(-1, "dpkg --purge clonecast: " + e.getMessage());
    }
  }

  /**
   * postinst made the class-data sharing archive with this machine's JVM, readable by every user,
   * and {@code /usr/bin/clonecast} maps it: classes come from its top layer (the dynamic archive),
   * and a JVM told it must map it ({@code -Xshare:on}) starts with it.
   */
  private static void theCommandMapsTheClassDataArchive() throws IOException {
    Path jsa = CDS_DIR.resolve("clonecast.jsa");
    assertTrue(Files.size(jsa) > 0, jsa + " is empty");
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(jsa)));
    assertEquals("root", Files.getOwner(jsa).getName());
    Result on =
        run(
            Duration.ofMinutes(1),
            "java",
            "-XX:+UseSerialGC",
            "-Xshare:on",
            "-XX:SharedArchiveFile=" + jsa,
            "-jar",
            "/usr/share/clonecast/clonecast.jar",
            "--version");
    assertEquals(0, on.exit(), "the JVM cannot map " + jsa + ":\n" + on.output());
    String loads =
        check(
            Duration.ofMinutes(1),
            "env",
            "CLONECAST_JAVA_OPTS=-Xlog:class+load=info",
            "clonecast",
            "--version");
    assertTrue(
        loads.lines().anyMatch(l -> l.contains("source: shared objects file (top)")),
        "clonecast loads no class from the archive:\n"
            + loads.lines().filter(l -> l.contains("org.clonecast")).limit(5).toList());
  }

  private static void unitIsValidAndHardened() throws IOException {
    Result verify = run(Duration.ofMinutes(1), "systemd-analyze", "verify", UNIT.toString());
    assertEquals(0, verify.exit(), verify.output());
    // Other units on this machine may draw warnings; none may concern ours.
    assertFalse(verify.output().contains("clonecast"), verify.output());
    Result security =
        run(
            Duration.ofMinutes(1),
            "systemd-analyze",
            "security",
            "--offline=true",
            "--no-pager",
            UNIT.toString());
    Matcher m =
        Pattern.compile("Overall exposure level for clonecast.service: ([0-9.]+)")
            .matcher(security.output());
    assertTrue(m.find(), security.output());
    double exposure = Double.parseDouble(m.group(1));
    assertTrue(
        exposure <= MAX_EXPOSURE,
        "exposure " + exposure + " > " + MAX_EXPOSURE + ":\n" + security.output());
  }

  private static void documentationIsInstalled() throws IOException {
    for (String page : List.of("clonecast", "clonecast-agent")) {
      Path file = Path.of(check(Duration.ofSeconds(30), "man", "-w", page).strip());
      assertEquals(Path.of("/usr/share/man/man1/" + page + ".1.gz"), file);
      // groff -ww: every warning; -z: no output. A clean page prints nothing at all.
      Result groff =
          run(
              Duration.ofSeconds(30),
              "bash",
              "-o",
              "pipefail",
              "-c",
              "zcat " + file + " | groff -man -Tutf8 -ww -z");
      assertEquals(new Result(0, ""), groff, page + "(1) renders with warnings");
      String text = check(Duration.ofSeconds(30), "bash", "-c", "MANWIDTH=200 man -l " + file);
      assertTrue(text.contains("--version"), page + "(1) lacks the generated options:\n" + text);
    }
    String rendered =
        check(
            Duration.ofSeconds(30),
            "bash",
            "-c",
            "MANWIDTH=200 man -l /usr/share/man/man1/clonecast.1.gz");
    for (String command :
        List.of(
            "clonecast serve", "clonecast node add", "clonecast image create", "clonecast send")) {
      assertTrue(
          rendered.contains(command + " [-hV]"),
          "clonecast(1) lacks " + command + ":\n" + rendered);
    }
    for (String cmd : List.of("clonecast", "clonecast-agent")) {
      String complete =
          check(
              Duration.ofSeconds(30),
              "bash",
              "-c",
              "source /usr/share/bash-completion/completions/" + cmd + " && complete -p " + cmd);
      assertTrue(complete.strip().endsWith(" " + cmd), complete);
    }
  }

  private static void userConfAndStateBelongToTheDaemon() throws IOException {
    String[] user =
        check(Duration.ofSeconds(30), "getent", "passwd", "clonecast").strip().split(":");
    assertTrue(Integer.parseInt(user[2]) < 1000, "a system user: " + String.join(":", user));
    assertEquals(STATE.toString(), user[5]);
    assertEquals("/usr/sbin/nologin", user[6]);
    String conffiles =
        check(Duration.ofSeconds(30), "dpkg-query", "-W", "-f=${Conffiles}", "clonecast");
    assertTrue(conffiles.contains(CONF.toString()), "conffile registered: " + conffiles);
    PosixFileAttributes conf = Files.readAttributes(CONF, PosixFileAttributes.class);
    assertEquals("root", conf.owner().getName());
    assertEquals("clonecast", conf.group().getName());
    assertEquals(
        "rw-r-----",
        PosixFilePermissions.toString(conf.permissions()),
        "it may hold a TSIG secret");
    assertEquals(
        Files.readString(repo.resolve("packaging/clonecast.conf")), Files.readString(CONF));
    PosixFileAttributes state = Files.readAttributes(STATE, PosixFileAttributes.class);
    assertEquals("clonecast", state.owner().getName());
    assertEquals("rwxr-x---", PosixFilePermissions.toString(state.permissions()));
  }

  /**
   * What systemd would start, minus systemd: the unit's User=, its ambient capabilities as the only
   * ones (bounding set too), no new privileges, its Environment= and ExecStart=, in a lab namespace
   * whose eth0 is the provisioning interface. It binds DNS on port 53 and opens the raw ICMPv6
   * socket with those capabilities alone; SIGTERM ends it with the status the unit counts as
   * success; without an interface it exits with the status the unit does not restart on.
   */
  private static void daemonRunsWithTheUnitsUserAndCapabilities() throws IOException {
    Map<String, List<String>> unit = parseUnit(Files.readString(UNIT));
    Set<String> ambient = caps(unit.get("AmbientCapabilities"));
    assertEquals(
        Set.of("net_bind_service", "net_raw"),
        ambient,
        "the capabilities docs/packaging.md explains");
    assertEquals(ambient, caps(unit.get("CapabilityBoundingSet")));
    assertEquals(List.of("143"), unit.get("SuccessExitStatus"));
    assertEquals(List.of("2"), unit.get("RestartPreventExitStatus"));
    Map<String, String> env = new LinkedHashMap<>();
    for (String e : unit.getOrDefault("Environment", List.of())) {
      env.put(e.substring(0, e.indexOf('=')), e.substring(e.indexOf('=') + 1));
    }
    String capList = String.join(",", ambient.stream().map(c -> "+" + c).toList());
    List<String> asUnit =
        new ArrayList<>(
            List.of(
                "setpriv",
                "--reuid=" + single(unit, "User"),
                "--regid=" + single(unit, "Group"),
                "--init-groups",
                "--inh-caps=-all," + capList,
                "--ambient-caps=-all," + capList,
                "--bounding-set=-all," + capList,
                "--no-new-privs"));
    asUnit.addAll(List.of(single(unit, "ExecStart").split(" ")));

    try (Lab lab = Lab.create("pkg", 1)) {
      List<String> serve = new ArrayList<>(asUnit);
      // Full-mode DHCP: every privileged port (DHCP 67, DNS 53, which full mode turns on, TFTP 69).
      serve.addAll(
          List.of(
              "--interface", Lab.IFACE, "--dhcp", "full", "--range", "10.77.0.100,10.77.0.150"));
      LabProcess daemon = lab.spawn(lab.server(), "serve", serve, env);
      await()
          .atMost(Duration.ofSeconds(90))
          .until(() -> daemon.log().contains("clonecast serve: ready") || !daemon.isAlive());
      assertTrue(daemon.isAlive(), daemon.tail(30));
      String log = daemon.log();
      assertTrue(log.contains("dns port 53"), "bound DNS on 53 as the daemon user: " + log);
      assertTrue(
          log.contains("dhcp: full mode on " + Lab.IFACE + " ports 67 and 4011"),
          "bound DHCP on 67 as the daemon user: " + log);
      assertTrue(
          log.contains("tftp: serving " + STATE.resolve("tftp") + " on " + Lab.SERVER_IP + ":69 "),
          "bound TFTP on 69 as the daemon user: " + log);
      LabProcess dig =
          lab.spawn(
              lab.agent(1),
              "dig",
              List.of("dig", "+time=2", "+tries=5", "@" + Lab.SERVER_IP, "cluster.internal", "SOA"),
              Map.of());
      assertEquals(0, dig.waitFor(Duration.ofSeconds(60)), dig.tail(30));
      assertTrue(dig.log().contains("status: NOERROR") && dig.log().contains("IN\tSOA"), dig.log());
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> daemon.log().contains("ra: advertising on " + Lab.IFACE));
      assertFalse(daemon.log().contains("cannot open a raw ICMPv6 socket"), daemon.log());
      Path token = STATE.resolve("api-token");
      PosixFileAttributes t = Files.readAttributes(token, PosixFileAttributes.class);
      assertEquals("clonecast", t.owner().getName());
      assertEquals("rw-------", PosixFilePermissions.toString(t.permissions()));
      daemon.kill(Signal.TERM);
      assertEquals(
          128 + Signal.TERM.number(), daemon.waitFor(Duration.ofSeconds(30)), daemon.tail(30));

      systemCallsAndSocketsStayInsideTheUnitsFilters(lab, serve, env, unit);

      LabProcess unconfigured = lab.spawn(lab.server(), "serve-no-interface", asUnit, env);
      assertEquals(2, unconfigured.waitFor(Duration.ofSeconds(60)), unconfigured.tail(30));
      assertTrue(
          unconfigured
              .log()
              .contains(
                  "no provisioning interface configured: set interface = IF (where the nodes PXE boot) in "
                      + CONF),
          unconfigured.log());
    }
  }

  /**
   * The unit's seccomp filters cannot be applied without systemd, so the daemon runs under strace
   * instead: start, a DNS query, an HTTP request, a DHCP lease, a TFTP download, SIGTERM. Every
   * system call it (and its launcher script) made must be one the unit's SystemCallFilter= lines
   * allow, and every socket one of the RestrictAddressFamilies= families, or under systemd the call
   * would fail.
   */
  private static void systemCallsAndSocketsStayInsideTheUnitsFilters(
      Lab lab, List<String> serve, Map<String, String> env, Map<String, List<String>> unit)
      throws IOException {
    List<String> filterLines = unit.get("SystemCallFilter");
    Path trace = lab.dir().resolve("serve-strace.log");
    List<String> cmd =
        new ArrayList<>(
            List.of("strace", "-f", "-qq", "-e", "signal=none", "-o", trace.toString()));
    cmd.addAll(serve);
    LabProcess traced = lab.spawn(lab.server(), "serve-traced", cmd, env);
    await()
        .atMost(Duration.ofSeconds(180))
        .until(() -> traced.log().contains("clonecast serve: ready") || !traced.isAlive());
    assertTrue(traced.isAlive(), traced.tail(30));
    LabProcess dig =
        lab.spawn(
            lab.agent(1),
            "dig-traced",
            List.of("dig", "+time=2", "+tries=5", "@" + Lab.SERVER_IP, "cluster.internal", "SOA"),
            Map.of());
    assertEquals(0, dig.waitFor(Duration.ofSeconds(60)), dig.tail(30));
    LabProcess curl =
        lab.spawn(
            lab.server(),
            "curl-traced",
            List.of("curl", "-sS", "-m", "30", "http://127.0.0.1:8080/api/v1/nodes"),
            Map.of());
    assertEquals(0, curl.waitFor(Duration.ofSeconds(60)), curl.tail(30));
    // A DHCP lease; /bin/true as udhcpc's script, so the agent's interface is left as it is.
    LabProcess dhcp =
        lab.spawn(
            lab.agent(1),
            "udhcpc-traced",
            List.of(
                "udhcpc",
                "-f",
                "-q",
                "-n",
                "-i",
                Lab.IFACE,
                "-s",
                "/bin/true",
                "-t",
                "10",
                "-T",
                "1",
                "-A",
                "1"),
            Map.of());
    assertEquals(0, dhcp.waitFor(Duration.ofSeconds(60)), dhcp.tail(30));
    assertTrue(dhcp.log().contains("obtained from " + Lab.SERVER_IP), dhcp.log());
    // A TFTP download: a file of our own, so the check does not depend on the ipxe package.
    byte[] probe = new byte[200_000];
    new Random(7).nextBytes(probe);
    Files.write(STATE.resolve("tftp/pkg-probe.bin"), probe);
    Path fetched = lab.dir().resolve("pkg-probe.bin");
    LabProcess tftp =
        lab.spawn(
            lab.agent(1),
            "tftp-traced",
            List.of(
                "curl",
                "-sS",
                "-m",
                "60",
                "-o",
                fetched.toString(),
                "tftp://" + Lab.SERVER_IP + "/pkg-probe.bin"),
            Map.of());
    assertEquals(0, tftp.waitFor(Duration.ofSeconds(90)), tftp.tail(30));
    assertTrue(Arrays.equals(probe, Files.readAllBytes(fetched)), "TFTP delivered the file intact");
    // The daemon is strace's only child (setpriv and the launcher exec into java): signal it, not
    // strace.
    String child =
        check(Duration.ofSeconds(30), "pgrep", "-P", Long.toString(traced.pid())).strip();
    check(Duration.ofSeconds(30), "kill", "-TERM", child);
    assertEquals(
        128 + Signal.TERM.number(), traced.waitFor(Duration.ofSeconds(60)), traced.tail(30));

    Set<String> allowed = new TreeSet<>();
    Set<String> denied = new TreeSet<>();
    for (String line : filterLines) {
      boolean deny = line.startsWith("~");
      for (String item : line.replaceFirst("^~", "").trim().split("\\s+")) {
        (deny ? denied : allowed).addAll(expandSyscalls(item));
      }
    }
    allowed.removeAll(denied);
    Set<String> used = new TreeSet<>();
    Set<String> families = new TreeSet<>();
    Pattern call = Pattern.compile("^\\d+\\s+([a-z0-9_]+)\\(");
    Pattern socket = Pattern.compile("^\\d+\\s+socket\\((AF_[A-Z0-9]+)");
    boolean launched = false;
    for (String line : Files.readAllLines(trace)) {
      // Before the launcher's execve the calls are setpriv's, which systemd itself does unfiltered.
      launched |=
          line.contains("execve(\"" + serve.get(serve.indexOf("--no-new-privs") + 1) + "\"");
      Matcher m = call.matcher(line);
      if (launched && m.find()) {
        used.add(m.group(1));
      }
      Matcher f = socket.matcher(line);
      if (launched && f.find()) {
        families.add(f.group(1));
      }
    }
    assertTrue(used.size() > 30, "the trace holds the daemon's calls: " + used);
    used.removeAll(allowed);
    assertEquals(Set.of(), used, "system calls the unit's filter refuses (" + filterLines + ")");
    assertTrue(
        families.containsAll(Set.of("AF_INET6", "AF_UNIX")),
        "the trace holds the daemon's sockets: " + families);
    families.removeAll(List.of(single(unit, "RestrictAddressFamilies").split(" ")));
    assertEquals(Set.of(), families, "socket families the unit's RestrictAddressFamilies= refuses");
  }

  /**
   * A system call or an @group of them, as systemd-analyze syscall-filter lists it, groups
   * expanded.
   */
  private static Set<String> expandSyscalls(String item) throws IOException {
    if (!item.startsWith("@")) {
      return Set.of(item);
    }
    Set<String> out = new TreeSet<>();
    for (String line :
        check(Duration.ofSeconds(30), "systemd-analyze", "syscall-filter", "--no-pager", item)
            .lines()
            .skip(1)
            .toList()) {
      String l = line.strip();
      if (!l.isEmpty() && !l.startsWith("#")) {
        out.addAll(expandSyscalls(l));
      }
    }
    return out;
  }

  /**
   * Installing over the installed package (postinst's upgrade path) keeps an edited config, its
   * mode, and the state.
   */
  private static void reinstallKeepsTheAdminsConfigAndTheState(Path deb) throws IOException {
    String edited = Files.readString(CONF) + "interface = " + Lab.IFACE + "\n";
    Files.writeString(CONF, edited);
    String token = Files.readString(STATE.resolve("api-token"));
    String uid = check(Duration.ofSeconds(30), "id", "-u", "clonecast");
    Result again = run(Duration.ofMinutes(5), "dpkg", "-i", deb.toString());
    assertEquals(0, again.exit(), again.output());
    assertEquals(edited, Files.readString(CONF), "the admin's edit survives");
    PosixFileAttributes conf = Files.readAttributes(CONF, PosixFileAttributes.class);
    assertEquals("clonecast", conf.group().getName());
    assertEquals("rw-r-----", PosixFilePermissions.toString(conf.permissions()));
    assertEquals(token, Files.readString(STATE.resolve("api-token")), "the state survives");
    assertEquals(uid, check(Duration.ofSeconds(30), "id", "-u", "clonecast"), "the same user");
  }

  /** The [Service] and [Unit] assignments; a key given several times keeps every value in order. */
  private static Map<String, List<String>> parseUnit(String text) {
    Map<String, List<String>> m = new LinkedHashMap<>();
    for (String line : text.lines().toList()) {
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#") || l.startsWith("[") || !l.contains("=")) {
        continue;
      }
      m.computeIfAbsent(l.substring(0, l.indexOf('=')), k -> new ArrayList<>())
          .add(l.substring(l.indexOf('=') + 1));
    }
    return m;
  }

  private static String single(Map<String, List<String>> unit, String key) {
    List<String> v = unit.get(key);
    assertTrue(v != null && v.size() == 1, key + "= once in the unit: " + v);
    return v.get(0);
  }

  /** "CAP_NET_RAW CAP_NET_BIND_SERVICE" lines as setpriv's names: net_raw, net_bind_service. */
  private static Set<String> caps(List<String> lines) {
    Set<String> s = new TreeSet<>();
    for (String line : lines == null ? List.<String>of() : lines) {
      for (String c : line.trim().split("\\s+")) {
        s.add(c.toLowerCase().replaceFirst("^cap_", ""));
      }
    }
    return s;
  }

  /**
   * The project version from the root pom (its own version, right after the parent's artifactId).
   */
  private static String mavenVersion() throws IOException {
    Matcher m =
        Pattern.compile("<artifactId>clonecast-parent</artifactId>\\s*<version>([^<]+)</version>")
            .matcher(Files.readString(repo.resolve("pom.xml")));
    assertTrue(m.find(), "no version in " + repo.resolve("pom.xml"));
    return m.group(1);
  }

  private static String check(Duration timeout, String... cmd) throws IOException {
    Result r = run(timeout, cmd);
    assertEquals(0, r.exit(), String.join(" ", cmd) + ":\n" + r.output());
    return r.output();
  }

  /**
   * Runs a host command to completion (stdout and stderr together); fails the test after {@code
   * timeout}.
   */
  private static Result run(Duration timeout, String... cmd) throws IOException {
    return Exec.run(List.of(cmd), null, timeout);
  }
}

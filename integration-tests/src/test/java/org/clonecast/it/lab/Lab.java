package org.clonecast.it.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A private network of namespaces for one test: a switch, a server and N agents.
 *
 * <p>The switch is bridge {@code br0} in namespace {@code <prefix>-sw}; the server lives in {@code
 * <prefix>-s} and agent i in {@code <prefix>-a<i>}. Each host namespace has one interface, {@code
 * eth0}, joined by a veth pair to a port ({@code sw-s}, {@code sw-a1}, ...) of br0. Both ends of
 * every pair are created directly in their namespaces, so the host's (root) namespace never gets a
 * lab interface, address or bridge, and several labs, even with the same addresses, run side by
 * side. Addresses: server 10.77.0.1/24, agent i 10.77.0.(10+i)/24, broadcast set, MTU 1500, lo up,
 * and a route for 224.0.0.0/4 on eth0 (a real node has a default route; without any route a
 * multicast send that does not pick its interface fails with ENETUNREACH). Multicast snooping is
 * off by default, so multicast floods every port as in udpcast's reference lab.
 *
 * <p>With {@link Builder#secondSegment} the lab has a second segment: bridge {@code br1} in the
 * same switch namespace, its own server {@code <prefix>-s2} at {@value #SERVER2_IP} and agents
 * {@code <prefix>-b<i>} at 10.78.0.(10+i)/24, joined to the first by a router namespace {@code
 * <prefix>-r} (10.77.0.254 and 10.78.0.254, IPv4 forwarding on; no multicast routing, as between
 * racks). Every host of either segment routes the other segment's subnet through the router.
 *
 * <p>VMs ({@link QemuVm}) join br0 through a tap device made by {@link #addTap} in the switch
 * namespace; QEMU runs there too, since a tap can only be opened in its own namespace.
 *
 * <p>{@link #close()} kills every spawned process group (TERM, then KILL after {@link
 * #TERM_GRACE}), then anything else still running in a lab namespace, and deletes the namespaces.
 * It is idempotent and also runs from a JVM shutdown hook. Logs stay in {@link #dir()}; other files
 * there are deleted.
 *
 * <p>Thread-safe: spawning and closing are synchronized on the lab.
 */
public final class Lab implements AutoCloseable {
  /** How long spawned processes get to exit after SIGTERM before SIGKILL. */
  public static final Duration TERM_GRACE = Duration.ofSeconds(2);

  public static final String SERVER_IP = "10.77.0.1";

  /** The second segment's server ({@link Builder#secondSegment}). */
  public static final String SERVER2_IP = "10.78.0.1";

  /** The router's addresses on the first and the second segment. */
  public static final String ROUTER_IP = "10.77.0.254";

  public static final String ROUTER2_IP = "10.78.0.254";
  public static final int PREFIX_LENGTH = 24;
  public static final String IFACE = "eth0";

  /**
   * Prefixes are cc + owner pid + counter letters + "-" + tag; the pid lets stale labs be found.
   */
  private static final Pattern OWNED = Pattern.compile("^cc(\\d+)([a-z]+)-");

  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final int MAX_AGENTS = 200;

  private final String prefix;
  private final Path dir;
  private final Host server;
  private final List<Host> agents;
  private final Host server2;
  private final List<Host> agents2;
  private final List<String> namespaces = new ArrayList<>();
  private final List<LabProcess> processes = new ArrayList<>();
  private final List<String> taps = new ArrayList<>();
  private final Thread shutdownHook;
  private boolean closed;

  private Lab(String prefix, Path dir, int agentCount, int secondAgents) {
    this.prefix = prefix;
    this.dir = dir;
    this.server = new Host("server", prefix + "-s", SERVER_IP, IFACE);
    List<Host> a = new ArrayList<>();
    for (int i = 1; i <= agentCount; i++) {
      a.add(new Host("a" + i, prefix + "-a" + i, "10.77.0." + (10 + i), IFACE));
    }
    this.agents = List.copyOf(a);
    List<Host> b = new ArrayList<>();
    for (int i = 1; i <= secondAgents; i++) {
      b.add(new Host("b" + i, prefix + "-b" + i, "10.78.0." + (10 + i), IFACE));
    }
    this.agents2 = List.copyOf(b);
    this.server2 = secondAgents > 0 ? new Host("s2", prefix + "-s2", SERVER2_IP, IFACE) : null;
    this.shutdownHook = new Thread(this::closeFromHook, "lab-" + prefix + "-cleanup");
  }

  /** A lab with {@code agents} agents and the defaults (snooping off, no querier, MTU 1500). */
  public static Lab create(String tag, int agents) throws IOException {
    return builder(tag).agents(agents).create();
  }

  public static Builder builder(String tag) {
    return new Builder(tag);
  }

  /** Options beyond {@link #create(String, int)}. Not thread-safe. */
  public static final class Builder {
    private final String tag;
    private int agents = 1;
    private boolean multicastSnooping;
    private boolean igmpQuerier;
    private Duration igmpQueryInterval;
    private int mtu = 1500;
    private int secondAgents;

    private Builder(String tag) {
      this.tag = tag;
    }

    public Builder agents(int n) {
      this.agents = n;
      return this;
    }

    /**
     * IGMP snooping on br0: multicast then goes only to ports that joined (once a querier is seen).
     */
    public Builder multicastSnooping(boolean on) {
      this.multicastSnooping = on;
      return this;
    }

    /** br0 sends IGMP queries; with snooping on and no querier the kernel bridge floods anyway. */
    public Builder igmpQuerier(boolean on) {
      this.igmpQuerier = on;
      return this;
    }

    /**
     * How often br0's own querier ({@link #igmpQuerier}) sends General Queries, one startup query
     * included (kernel default 125 s, two startup queries a quarter of it apart). Longer than the
     * test: br0 knows of a querier, so it forwards a group only to the ports that reported it, but
     * no host is asked to report again after its join, and memberships end after {@link
     * Lab#igmpMembershipInterval}, as on a snooping switch without a working querier. Set before
     * br0 is up, so no query timer runs with the default.
     */
    public Builder igmpQueryInterval(Duration d) {
      this.igmpQueryInterval = d;
      return this;
    }

    /**
     * A second segment with its own server and {@code n} agents, routed to the first (see {@link
     * Lab}); 0: none.
     */
    public Builder secondSegment(int n) {
      this.secondAgents = n;
      return this;
    }

    /** MTU of br0 and of every veth (e.g. 9000 for jumbo-frame tests). */
    public Builder mtu(int mtu) {
      this.mtu = mtu;
      return this;
    }

    public Lab create() throws IOException {
      if (agents < 1 || agents > MAX_AGENTS) {
        throw new IllegalArgumentException("agents must be 1.." + MAX_AGENTS + ", got " + agents);
      }
      if (mtu < 576 || mtu > 65535) {
        throw new IllegalArgumentException("mtu must be 576..65535, got " + mtu);
      }
      checkHost();
      String prefix = uniquePrefix(tag);
      if (secondAgents < 0 || secondAgents > MAX_AGENTS) {
        throw new IllegalArgumentException(
            "second-segment agents must be 0.." + MAX_AGENTS + ", got " + secondAgents);
      }
      Lab lab = new Lab(prefix, labDir(prefix), agents, secondAgents);
      Runtime.getRuntime().addShutdownHook(lab.shutdownHook);
      try {
        lab.build(multicastSnooping, igmpQuerier, igmpQueryInterval, mtu);
      } catch (IOException | RuntimeException e) {
        try {
          lab.close();
        } catch (RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      }
      return lab;
    }
  }

  public Host server() {
    return server;
  }

  public List<Host> agents() {
    return agents;
  }

  /** The second segment's server ({@link Builder#secondSegment}). */
  public Host server2() {
    if (server2 == null) {
      throw new IllegalStateException("lab " + prefix + " has one segment (Builder.secondSegment)");
    }
    return server2;
  }

  /** The second segment's agents, b1..bN. */
  public List<Host> agents2() {
    return agents2;
  }

  /** The router between the two segments, a host with eth0 on br0 and eth1 on br1. */
  public Host router() {
    server2();
    return new Host("router", prefix + "-r", ROUTER_IP, IFACE);
  }

  /** Agent {@code i}, 1-based. */
  public Host agent(int i) {
    if (i < 1 || i > agents.size()) {
      throw new IllegalArgumentException(
          "agent " + i + " does not exist; this lab has agents 1.." + agents.size());
    }
    return agents.get(i - 1);
  }

  /** The prefix of every namespace of this lab, e.g. "cc4711a-lab". */
  public String prefix() {
    return prefix;
  }

  /** Per-lab directory for logs and files; logs survive {@link #close()}, other files do not. */
  public Path dir() {
    return dir;
  }

  /**
   * Drops {@code percent} (0.1 % steps) of the UDP datagrams arriving in {@code h}'s namespace, at
   * random, multicast and unicast alike (nftables {@code numgen random}). 0 removes the rule.
   */
  public void loss(Host h, double percent) {
    if (!(percent >= 0 && percent <= 100)) {
      throw new IllegalArgumentException("loss must be 0..100 %, got " + percent);
    }
    long perMille = Math.round(percent * 10);
    // Create-then-delete in one transaction makes the delete safe when the table does not exist
    // yet.
    StringBuilder script = new StringBuilder("table inet cclab { }\ndelete table inet cclab\n");
    if (perMille > 0) {
      // numgen yields 0..999, and nft rejects "< 1000" as out of range: 100 % is a plain drop.
      String match = perMille < 1000 ? "numgen random mod 1000 < " + perMille + " " : "";
      script
          .append("table inet cclab {\n")
          .append("  chain input {\n")
          .append("    type filter hook input priority 0; policy accept;\n")
          .append("    meta l4proto udp ")
          .append(match)
          .append("counter drop\n")
          .append("  }\n")
          .append("}\n");
    }
    housekeeping(
        List.of("ip", "netns", "exec", own(h).netns(), "nft", "-f", "-"), script.toString());
  }

  /**
   * How long br0's IGMP snooping keeps a port's group membership without a report (kernel default
   * 260 s); with snooping and a querier, a port whose membership expired gets no more multicast.
   * Also shortens the query response interval to 1 s: the bridge counts its own querier only that
   * long after it starts, and floods every group until then.
   */
  public void igmpMembershipInterval(Duration d) {
    housekeeping(
        List.of(
            "ip",
            "netns",
            "exec",
            switchNs(),
            "ip",
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_membership_interval",
            Long.toString(d.toMillis() / 10),
            "mcast_query_response_interval",
            "100"),
        "");
  }

  /**
   * Gives br0 the address {@code cidr} (e.g. "10.77.0.250/24") and makes its own querier send from
   * it ({@code mcast_query_use_ifaddr}) instead of 0.0.0.0: a querier that takes part in the
   * election, as a switch's or router's with an address on the VLAN does.
   */
  public void switchAddress(String cidr) {
    try {
      batch(
          switchNs(),
          "addr add " + cidr + " dev br0",
          "link set br0 type bridge mcast_query_use_ifaddr 1");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Drops every IGMP packet that reaches {@code h}: its kernel never sees a query, so it reports
   * only when it joins, as behind a snooping switch whose queries do not reach it.
   */
  public void dropIgmp(Host h) {
    String script =
        "table ip cclab_igmp {\n  chain input {\n    type filter hook input priority 0; policy accept;\n"
            + "    ip protocol igmp counter drop\n  }\n}\n";
    housekeeping(List.of("ip", "netns", "exec", own(h).netns(), "nft", "-f", "-"), script);
  }

  /**
   * Drops every multicast UDP datagram that reaches {@code h} (a firewall, or a group a switch does
   * not forward to it); unicast and IGMP pass. The rule goes with the namespace.
   */
  public void dropMulticast(Host h) {
    String script =
        "table ip cclab_mcast {\n  chain input {\n    type filter hook input priority 0; policy accept;\n"
            + "    ip daddr 224.0.0.0/4 meta l4proto udp counter drop\n  }\n}\n";
    housekeeping(List.of("ip", "netns", "exec", own(h).netns(), "nft", "-f", "-"), script);
  }

  /**
   * Limits what {@code h} can receive to {@code mbit} Mbit/s: a token bucket on the switch port
   * that sends toward {@code h}. 0 removes it.
   */
  public void rateLimit(Host h, int mbit) {
    if (mbit < 0) {
      throw new IllegalArgumentException("rate must be >= 0 Mbit/s, got " + mbit);
    }
    String port = switchPort(own(h));
    if (mbit == 0) {
      try {
        Exec.run(List.of("tc", "-n", switchNs(), "qdisc", "del", "dev", port, "root"), null);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return;
    }
    // 10 ms worth of bytes, at least 32 KiB: smaller buckets cannot reach the rate at HZ=250.
    long burst = Math.max(32_768, mbit * 1_250L);
    housekeeping(
        List.of(
            "tc",
            "-n",
            switchNs(),
            "qdisc",
            "replace",
            "dev",
            port,
            "root",
            "tbf",
            "rate",
            mbit + "mbit",
            "burst",
            Long.toString(burst),
            "latency",
            "50ms"),
        null);
  }

  /**
   * Starts {@code cmd} in {@code h}'s namespace ({@code setsid ip netns exec <ns> cmd...}), stdin
   * /dev/null, stdout and stderr to {@code dir()/<name>.log}. {@code env} is added to this JVM's
   * environment. The process is killed by {@link #close()} if still running.
   */
  public synchronized LabProcess spawn(
      Host h, String name, List<String> cmd, Map<String, String> env) {
    return spawnIn(own(h), name, cmd, env);
  }

  /**
   * Creates tap device {@code name} on br0, in the switch namespace, for a VM's NIC; it goes away
   * with the lab's namespaces. The VM process must run in that namespace ({@link #spawnInSwitch})
   * to open it. Returns the device name.
   */
  public synchronized String addTap(String name) {
    if (closed) {
      throw new IllegalStateException("lab " + prefix + " is closed");
    }
    if (!name.matches("[a-z][a-z0-9]{0,9}") || taps.contains(name)) {
      throw new IllegalArgumentException(
          "tap name must be 1-10 of [a-z0-9], unused in this lab; got " + name);
    }
    try {
      batch(
          switchNs(),
          "tuntap add dev " + name + " mode tap",
          "link set " + name + " master br0 up");
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot create tap " + name + " in " + switchNs() + " (needs /dev/net/tun)", e);
    }
    taps.add(name);
    return name;
  }

  /** The taps made by {@link #addTap}, in creation order. */
  public synchronized List<String> taps() {
    return List.copyOf(taps);
  }

  /**
   * Like {@link #spawn}, in the switch namespace, where the taps are. Only for a VM monitor such as
   * QEMU: it bridges frames between its tap and the guest and opens no socket of its own there.
   */
  synchronized LabProcess spawnInSwitch(String name, List<String> cmd, Map<String, String> env) {
    return spawnIn(new Host("switch", switchNs(), "", "br0"), name, cmd, env);
  }

  private LabProcess spawnIn(Host h, String name, List<String> cmd, Map<String, String> env) {
    if (closed) {
      throw new IllegalStateException("lab " + prefix + " is closed");
    }
    if (cmd.isEmpty()) {
      throw new IllegalArgumentException("empty command for " + name);
    }
    List<String> full = new ArrayList<>(List.of("setsid", "ip", "netns", "exec", h.netns()));
    full.addAll(cmd);
    Path log = uniqueLog(name);
    ProcessBuilder pb =
        new ProcessBuilder(full)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    if (env != null) {
      pb.environment().putAll(env);
    }
    try {
      LabProcess p = new LabProcess(name, h, pb.start(), log);
      processes.add(p);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + String.join(" ", full), e);
    }
  }

  /** Every process spawned so far, in start order. */
  public synchronized List<LabProcess> processes() {
    return List.copyOf(processes);
  }

  /**
   * Kills every spawned process group (TERM, KILL after {@link #TERM_GRACE}), then whatever else
   * still runs in a lab namespace, deletes the namespaces and every file in {@link #dir()} but the
   * logs. Idempotent. Throws {@link IllegalStateException} after doing all it can if something
   * survived.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // The JVM is shutting down: this is the hook running, or it runs later and finds us closed.
    }
    List<String> problems = new ArrayList<>();
    stopProcesses(problems);
    for (String ns : namespaces) {
      killAllIn(ns, problems);
    }
    for (String ns : namespaces) {
      try {
        Exec.check(List.of("ip", "netns", "del", ns), null);
      } catch (IOException e) {
        problems.add(e.getMessage());
      }
    }
    deleteNonLogs(problems);
    if (!problems.isEmpty()) {
      throw new IllegalStateException("lab " + prefix + " cleanup: " + String.join("; ", problems));
    }
  }

  /** Namespace names on this machine ({@code ip netns list}). */
  static List<String> listNamespaces() throws IOException {
    return Exec.check(List.of("ip", "netns", "list"), null)
        .lines()
        .map(l -> l.split("\\s+")[0])
        .filter(s -> !s.isEmpty())
        .toList();
  }

  /**
   * Namespaces of labs whose creating process is gone (a JVM that was SIGKILLed never ran its
   * hook). They are only reported; {@link #sweepStale()} removes them.
   */
  public static List<String> staleNamespaces() throws IOException {
    List<String> stale = new ArrayList<>();
    for (String ns : listNamespaces()) {
      Matcher m = OWNED.matcher(ns);
      if (m.find() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
        stale.add(ns);
      }
    }
    return stale;
  }

  /** Kills the processes in, and deletes, every {@link #staleNamespaces() stale} lab namespace. */
  public static List<String> sweepStale() throws IOException {
    List<String> stale = staleNamespaces();
    List<String> problems = new ArrayList<>();
    for (String ns : stale) {
      killAllIn(ns, problems);
      Exec.run(List.of("ip", "netns", "del", ns), null);
    }
    if (!problems.isEmpty()) {
      throw new IOException("sweeping stale lab namespaces: " + String.join("; ", problems));
    }
    return stale;
  }

  @Override
  public String toString() {
    return "Lab[" + prefix + ", " + agents.size() + " agents, " + dir + "]";
  }

  // ---- construction

  private void build(boolean snooping, boolean querier, Duration queryInterval, int mtu)
      throws IOException {
    String sw = switchNs();
    addNamespace(sw);
    batch(
        sw,
        "link set lo up",
        "link add br0 type bridge mcast_snooping "
            + (snooping ? 1 : 0)
            + " mcast_querier "
            + (querier ? 1 : 0)
            + (queryInterval == null
                ? ""
                : " mcast_query_interval "
                    + queryInterval.toMillis() / 10
                    + " mcast_startup_query_interval "
                    + queryInterval.toMillis() / 10
                    + " mcast_startup_query_count 1"),
        "link set br0 mtu " + mtu + " up");
    List<Host> hosts = new ArrayList<>();
    hosts.add(server);
    hosts.addAll(agents);
    for (Host h : hosts) {
      addHost(h, "br0", mtu);
    }
    if (server2 != null) {
      buildSecondSegment(mtu);
    }
  }

  /** br1, its hosts, and the router joining it to br0 (see {@link Lab}). */
  private void buildSecondSegment(int mtu) throws IOException {
    String sw = switchNs();
    batch(sw, "link add br1 type bridge mcast_snooping 0", "link set br1 mtu " + mtu + " up");
    String r = prefix + "-r";
    addNamespace(r);
    for (int leg = 0; leg < 2; leg++) {
      batch(
          sw,
          "link add sw-r"
              + leg
              + " mtu "
              + mtu
              + " type veth peer name eth"
              + leg
              + " mtu "
              + mtu
              + " netns "
              + r,
          "link set sw-r" + leg + " master br" + leg + " up");
    }
    batch(
        r,
        "link set lo up",
        "link set eth0 up",
        "link set eth1 up",
        "addr add " + ROUTER_IP + "/" + PREFIX_LENGTH + " brd + dev eth0",
        "addr add " + ROUTER2_IP + "/" + PREFIX_LENGTH + " brd + dev eth1");
    Exec.check(List.of("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"), null);
    List<Host> second = new ArrayList<>();
    second.add(server2);
    second.addAll(agents2);
    for (Host h : second) {
      addHost(h, "br1", mtu, "route add 10.77.0.0/" + PREFIX_LENGTH + " via " + ROUTER2_IP);
    }
    List<Host> first = new ArrayList<>();
    first.add(server);
    first.addAll(agents);
    for (Host h : first) {
      batch(h.netns(), "route add 10.78.0.0/" + PREFIX_LENGTH + " via " + ROUTER_IP);
    }
  }

  /**
   * Host {@code h}'s namespace, joined to {@code bridge} by a veth pair, its address, lo, the
   * multicast route and {@code routes} ({@code ip route} commands).
   */
  private void addHost(Host h, String bridge, int mtu, String... routes) throws IOException {
    addNamespace(h.netns());
    String port = switchPort(h);
    batch(
        switchNs(),
        "link add "
            + port
            + " mtu "
            + mtu
            + " type veth peer name "
            + IFACE
            + " mtu "
            + mtu
            + " netns "
            + h.netns(),
        "link set " + port + " master " + bridge + " up");
    List<String> commands =
        new ArrayList<>(
            List.of(
                "link set lo up",
                "link set " + IFACE + " up",
                "addr add " + h.ip() + "/" + PREFIX_LENGTH + " brd + dev " + IFACE,
                "route add 224.0.0.0/4 dev " + IFACE));
    commands.addAll(List.of(routes));
    batch(h.netns(), commands.toArray(String[]::new));
  }

  private void addNamespace(String ns) throws IOException {
    Exec.check(List.of("ip", "netns", "add", ns), null);
    namespaces.add(ns);
  }

  private static void batch(String ns, String... commands) throws IOException {
    Exec.check(List.of("ip", "-n", ns, "-batch", "-"), String.join("\n", commands) + "\n");
  }

  private static void checkHost() {
    if (!Prereqs.isRoot()) {
      throw new IllegalStateException(
          "the lab needs root (network namespaces, bridges, nftables); run the tests as root");
    }
    List<String> missing = Prereqs.missing("ip", "nft", "tc", "setsid", "kill");
    if (!missing.isEmpty()) {
      throw new IllegalStateException(
          "the lab cannot be built: " + Prereqs.describeMissing(missing));
    }
    try {
      List<String> stale = staleNamespaces();
      if (!stale.isEmpty()) {
        System.err.println(
            "lab: "
                + stale.size()
                + " namespaces of labs whose process is gone: "
                + stale
                + "; remove them with Lab.sweepStale() or bench/lib/lab.sh lab_destroy_prefix");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String uniquePrefix(String tag) throws IOException {
    String clean = tag.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
    clean = clean.substring(0, Math.min(clean.length(), 10));
    List<String> existing = listNamespaces();
    long pid = ProcessHandle.current().pid();
    for (int attempt = 0; attempt < 1000; attempt++) {
      String p =
          "cc" + pid + letters(COUNTER.getAndIncrement()) + "-" + (clean.isEmpty() ? "lab" : clean);
      if (existing.stream().noneMatch(ns -> ns.startsWith(p + "-"))) {
        return p;
      }
    }
    throw new IOException("no free lab prefix for tag " + tag);
  }

  /** 0 → "a", 25 → "z", 26 → "ba": base 26 in letters, so the prefix pattern stays unambiguous. */
  private static String letters(int n) {
    StringBuilder sb = new StringBuilder();
    do {
      sb.insert(0, (char) ('a' + n % 26));
      n /= 26;
    } while (n > 0);
    return sb.toString();
  }

  private static Path labDir(String prefix) throws IOException {
    String base = System.getProperty("clonecast.lab.dir");
    if (base == null || base.isBlank()) {
      return Files.createTempDirectory("clonecast-lab-" + prefix + "-");
    }
    return Files.createDirectories(Path.of(base, prefix));
  }

  // ---- helpers

  private String switchNs() {
    return prefix + "-sw";
  }

  private static String switchPort(Host h) {
    return "sw-" + (h.name().equals("server") ? "s" : h.name());
  }

  private Host own(Host h) {
    if (!h.equals(server) && !agents.contains(h) && !h.equals(server2) && !agents2.contains(h)) {
      throw new IllegalArgumentException(h + " is not a host of lab " + prefix);
    }
    return h;
  }

  private synchronized Path uniqueLog(String name) {
    String base = name.replaceAll("[^A-Za-z0-9._-]", "_");
    Path p = dir.resolve(base + ".log");
    for (int i = 2; Files.exists(p); i++) {
      p = dir.resolve(base + "-" + i + ".log");
    }
    return p;
  }

  private static void housekeeping(List<String> cmd, String stdin) {
    try {
      Exec.check(cmd, stdin);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ---- cleanup

  private void closeFromHook() {
    try {
      close();
    } catch (RuntimeException e) {
      System.err.println("lab " + prefix + ": " + e.getMessage());
    }
  }

  private void stopProcesses(List<String> problems) {
    List<LabProcess> running = processes.stream().filter(LabProcess::groupAlive).toList();
    signalAll(running, Signal.TERM, problems);
    if (!waitGone(running, TERM_GRACE)) {
      signalAll(running, Signal.KILL, problems);
      if (!waitGone(running, TERM_GRACE)) {
        problems.add(
            "still running after SIGKILL: "
                + running.stream().filter(LabProcess::groupAlive).toList());
      }
    }
  }

  private static void signalAll(List<LabProcess> ps, Signal s, List<String> problems) {
    for (LabProcess p : ps) {
      try {
        p.kill(s);
      } catch (UncheckedIOException e) {
        problems.add(e.getMessage());
      }
    }
  }

  private static boolean waitGone(List<LabProcess> ps, Duration bound) {
    long deadline = System.nanoTime() + bound.toNanos();
    while (ps.stream().anyMatch(LabProcess::groupAlive)) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      pause();
    }
    return true;
  }

  /** TERM, then KILL after {@link #TERM_GRACE}, everything that runs in namespace {@code ns}. */
  private static void killAllIn(String ns, List<String> problems) {
    for (boolean force : new boolean[] {false, true}) {
      List<ProcessHandle> left = nsProcesses(ns, problems);
      if (left.isEmpty()) {
        return;
      }
      left.forEach(force ? ProcessHandle::destroyForcibly : ProcessHandle::destroy);
      long deadline = System.nanoTime() + TERM_GRACE.toNanos();
      while (left.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() - deadline < 0) {
        pause();
      }
    }
    List<ProcessHandle> survivors = nsProcesses(ns, problems);
    if (!survivors.isEmpty()) {
      problems.add(
          "processes "
              + survivors.stream().map(ProcessHandle::pid).toList()
              + " in "
              + ns
              + " survived SIGKILL");
    }
  }

  private static List<ProcessHandle> nsProcesses(String ns, List<String> problems) {
    try {
      Exec.Result r = Exec.run(List.of("ip", "netns", "pids", ns), null);
      if (r.exit() != 0) {
        return List.of();
      }
      return r.output()
          .lines()
          .map(String::trim)
          .filter(s -> s.matches("\\d+"))
          .map(s -> ProcessHandle.of(Long.parseLong(s)))
          .flatMap(o -> o.stream())
          .filter(ph -> LabProcess.processGroup(ph.pid()) != -1)
          .toList();
    } catch (IOException e) {
      problems.add(e.getMessage());
      return List.of();
    }
  }

  private void deleteNonLogs(List<String> problems) {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        if (p.equals(dir) || p.getFileName().toString().endsWith(".log")) {
          continue;
        }
        if (Files.isDirectory(p)) {
          try (Stream<Path> children = Files.list(p)) {
            if (children.findAny().isPresent()) {
              continue;
            }
          }
        }
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      problems.add("cannot clean " + dir + ": " + e.getMessage());
    }
  }

  private static void pause() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

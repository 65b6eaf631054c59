package org.clonecast.it.session;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.GoldenDisks;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;

/**
 * What the session tests share: the daemon in a lab, its CLI, a golden disk ({@link GoldenDisks}),
 * and debugfs reads of written disks (no mounting); for the QEMU tests, the head: the daemon with
 * full DHCP on the lab's bridge and a netboot environment built from the test cache.
 */
public final class SessionLab {
  public static final Duration STEP = Duration.ofSeconds(120);
  public static final GoldenDisks DISKS = GoldenDisks.PLAIN;

  private SessionLab() {}

  /** The daemon, and the environment that points the CLI at it. */
  public record Daemon(LabProcess process, int port, Map<String, String> env) {}

  /** The head's HTTP port in the QEMU tests (fixed: the VMs' iPXE scripts name it). */
  public static final int HEAD_PORT = 8080;

  /** Bound on one CLI call or small command. */
  public static final Duration CLI = Duration.ofSeconds(120);

  public static Path repo() {
    return Checkout.repo();
  }

  public static Daemon serve(Lab lab) throws IOException {
    return serve(lab, 0);
  }

  /**
   * The daemon on HTTP port {@code port} (0: any), with the lab's state directory (a restart keeps
   * it).
   */
  public static Daemon serve(Lab lab, int httpPort) throws IOException {
    return serve(lab, httpPort, List.of());
  }

  /**
   * The daemon on HTTP port {@code port} (0: any) with {@code extra} arguments (e.g. {@code
   * --config FILE}), and the lab's state directory (a restart keeps it).
   */
  public static Daemon serve(Lab lab, int httpPort, List<String> extra) throws IOException {
    return serve(lab, lab.server(), lab.dir().resolve("state"), httpPort, extra);
  }

  /**
   * A daemon in {@code host}'s namespace with state directory {@code stateDir}, on HTTP port {@code
   * port} (0: any) with {@code extra} arguments: one of several daemons of a lab.
   */
  public static Daemon serve(Lab lab, Host host, Path stateDir, int httpPort, List<String> extra)
      throws IOException {
    Path state = Files.createDirectories(stateDir);
    // A netboot environment to point scripts at: a marked node's script (and its per-boot secret,
    // which the agents fetch as iPXE would) is served only when there is one. Nothing boots it
    // here.
    Path bootenv = Files.createDirectories(state.resolve("bootenv/current"));
    for (String f : List.of("vmlinuz", "initramfs.zst")) {
      if (!Files.exists(bootenv.resolve(f))) Files.writeString(bootenv.resolve(f), "lab\n");
    }
    LabProcess p =
        lab.spawn(
            host,
            "serve-" + host.name() + "-" + httpPort,
            Checkout.clonecast(
                Stream.concat(
                        Stream.of(
                            "serve",
                            "--interface",
                            Lab.IFACE,
                            "--state-dir",
                            state.toString(),
                            "--http-port",
                            Integer.toString(httpPort),
                            "--no-tftp"),
                        // DHCP off unless the caller says otherwise.
                        Stream.concat(
                            extra.contains("--dhcp") ? Stream.of() : Stream.of("--dhcp", "off"),
                            extra.stream()))
                    .toArray(String[]::new)),
            Map.of());
    Pattern ready = Pattern.compile("clonecast serve: ready on .* http port (\\d+)");
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

  public static String run(String... cmd) throws IOException, InterruptedException {
    return GoldenDisks.run(cmd);
  }

  /**
   * Runs the CLI in the server's namespace; returns its output; fails unless it exits {@code rc}.
   */
  public static String cli(Lab lab, Daemon d, int rc, String... args) {
    List<String> cmd = Checkout.clonecast(args);
    LabProcess p = lab.spawn(lab.server(), "cli-" + args[0] + "-" + args[1], cmd, d.env());
    assertEquals(rc, p.waitFor(STEP), String.join(" ", args) + ":\n" + p.tail(30));
    return p.log();
  }

  /** The daemon's {@code /metrics} text, fetched in the server's namespace. */
  public static String metrics(Lab lab, Daemon d) throws IOException, InterruptedException {
    return run(
        "ip",
        "netns",
        "exec",
        lab.server().netns(),
        "curl",
        "-fsS",
        "--max-time",
        "5",
        "http://127.0.0.1:" + d.port() + "/metrics");
  }

  public static String mac(Host h) throws IOException, InterruptedException {
    return run("ip", "netns", "exec", h.netns(), "cat", "/sys/class/net/eth0/address").trim();
  }

  /** A 64 MiB GPT golden disk: an ext4 root with a Debian-like /etc and 24 MiB of data. */
  public static Path goldenDisk(Path dir) throws Exception {
    Path tree = GoldenDisks.goldenTree(dir);
    Files.createDirectories(tree.resolve("home/admin"));
    byte[] data = new byte[24 << 20];
    new Random(5).nextBytes(data);
    Files.write(tree.resolve("home/admin/dataset.bin"), data);
    return DISKS.build(tree, dir.resolve("golden.img"));
  }

  /**
   * Enrolls every agent of the lab as node0N in group rack1 at its address (with DHCP off, the
   * reserved address is where its netboot script and secret may go), writing a blank 64 MiB disk
   * file.
   */
  public static List<Path> enrollAll(Lab lab, Daemon d) throws Exception {
    List<Path> disks = new ArrayList<>();
    for (int i = 1; i <= lab.agents().size(); i++) {
      Host h = lab.agent(i);
      cli(
          lab,
          d,
          0,
          "node",
          "add",
          mac(h),
          "--name",
          "node0" + i,
          "--group",
          "rack1",
          "--ip",
          h.ip());
      Path disk = lab.dir().resolve("disk-" + h.name() + ".img");
      run("truncate", "-s", "64M", disk.toString());
      cli(lab, d, 0, "node", "set", mac(h), "--target-disk", disk.toString());
      disks.add(disk);
    }
    return disks;
  }

  /** The daemon's public image key, in its state directory. */
  public static Path imageKey(Daemon d) {
    return Path.of(d.env().get("CLONECAST_TOKEN_FILE")).resolveSibling(ImageKey.PUBLIC_FILE);
  }

  public static String cat(Path disk, String file) throws Exception {
    return DISKS.cat(disk, file);
  }

  public static String sha(Path disk, String file, Path work) throws Exception {
    return DISKS.sha(disk, file, work);
  }

  /**
   * {@code clonecast-agent auto} as the netboot environment runs it, pointed at the lab's daemon
   * and trusting its image key (the netboot environment carries it in /etc/clonecast/trusted-keys).
   */
  public static List<String> agent(Daemon d, String... extra) {
    List<String> cmd =
        new ArrayList<>(
            Checkout.agent(
                "auto",
                "--server",
                "http://" + Lab.SERVER_IP + ":" + d.port(),
                "--interface",
                Lab.IFACE,
                "--join-timeout",
                "90",
                "--trust",
                imageKey(d).toString()));
    cmd.addAll(List.of(extra));
    return cmd;
  }

  /** What a command printed (stdout and stderr) and how it exited. */
  public record Result(int rc, String out) {}

  /** Runs {@code cmd} in the lab's server namespace, within {@code bound}. */
  public static Result inLab(Lab lab, String name, Duration bound, String... cmd) {
    LabProcess p = lab.spawn(lab.server(), name, List.of(cmd), Map.of());
    int rc = p.waitFor(bound);
    return new Result(rc, p.log());
  }

  /**
   * Runs a command in the host namespace (the bootenv build fetches the kernel package there);
   * fails unless it exits 0 within {@code bound}.
   */
  public static String host(Duration bound, String... cmd)
      throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(bound.toSeconds(), TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
    String text = new String(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + text);
    return text;
  }

  /**
   * {@code clonecast bootenv build} into {@code state}, in the host namespace, from the machine's
   * test cache (downloads only the first time); returns its output.
   */
  public static String buildBootenv(Path state) throws IOException, InterruptedException {
    return host(
        Duration.ofMinutes(20),
        repo().resolve("clonecast").toString(),
        "bootenv",
        "build",
        "--state-dir",
        state.toString(),
        "--cache",
        Checkout.testCache("bootenv"));
  }

  /**
   * Starts the head: {@code clonecast serve} with {@code config}, full DHCP on the lab's bridge and
   * HTTP on {@link #HEAD_PORT}, in the server's namespace; waits until it answers HTTP.
   */
  public static LabProcess serveHead(Lab lab, String name, Path config, Path state) {
    LabProcess daemon =
        lab.spawn(
            lab.server(),
            name,
            Checkout.clonecast(
                "serve",
                "--config",
                config.toString(),
                "--interface",
                Lab.IFACE,
                "--state-dir",
                state.toString(),
                "--http-port",
                Integer.toString(HEAD_PORT),
                "--dhcp",
                "full",
                "--range",
                "10.77.0.100,10.77.0.199"),
            Map.of());
    Awaitility.await("clonecast serve answering HTTP")
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(500))
        .pollInSameThread()
        .until(
            () -> {
              assertTrue(daemon.isAlive(), "clonecast serve exited:\n" + daemon.tail(30));
              return inLab(
                          lab,
                          "probe",
                          CLI,
                          "curl",
                          "-s",
                          "-o",
                          "/dev/null",
                          "--max-time",
                          "2",
                          "http://127.0.0.1:" + HEAD_PORT + "/")
                      .rc()
                  == 0;
            });
    return daemon;
  }

  /** Runs the CLI against the head from the server's namespace; fails unless it exits 0. */
  public static String headCli(Lab lab, Path state, String... args) {
    List<String> cmd = Checkout.clonecast(args);
    cmd.addAll(
        List.of(
            "--server",
            "http://127.0.0.1:" + HEAD_PORT,
            "--token-file",
            state.resolve("api-token").toString()));
    Result r = inLab(lab, "cli-" + args[0] + "-" + args[1], CLI, cmd.toArray(String[]::new));
    assertEquals(0, r.rc(), String.join(" ", args) + ":\n" + r.out());
    return r.out();
  }
}

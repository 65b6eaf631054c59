package org.clonecast.it.session;

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
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.it.lab.GoldenDisks;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;

/**
 * What the session tests share: the daemon in a lab, its CLI, a golden disk ({@link GoldenDisks}),
 * and debugfs reads of written disks (no mounting).
 */
public final class SessionLab {
  public static final Duration STEP = Duration.ofSeconds(120);
  public static final GoldenDisks DISKS = GoldenDisks.PLAIN;

  private SessionLab() {}

  /** The daemon, and the environment that points the CLI at it. */
  public record Daemon(LabProcess process, int port, Map<String, String> env) {}

  public static Path repo() {
    return Path.of(System.getProperty("clonecast.repo", "../")).toAbsolutePath().normalize();
  }

  public static Daemon serve(Lab lab) throws IOException {
    return serve(lab, 0);
  }

  /**
   * The daemon on HTTP port {@code port} (0: any), with the lab's state directory (a restart keeps
   * it).
   */
  public static Daemon serve(Lab lab, int httpPort) throws IOException {
    Path state = Files.createDirectories(lab.dir().resolve("state"));
    // A netboot environment to point scripts at: a marked node's script (and its per-boot secret,
    // which the agents fetch as iPXE would) is served only when there is one. Nothing boots it
    // here.
    Path bootenv = Files.createDirectories(state.resolve("bootenv/current"));
    for (String f : List.of("vmlinuz", "initramfs.zst")) {
      if (!Files.exists(bootenv.resolve(f))) Files.writeString(bootenv.resolve(f), "lab\n");
    }
    LabProcess p =
        lab.spawn(
            lab.server(),
            "serve-" + httpPort,
            List.of(
                repo().resolve("clonecast").toString(),
                "serve",
                "--interface",
                Lab.IFACE,
                "--state-dir",
                state.toString(),
                "--http-port",
                Integer.toString(httpPort),
                "--dhcp",
                "off",
                "--no-tftp"),
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
    List<String> cmd = new ArrayList<>(List.of(repo().resolve("clonecast").toString()));
    cmd.addAll(List.of(args));
    LabProcess p = lab.spawn(lab.server(), "cli-" + args[0] + "-" + args[1], cmd, d.env());
    assertEquals(rc, p.waitFor(STEP), String.join(" ", args) + ":\n" + p.tail(30));
    return p.log();
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
            List.of(
                repo().resolve("clonecast-agent").toString(),
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
}

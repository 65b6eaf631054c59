package org.clonecast.it.session;

import static org.clonecast.it.session.SessionLab.STEP;
import static org.clonecast.it.session.SessionLab.agent;
import static org.clonecast.it.session.SessionLab.cli;
import static org.clonecast.it.session.SessionLab.enrollAll;
import static org.clonecast.it.session.SessionLab.goldenDisk;
import static org.clonecast.it.session.SessionLab.serve;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.session.SessionLab.Daemon;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The live dashboard in a real browser (headless Chromium, on the head node): opened before a
 * session starts, it follows the session through server-sent events alone, with no reload, and
 * shows every node's progress reaching done. A screenshot of the finished session is kept as {@code
 * integration-tests/target/dashboard.png}.
 */
@LightLane
class DashboardIT {
  private static final Pattern PROGRESS =
      Pattern.compile("<li>session \\d+: (node0\\d) receiving (\\d+)%</li>");

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require(
        "ip", "nft", "tc", "java", "chromium", "sfdisk", "mkfs.ext4", "losetup", "mount");
    Checkout.built(false);
  }

  private static List<String> chromium(String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "chromium",
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--user-data-dir="
                    + Path.of("/tmp", "clonecast-chromium-" + ProcessHandle.current().pid())));
    cmd.addAll(List.of(args));
    return cmd;
  }

  @Test
  void theDashboardFollowsASessionToTheEndWithoutReloading() throws Exception {
    Path profile = Path.of("/tmp", "clonecast-chromium-" + ProcessHandle.current().pid());
    try (Lab lab = Lab.create("dashboard", 2)) {
      Path golden = goldenDisk(lab.dir());
      Daemon d = serve(lab);
      cli(lab, d, 0, "image", "add", "golden", golden.toString());
      enrollAll(lab, d);
      lab.rateLimit(lab.agent(2), 60); // a few seconds of visible progress
      cli(
          lab,
          d,
          0,
          "session",
          "start",
          "--image",
          "golden",
          "--nodes",
          "rack1",
          "--max-wait",
          "60");
      String url = "http://127.0.0.1:" + d.port() + "/dashboard/?closeWhenIdle=1";

      // The page is open before any node joins; it ends its stream when the session has ended, and
      // Chromium then dumps the DOM it built from the events.
      LabProcess page =
          lab.spawn(
              lab.server(),
              "chromium-live",
              chromium("--virtual-time-budget=600000", "--dump-dom", url),
              Map.of());
      List<LabProcess> agents = new ArrayList<>();
      for (Host h : lab.agents()) agents.add(lab.spawn(h, "agent-" + h.name(), agent(d), Map.of()));
      for (LabProcess a : agents) assertEquals(0, a.waitFor(STEP), a.tail(20));
      assertEquals(0, page.waitFor(Duration.ofSeconds(120)), page.tail(20));
      String dom = page.log();

      // The history the page kept: progress below 100 % seen live, then done, for every node.
      Matcher m = PROGRESS.matcher(dom);
      boolean partial = false;
      while (m.find()) {
        int pct = Integer.parseInt(m.group(2));
        partial |= pct > 0 && pct < 100;
      }
      assertTrue(partial, "the page saw progress between 0 and 100 %:\n" + history(dom));
      for (String n : List.of("node01", "node02")) {
        assertTrue(
            dom.contains("<li>session 1: " + n + " done 100%</li>"),
            n + " reached done:\n" + history(dom));
      }
      assertTrue(
          dom.contains("closed: session 1 done"), "the page saw the session end:\n" + history(dom));
      assertTrue(
          Pattern.compile("<tr class=\"state-done\" data-node=\"node01\">").matcher(dom).find(),
          dom);

      // A screenshot of the finished session, kept with the build's output.
      Path png = SessionLab.repo().resolve("integration-tests/target/dashboard.png");
      Files.deleteIfExists(png);
      LabProcess shot =
          lab.spawn(
              lab.server(),
              "chromium-shot",
              chromium(
                  "--virtual-time-budget=60000",
                  "--window-size=1280,800",
                  "--screenshot=" + png,
                  url),
              Map.of());
      assertEquals(0, shot.waitFor(Duration.ofSeconds(120)), shot.tail(20));
      assertTrue(Files.size(png) > 10_000, "a real screenshot: " + Files.size(png) + " bytes");
    } finally {
      SessionLab.run("rm", "-rf", profile.toString());
    }
  }

  private static String history(String dom) {
    int a = dom.indexOf("<ol id=\"history\"");
    return a < 0
        ? "(no history in the page)"
        : dom.substring(a, Math.min(dom.length(), dom.indexOf("</ol>", a) + 5));
  }
}

package org.clonecast.it.session;

import static org.awaitility.Awaitility.await;
import static org.clonecast.it.session.SessionLab.STEP;
import static org.clonecast.it.session.SessionLab.agent;
import static org.clonecast.it.session.SessionLab.cli;
import static org.clonecast.it.session.SessionLab.goldenDisk;
import static org.clonecast.it.session.SessionLab.mac;
import static org.clonecast.it.session.SessionLab.serve;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.LightLane;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.WebDriver;
import org.clonecast.it.session.SessionLab.Daemon;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The operator console in real headless Chromium, driven through chromedriver's W3C WebDriver
 * protocol, in a lab: log in with the API token, add the image and enroll two nodes from a pasted
 * list on the page, start a session from the page and watch its chart and grid move to done (two
 * namespace agents, a small image), then start a second session and cancel it from the page. Last,
 * the page's frame time under a simulated 64-node session over 500 nodes (docs/dashboard.md).
 * Screenshots are kept in {@code integration-tests/target/console-*.png}.
 */
@LightLane
class ConsoleIT {
  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require(
        "ip",
        "nft",
        "tc",
        "java",
        "chromium",
        "chromedriver",
        "sfdisk",
        "mkfs.ext4",
        "losetup",
        "mount");
    Checkout.built(false);
  }

  private static final Path SHOTS = SessionLab.repo().resolve("integration-tests/target");

  private static JsonNode until(WebDriver b, String js, Duration atMost) {
    JsonNode[] last = {null};
    await()
        .atMost(atMost)
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(
            () -> {
              last[0] = b.script("return " + js);
              return last[0].asBoolean();
            });
    return last[0];
  }

  private static void shot(WebDriver b, String name) throws IOException {
    Path png = SHOTS.resolve("console-" + name + ".png");
    Files.createDirectories(SHOTS);
    Files.write(png, b.screenshot());
    assertTrue(Files.size(png) > 10_000, "a real screenshot: " + png);
  }

  @Test
  void anOperatorRunsASessionFromTheBrowser() throws Exception {
    try (Lab lab = Lab.create("console", 2)) {
      Path golden = goldenDisk(lab.dir());
      Daemon d = serve(lab);
      String token = Files.readString(Path.of(d.env().get("CLONECAST_TOKEN_FILE"))).trim();
      String base = "http://127.0.0.1:" + d.port() + "/dashboard/";
      // The CLI follows the event log as the daemon pushes it, all through the scenario.
      LabProcess follow =
          lab.spawn(
              lab.server(),
              "events-follow",
              Checkout.clonecast("events", "--follow", "--limit", "1"),
              d.env());
      try (WebDriver b =
          WebDriver.start(lab, lab.server(), lab.dir().resolve("chromium-profile"), 1280, 800)) {
        b.navigate(base + "#/nodes");
        // Not logged in: the forms cannot act.
        until(
            b,
            "document.querySelector('#enroll-list button').disabled && !document.getElementById('login').hidden",
            Duration.ofSeconds(20));

        // Once the CLI has printed an event (the daemon's start, at the latest) it follows, so the
        // login below is among what it prints: a JVM's start under load took longer than the
        // browser's, and the login fell before its first request.
        await().atMost(Duration.ofSeconds(60)).until(() -> !follow.log().isBlank());

        // Log in once with the token; the cookie does the rest.
        b.type("#login-token", token);
        b.click("#login button");
        until(b, "!document.getElementById('who').hidden", Duration.ofSeconds(10));
        assertEquals(
            "", b.script("return document.cookie").asText(), "the session cookie is HttpOnly");

        // Enroll two nodes from a pasted list.
        String macs = mac(lab.agent(1)) + " node01 rack1\n" + mac(lab.agent(2)) + " node02 rack1\n";
        b.type("#enroll-lines", macs);
        b.click("#enroll-list button");
        until(
            b,
            "document.querySelectorAll('#nodes tbody tr a[href^=\"#/node/\"]').length === 2",
            Duration.ofSeconds(20));
        shot(b, "nodes");
        // The lab's own wiring, which is not the console's job: with DHCP off each node's
        // reserved address is where its netboot secret may go, and its disk is a file.
        for (int i = 1; i <= 2; i++) {
          Host h = lab.agent(i);
          Path disk = lab.dir().resolve("disk-" + h.name() + ".img");
          SessionLab.run("truncate", "-s", "64M", disk.toString());
          cli(lab, d, 0, "node", "set", mac(h), "--ip", h.ip(), "--target-disk", disk.toString());
        }

        // Add the image from the page.
        b.navigate(base + "#/images");
        b.type("#image-add input[name=name]", "golden");
        b.type("#image-add input[name=source]", golden.toString());
        b.click("#image-add button");
        until(
            b, "!!document.querySelector('#images tbody tr.state-ready')", Duration.ofSeconds(60));

        // Start the session from the page, on group rack1.
        lab.rateLimit(lab.agent(2), 60); // a few seconds of visible progress
        b.navigate(base + "#/nodes");
        until(
            b,
            "[...document.querySelectorAll('#start-session select[name=nodes] option')].some(o => o.value === 'rack1')"
                + " && [...document.querySelectorAll('#start-session select[name=image] option')].some(o => o.value === 'golden')",
            Duration.ofSeconds(10));
        b.script(
            "const f = document.getElementById('start-session'); f.nodes.value = 'rack1'; f.image.value = 'golden';"
                + " f.maxWait.value = '60'; return true");
        b.click("#start-session button");
        until(
            b,
            "location.hash === '#/' && document.querySelectorAll('#grid a').length === 2",
            Duration.ofSeconds(20));

        List<LabProcess> agents = new ArrayList<>();
        for (Host h : lab.agents())
          agents.add(lab.spawn(h, "agent-" + h.name(), agent(d), Map.of()));
        // Watch the grid and the chart move: cells pass through receiving to done, the chart draws
        // a wire rate.
        Set<String> seen = new HashSet<>();
        boolean chartMoved = false;
        long deadline = System.nanoTime() + STEP.toNanos();
        boolean shotReceiving = false;
        while (System.nanoTime() < deadline) {
          JsonNode s =
              b.script(
                  "return {cells: [...document.querySelectorAll('#grid a')].map(a => a.className),"
                      + " chart: document.getElementById('chart-now').textContent, title: document.getElementById('live-title').textContent}");
          s.path("cells").forEach(c -> seen.add(c.asText()));
          chartMoved |= s.path("chart").asText().matches("now: wire [1-9].*");
          if (!shotReceiving
              && s.path("cells").toString().contains("st-receiving")
              && s.path("chart").asText().matches(".*per node [1-9].*")) {
            shot(b, "live");
            shotReceiving = true;
          }
          if (s.path("title").asText().contains(", done")) break;
          Thread.sleep(200);
        }
        for (LabProcess a : agents) assertEquals(0, a.waitFor(STEP), a.tail(20));
        until(
            b,
            "[...document.querySelectorAll('#grid a')].every(a => a.className === 'st-done')",
            Duration.ofSeconds(30));
        assertTrue(seen.contains("st-receiving"), "the grid showed nodes receiving: " + seen);
        assertTrue(chartMoved, "the chart showed a wire rate");
        shot(b, "done");
        b.navigate(base + "#/sessions");
        until(
            b,
            "document.querySelector('#history-table tbody tr td:nth-child(7)').textContent.length > 0",
            Duration.ofSeconds(10));
        String history =
            b.script("return document.querySelector('#history-table tbody tr').textContent")
                .asText();
        assertTrue(
            history.contains("done") && history.contains("node0"),
            "the history names the slowest node: " + history);
        shot(b, "history");

        // A second session, cancelled from the page (no agent boots for it).
        b.navigate(base + "#/nodes");
        until(
            b,
            "[...document.querySelectorAll('#start-session select[name=nodes] option')].some(o => o.value === 'rack1')",
            Duration.ofSeconds(10));
        b.script(
            "const f = document.getElementById('start-session'); f.nodes.value = 'rack1'; f.image.value = 'golden'; return true");
        b.click("#start-session button");
        until(
            b,
            "/Session 2: .*waiting/.test(document.getElementById('live-title').textContent)"
                + " && !document.getElementById('live-cancel').hidden",
            Duration.ofSeconds(20));
        b.script("window.confirm = () => true; return true");
        b.click("#live-cancel");
        until(
            b,
            "/Session 2: .*cancelled/.test(document.getElementById('live-title').textContent)",
            Duration.ofSeconds(20));
        until(
            b,
            "[...document.querySelectorAll('#grid a')].every(a => a.className === 'st-failed')"
                + " && document.getElementById('failed').textContent.includes('session cancelled')",
            Duration.ofSeconds(10));
        shot(b, "cancelled");
        await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> follow.log().contains("ended cancelled: cancelled by the operator"));
        String followed = follow.log();
        assertTrue(
            followed.contains("console login from")
                && followed.contains("enrolled: name node02")
                && followed.contains("ended done: 2 of 2 node(s) re-imaged"),
            "events --follow printed the scenario:\n" + followed);

        // On a phone.
        b.setWindowSize(390, 844);
        b.navigate(base + "#/sessions");
        b.navigate(base);
        until(b, "document.querySelectorAll('#grid a').length === 2", Duration.ofSeconds(10));
        shot(b, "phone");
        b.setWindowSize(1280, 800);

        // Frame time: a simulated 64-node session over 500 nodes, two live messages a second for
        // 10 s, through the page's own message path; the page closed its stream (closeWhenIdle),
        // so only the simulation feeds it.
        b.navigate(base + "?closeWhenIdle=1");
        until(
            b,
            "document.getElementById('conn').textContent.startsWith('closed')",
            Duration.ofSeconds(10));
        JsonNode f =
            b.asyncScript(
                Files.readString(
                    SessionLab.repo()
                        .resolve("integration-tests/src/test/resources/console-load.js")));
        String figures =
            String.format(
                Locale.ROOT,
                "page under a simulated 64-node session, 500 nodes: %d frames in %.1f s,"
                    + " frame time mean %.1f ms, p95 %.1f ms, max %.1f ms; %d messages, render %.2f ms per message (max %.1f ms)%n",
                f.path("frames").asInt(),
                f.path("seconds").asDouble(),
                f.path("mean").asDouble(),
                f.path("p95").asDouble(),
                f.path("max").asDouble(),
                f.path("messages").asInt(),
                f.path("renderPerMessage").asDouble(),
                f.path("renderMax").asDouble());
        Files.writeString(SHOTS.resolve("console-frames.txt"), figures);
        System.out.print(figures);
        assertEquals(
            500, f.path("tableRows").asInt(), "the page drew the simulated inventory: " + f);
        assertEquals(
            64, f.path("gridCells").asInt(), "one cell per node of the simulated session: " + f);
        shot(b, "load");
      }
    }
  }
}

package org.clonecast.server.boot;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first session without a netboot environment builds one in the background, once; a failure
 * says what to run.
 */
class BootenvAutoBuildTest {
  @TempDir Path tmp;
  private final ExecutorService worker = Executors.newSingleThreadExecutor();
  private final List<String> events = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    worker.shutdownNow();
  }

  /**
   * A build script with build.sh's contract (result directory on the last line); {@code body}
   * decides.
   */
  private BootenvInstaller installer(String body) throws IOException {
    Path s = tmp.resolve("build.sh");
    Files.writeString(
        s,
        "#!/bin/bash\nset -eu\n"
            + "while [ $# -gt 0 ]; do case \"$1\" in --cache) cache=$2; shift 2;; *) shift;; esac; done\n"
            + body);
    Path jar = tmp.resolve("agent.jar");
    Files.writeString(jar, "jar");
    return new BootenvInstaller(s, jar, Optional.empty());
  }

  @Test
  void buildsOnceInTheBackgroundAndThenServes() throws Exception {
    Path state = Files.createDirectories(tmp.resolve("state"));
    BootenvInstaller i =
        installer(
            "mkdir -p \"$cache/k1\"; echo k >\"$cache/k1/vmlinuz\"; echo i >\"$cache/k1/initramfs.zst\";"
                + " echo m >\"$cache/k1/manifest\"; sleep 0.3; echo \"$cache/k1\"\n");
    BootenvAutoBuild auto = new BootenvAutoBuild(state, Optional.of(i), worker, events::add);
    assertFalse(auto.ready());
    assertTrue(
        auto.status() instanceof BootenvStatus.Missing m && m.why().contains("a session builds it"),
        auto.status().toString());
    auto.ensure(1);
    assertEquals(
        new BootenvStatus.Building(), auto.status(), "waiting nodes are told it is being built");
    auto.ensure(2); // a second session while the first build runs starts nothing more
    await().atMost(Duration.ofSeconds(30)).until(auto::ready);
    assertEquals(new BootenvStatus.Ready(), auto.status());
    await().atMost(Duration.ofSeconds(5)).until(() -> events.size() == 2);
    assertTrue(
        events.get(0).startsWith("session 1: building the netboot environment"), events.toString());
    assertEquals("netboot environment ready: k1", events.get(1));
    auto.ensure(3);
    assertEquals(2, events.size(), "nothing to do once it is there: " + events);
  }

  @Test
  void aFailedBuildSaysWhatToRunAndTheNextSessionTriesAgain() throws Exception {
    Path state = Files.createDirectories(tmp.resolve("state"));
    BootenvAutoBuild auto =
        new BootenvAutoBuild(
            state,
            Optional.of(installer("echo 'bootenv: apt-get download failed' >&2; exit 3\n")),
            worker,
            events::add);
    auto.ensure(7);
    await().atMost(Duration.ofSeconds(30)).until(() -> events.size() == 2);
    assertTrue(
        events.get(1).startsWith("building the netboot environment failed: "), events.toString());
    assertTrue(
        events.get(1).contains("clonecast bootenv build --state-dir " + state), events.toString());
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> auto.status() instanceof BootenvStatus.Failed);
    assertTrue(
        auto.status().why().startsWith("building the netboot environment failed: "),
        auto.status().toString());
    assertTrue(
        auto.status()
            .why()
            .endsWith(
                "bootenv: apt-get download failed; run 'clonecast bootenv build --state-dir "
                    + state
                    + "' as root on the server"),
        "the waiting nodes' consoles get the build's last line: " + auto.status());
    auto.ensure(8);
    await().atMost(Duration.ofSeconds(30)).until(() -> events.size() == 4);
  }

  @Test
  void theConsoleGetsTheLastLineOfALongFailure() {
    assertEquals(
        "bootenv: apt-get download failed; check the apt sources and network",
        BootenvAutoBuild.lastLine(
            "build.sh exited 1: Ign:1 http://mirror/x\nE: Failed to fetch x\n"
                + "bootenv: apt-get download failed; check the apt sources and network\n"));
  }

  @Test
  void withoutTheScriptItSaysSoAtOnce() throws Exception {
    BootenvAutoBuild auto = new BootenvAutoBuild(tmp, Optional.empty(), worker, events::add);
    auto.ensure(1);
    assertEquals(1, events.size());
    assertTrue(events.get(0).contains("'clonecast bootenv build'"), events.toString());
    assertTrue(auto.status().why().contains("cannot build one"), auto.status().toString());
  }
}

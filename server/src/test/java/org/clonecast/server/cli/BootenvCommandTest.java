package org.clonecast.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clonecast bootenv build|show} against a build script with build.sh's contract (the real
 * one needs root and apt).
 */
class BootenvCommandTest {
  @TempDir Path tmp;

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void showSaysWhatToRunWhenNothingIsInstalled() {
    Run r = run("bootenv", "show", "--state-dir", tmp.toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("clonecast bootenv build --state-dir " + tmp), r.err());
  }

  @Test
  void buildInstallsAndShowPrintsTheManifest() throws Exception {
    Path script = tmp.resolve("build.sh");
    Files.writeString(
        script,
        "#!/bin/bash\nset -eu\n"
            + "while [ $# -gt 0 ]; do case \"$1\" in --cache) cache=$2; shift 2;; *) shift;; esac; done\n"
            + "echo 'bootenv: fetching the kernel' >&2\n"
            + "mkdir -p \"$cache/k\"; echo k >\"$cache/k/vmlinuz\"; echo i >\"$cache/k/initramfs.zst\"\n"
            + "echo 'kernel_release=6.1.0-test' >\"$cache/k/manifest\"\necho \"$cache/k\"\n");
    Path jar = Files.writeString(tmp.resolve("agent.jar"), "jar");
    Path state = tmp.resolve("state");
    Run b =
        run(
            "bootenv",
            "build",
            "--state-dir",
            state.toString(),
            "--script",
            script.toString(),
            "--agent-jar",
            jar.toString());
    assertEquals(0, b.exit(), b.err());
    assertTrue(
        b.err().contains("bootenv: fetching the kernel"),
        "the script's progress is shown: " + b.err());
    assertTrue(b.out().contains("kernel_release=6.1.0-test"), b.out());
    Run s = run("bootenv", "show", "--state-dir", state.toString());
    assertEquals(0, s.exit(), s.err());
    assertTrue(s.out().contains("kernel_release=6.1.0-test"), s.out());
  }

  @Test
  void theStateDirComesFromTheConfigFileUnlessGiven() throws Exception {
    Path fromConfig = tmp.resolve("configured");
    Path config =
        Files.writeString(tmp.resolve("clonecast.conf"), "state-dir = " + fromConfig + "\n");
    Run r = run("bootenv", "show", "--config", config.toString());
    assertEquals(1, r.exit());
    assertTrue(
        r.err().contains("no netboot environment in " + fromConfig.resolve("bootenv/current")),
        r.err());
    Run flag =
        run(
            "bootenv",
            "show",
            "--config",
            config.toString(),
            "--state-dir",
            tmp.resolve("flag").toString());
    assertTrue(
        flag.err().contains("no netboot environment in " + tmp.resolve("flag/bootenv/current")),
        flag.err());
  }

  @Test
  void aMissingAgentJarIsAUsageErrorThatNamesTheFlag() throws Exception {
    Path script = Files.writeString(tmp.resolve("build.sh"), "#!/bin/bash\nexit 0\n");
    Run r =
        run(
            "bootenv",
            "build",
            "--state-dir",
            tmp.toString(),
            "--script",
            script.toString(),
            "--agent-jar",
            tmp.resolve("missing.jar").toString());
    assertEquals(1, r.exit());
    assertTrue(
        r.err().contains("missing.jar is missing") && r.err().contains("--agent-jar"), r.err());
  }
}

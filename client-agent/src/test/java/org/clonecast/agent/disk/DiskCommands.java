package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The real disk tools the disk tests use, each run to its end or failing the test with its output.
 */
public final class DiskCommands {
  private DiskCommands() {}

  /** Runs a command; its output, or an assertion failure naming it and its output. */
  public static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
    return out;
  }

  /**
   * Partitions the disk image {@code disk} with sfdisk from a script such as "label:
   * gpt\nstart=2048\n".
   */
  public static void sfdisk(Path disk, String script) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder("sfdisk", "-q", "--no-reread", "--no-tell-kernel", disk.toString())
            .redirectErrorStream(true)
            .start();
    p.getOutputStream().write(script.getBytes(StandardCharsets.US_ASCII));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "sfdisk hung");
    assertEquals(0, p.exitValue(), "sfdisk: " + out);
  }
}

package org.clonecast.it.lab;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one host command (ip, nft, tc, kill; dpkg in PackagingIT) to completion with a time bound,
 * output captured. Not for test payloads in the lab: those go through {@link Lab#spawn}.
 * Thread-safe (no state).
 */
public final class Exec {
  /** Bound for every housekeeping command; they take milliseconds when the machine is healthy. */
  static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** Exit code and everything the command printed (stdout and stderr interleaved). */
  public record Result(int exit, String output) {}

  private Exec() {}

  /**
   * Runs {@code cmd}; a non-zero exit is an {@link IOException} naming the command and its output.
   */
  static String check(List<String> cmd, String stdin) throws IOException {
    Result r = run(cmd, stdin);
    if (r.exit() != 0) {
      throw new IOException(
          "'" + String.join(" ", cmd) + "' exited " + r.exit() + ": " + r.output().strip());
    }
    return r.output();
  }

  static Result run(List<String> cmd, String stdin) throws IOException {
    return run(cmd, stdin, TIMEOUT);
  }

  /**
   * Runs {@code cmd} (with {@code stdin} as its input, or none) and returns its exit code and
   * output.
   *
   * @throws IOException if it cannot start, or is still running after {@code timeout} (it is killed
   *     then)
   */
  public static Result run(List<String> cmd, String stdin, Duration timeout) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    // Drained on its own thread so that a chatty command cannot block on a full pipe while we wait.
    Thread drain = new Thread(() -> copy(p.getInputStream(), out), "exec-drain");
    drain.setDaemon(true);
    drain.start();
    try (OutputStream in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    }
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException(
            "'" + String.join(" ", cmd) + "' did not finish within " + timeout.toSeconds() + " s");
      }
      drain.join(timeout.toMillis());
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running '" + String.join(" ", cmd) + "'", e);
    }
    synchronized (out) {
      return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8));
    }
  }

  private static void copy(InputStream from, ByteArrayOutputStream to) {
    byte[] buf = new byte[8192];
    try (from) {
      for (int n; (n = from.read(buf)) > 0; ) {
        synchronized (to) {
          to.write(buf, 0, n);
        }
      }
    } catch (IOException e) {
      // The process was destroyed; whatever arrived so far is the output.
    }
  }
}

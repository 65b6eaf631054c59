package org.clonecast.protocol.disk;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;

/**
 * The real disk tools the golden tests run (mkfs.*, sfdisk, debugfs), and the committed head
 * samples under {@code golden/disk/NAME.head.gz}: the first 128 KiB of filesystems those tools
 * made, so that the parsers are tested where the tools are missing.
 */
final class DiskTools {
  static final Path SAMPLES = Path.of("src", "test", "resources", "golden", "disk");
  private static final List<String> SBIN = List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin");

  private DiskTools() {}

  /** Fails the test in CI ({@code CI=true}), skips it elsewhere, when a tool is not installed. */
  static void require(String... tools) {
    for (String t : tools) {
      boolean found = SBIN.stream().anyMatch(d -> Files.isExecutable(Path.of(d, t)));
      if (!found) {
        String msg =
            t
                + " not installed (apt-get install xfsprogs btrfs-progs dosfstools e2fsprogs gdisk util-linux)";
        if ("true".equals(System.getenv("CI"))) {
          fail(msg);
        }
        Assumptions.abort(msg);
      }
    }
  }

  /** Fails in CI, skips elsewhere, when not root. */
  static void requireRoot(String why) {
    if (!"root".equals(System.getProperty("user.name"))) {
      if ("true".equals(System.getenv("CI"))) {
        fail("not root: " + why);
      }
      Assumptions.abort("not root: " + why);
    }
  }

  /**
   * Runs a command to its end (60 s at most); a non-zero exit fails with its output. Returns the
   * output.
   */
  static String run(String... cmd) {
    return run(null, true, cmd);
  }

  /** Runs a command to its end (60 s at most) whatever its exit status; returns its output. */
  static String runAnyExit(String... cmd) {
    return run(null, false, cmd);
  }

  /** {@link #run} with {@code stdin} as its input. */
  static String runWithInput(String stdin, String... cmd) {
    return run(stdin, true, cmd);
  }

  private static String run(String stdin, boolean check, String... cmd) {
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("PATH", String.join(":", SBIN));
      Process p = pb.start();
      if (stdin != null) {
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
      }
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail(String.join(" ", cmd) + " did not finish in 60 s");
      }
      if (check && p.exitValue() != 0) {
        fail(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + out);
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A sparse file of {@code size} bytes. */
  static Path sparse(Path dir, String name, long size) throws IOException {
    Path f = dir.resolve(name);
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.setLength(size);
    }
    return f;
  }

  /** {@code n} bytes from {@code offset} (fewer at the file's end). */
  static byte[] read(Path f, long offset, int n) throws IOException {
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "r")) {
      byte[] b = new byte[(int) Math.max(0, Math.min(n, r.length() - offset))];
      r.seek(offset);
      r.readFully(b);
      return b;
    }
  }

  /** The committed sample {@code golden/disk/NAME.head.gz}. */
  static byte[] sample(String name) throws IOException {
    try (InputStream in =
        DiskTools.class.getResourceAsStream("/golden/disk/" + name + ".head.gz")) {
      if (in == null) {
        throw new IllegalStateException(
            "golden/disk/"
                + name
                + ".head.gz missing; regenerate with -Dclonecast.golden.regenerate=true");
      }
      return new GZIPInputStream(in).readAllBytes();
    }
  }

  /**
   * With {@code -Dclonecast.golden.regenerate=true}: stores {@code head} as the sample NAME (run
   * from the module directory).
   */
  static void maybeStore(String name, byte[] head) throws IOException {
    if (!Boolean.getBoolean("clonecast.golden.regenerate")) {
      return;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
      gz.write(head);
    }
    Files.createDirectories(SAMPLES);
    Files.write(SAMPLES.resolve(name + ".head.gz"), bytes.toByteArray());
  }
}

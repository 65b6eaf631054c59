package org.clonecast.it.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The marker boot payload for PXE tests: a stock Debian kernel and a busybox initramfs whose /init
 * prints {@link #MARKER} and the kernel command line on the first serial port, then powers off.
 * Built by {@code integration-tests/marker/build-marker.sh} and cached per machine under {@code
 * /var/cache/clonecast-test} (or {@code $CLONECAST_TEST_CACHE}), keyed by package versions; see
 * docs/pxe-lab.md.
 *
 * @param vmlinuz the kernel (with the EFI stub, so BIOS and UEFI iPXE boot it alike)
 * @param initramfs the zstd-compressed cpio
 */
public record MarkerPayload(Path vmlinuz, Path initramfs) {
  /** What the payload prints, followed by {@code " cmdline=" + /proc/cmdline}. */
  public static final String MARKER = "CLONECAST-MARKER booted";

  /**
   * The first build downloads the kernel package (about 70 MB); later ones only check the cache.
   */
  public static final Duration BUILD_TIMEOUT = Duration.ofSeconds(600);

  /**
   * Builds the payload, or finds it in the cache. A missing tool fails the test under {@code
   * CI=true} and skips it elsewhere ({@link Prereqs}); a failing build is an {@link
   * IllegalStateException} with the script's output.
   *
   * @param repo the repository root (system property {@code clonecast.repo} in the ITs)
   */
  public static MarkerPayload build(Path repo) {
    Prereqs.requireRoot();
    Prereqs.require("apt-get", "dpkg-deb", "cpio", "zstd", "busybox");
    Path script = repo.resolve("integration-tests/marker/build-marker.sh");
    Path out;
    try {
      out = Files.createTempFile("build-marker", ".out");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      Process p =
          new ProcessBuilder(List.of(script.toString()))
              .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
              .redirectErrorStream(false)
              .redirectOutput(out.toFile())
              .redirectError(
                  ProcessBuilder.Redirect.appendTo(
                      out.resolveSibling(out.getFileName() + ".err").toFile()))
              .start();
      if (!p.waitFor(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(
            script + " did not finish within " + BUILD_TIMEOUT.toSeconds() + " s");
      }
      List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
      if (p.exitValue() != 0 || lines.isEmpty()) {
        String err =
            Files.readString(
                out.resolveSibling(out.getFileName() + ".err"), StandardCharsets.UTF_8);
        throw new IllegalStateException(script + " exited " + p.exitValue() + ": " + err.strip());
      }
      Path dir = Path.of(lines.get(lines.size() - 1).strip());
      MarkerPayload m = new MarkerPayload(dir.resolve("vmlinuz"), dir.resolve("initramfs.zst"));
      if (!Files.isRegularFile(m.vmlinuz()) || !Files.isRegularFile(m.initramfs())) {
        throw new IllegalStateException(
            script + " named " + dir + ", which lacks vmlinuz or initramfs.zst");
      }
      return m;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + script, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted building the marker payload", e);
    } finally {
      try {
        Files.deleteIfExists(out);
        Files.deleteIfExists(out.resolveSibling(out.getFileName() + ".err"));
      } catch (IOException e) {
        // A leftover temp file is harmless; the build result is what matters.
      }
    }
  }

  /** Copies both files into {@code dir} as {@code vmlinuz} and {@code initramfs.zst}. */
  public void installInto(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.copy(vmlinuz, dir.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(initramfs, dir.resolve("initramfs.zst"), StandardCopyOption.REPLACE_EXISTING);
  }
}

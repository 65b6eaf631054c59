package org.clonecast.server.boot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.common.trust.TrustedKey;

/**
 * Builds the netboot environment with {@code bootenv/build.sh} and installs it as {@code
 * <state-dir>/bootenv/current}, which the HTTP server serves to nodes marked for re-imaging.
 *
 * <p>Layout: the script caches each build under {@code <state-dir>/bootenv/cache/<key>/} ({@code
 * vmlinuz}, {@code initramfs.zst}, {@code manifest}); {@code current} is a relative symbolic link
 * to one of them. A new build replaces the link with {@code rename(2)} of a fresh link, so a node
 * fetching its kernel and initramfs sees the old pair or the new pair, never a mix or a gap.
 * Afterwards only the new build and the one before it stay in the cache. A {@code current} that is
 * a plain directory (installed by hand) is moved aside to {@code bootenv/replaced-<n>} first.
 *
 * <p>Not thread-safe: one build per state directory at a time (the CLI runs one per invocation).
 */
public final class BootenvInstaller {
  /** The first build downloads the kernel package (about 70 MB) and compresses about 80 MB. */
  public static final Duration BUILD_TIMEOUT = Duration.ofMinutes(20);

  private final Path script;
  private final Path agentJar;
  private final Optional<Path> jdk;

  /**
   * @param script {@code bootenv/build.sh}
   * @param agentJar the agent jar that goes into the initramfs
   * @param jdk the JDK whose jlink builds the JRE (empty: the one on the PATH)
   */
  public BootenvInstaller(Path script, Path agentJar, Optional<Path> jdk) {
    this.script = Objects.requireNonNull(script);
    this.agentJar = Objects.requireNonNull(agentJar);
    this.jdk = Objects.requireNonNull(jdk);
  }

  /**
   * The installer with the build script and agent jar of this installation ({@link InstallLayout}:
   * the package's /usr/share/clonecast or a checkout).
   *
   * @return empty when either is not there
   */
  public static Optional<BootenvInstaller> installed() {
    InstallLayout layout = InstallLayout.ofRunningJar();
    Optional<Path> script = layout.bootenvScript();
    Optional<Path> agent = layout.agentJar();
    return script.isPresent() && agent.isPresent()
        ? Optional.of(new BootenvInstaller(script.get(), agent.get(), Optional.empty()))
        : Optional.empty();
  }

  /** The served directory: {@code <state-dir>/bootenv/current}. */
  public static Path currentDir(Path stateDir) {
    return stateDir.resolve("bootenv").resolve("current");
  }

  /**
   * Whether the environment in {@code dir} trusts the daemon's current image key (its manifest
   * lists the key's fingerprint as {@code trusted_key=}): after {@code clonecast key rotate} one
   * that does not would refuse every image the daemon now signs. One installed by hand (no
   * manifest) or by a script that lists no keys is taken as it is: what it trusts is its
   * installer's business.
   */
  public static boolean trustsCurrentKey(Path dir, Path stateDir) {
    try {
      Path pub = stateDir.resolve(ImageKey.PUBLIC_FILE);
      if (!Files.isRegularFile(pub))
        return true; // no key yet: the daemon's first start makes it, and a build then
      if (!Files.exists(dir.resolve("manifest"))) return true;
      String want =
          "trusted_key="
              + ImageTrust.fingerprint(
                  TrustedKey.parse(Files.readString(pub, StandardCharsets.US_ASCII).trim()));
      List<String> listed =
          Files.readAllLines(dir.resolve("manifest"), StandardCharsets.UTF_8).stream()
              .map(String::strip)
              .filter(l -> l.startsWith("trusted_key="))
              .toList();
      return listed.isEmpty() || listed.contains(want);
    } catch (IOException | IllegalArgumentException e) {
      return false;
    }
  }

  /** Whether {@code dir} holds an environment the HTTP server can serve. */
  public static boolean ready(Path dir) {
    return Files.isRegularFile(dir.resolve("vmlinuz"))
        && Files.isRegularFile(dir.resolve("initramfs.zst"));
  }

  /**
   * Builds (or finds in the cache) and installs the environment.
   *
   * @param cache where the script keeps its builds (empty: {@code <state-dir>/bootenv/cache})
   * @param progress receives each line the script writes, as it comes
   * @return the build directory {@code current} now points at
   * @throws BootenvException when the script fails (with its last lines) or its result is
   *     incomplete; {@code current} is then unchanged
   */
  public Path buildAndInstall(Path stateDir, Optional<Path> cache, Consumer<String> progress)
      throws IOException, InterruptedException {
    if (!Files.isRegularFile(script)) {
      throw new BootenvException(
          "the build script " + script + " is missing; reinstall clonecast or pass --script");
    }
    if (!Files.isRegularFile(agentJar)) {
      throw new BootenvException(
          "the agent jar "
              + agentJar
              + " is missing; build it (mvn -DskipTests install) or pass --agent-jar");
    }
    Path bootenv = Files.createDirectories(stateDir.resolve("bootenv"));
    Path cacheDir = cache.orElse(bootenv.resolve("cache"));
    // The agent trusts the daemon's image keys (the daemon makes its key at first start; a build
    // before that makes it here, and the daemon then finds it).
    ImageKey.loadOrCreate(stateDir);
    Path keys = Files.createTempFile(bootenv, ".trusted-keys-", "");
    Files.writeString(keys, ImageKey.trustedKeysFile(stateDir));
    try {
      return build(stateDir, bootenv, cacheDir, keys, progress);
    } finally {
      Files.deleteIfExists(keys);
    }
  }

  private Path build(
      Path stateDir, Path bootenv, Path cacheDir, Path keys, Consumer<String> progress)
      throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "bash",
                script.toString(),
                "--agent-jar",
                agentJar.toString(),
                "--cache",
                cacheDir.toString(),
                "--trusted-keys",
                keys.toString()));
    jdk.ifPresent(j -> cmd.addAll(List.of("--jdk", j.toString())));
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .start();
    List<String> lines = new ArrayList<>();
    try (var r = p.inputReader(StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        lines.add(line);
        progress.accept(line);
      }
    }
    if (!p.waitFor(BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      throw new BootenvException(
          script + " did not finish within " + BUILD_TIMEOUT.toMinutes() + " minutes");
    }
    if (p.exitValue() != 0 || lines.isEmpty()) {
      throw new BootenvException(script + " exited " + p.exitValue() + ": " + tail(lines, 5));
    }
    Path built = Path.of(lines.get(lines.size() - 1).strip()).toAbsolutePath().normalize();
    if (!ready(built) || !Files.isRegularFile(built.resolve("manifest"))) {
      throw new BootenvException(
          script + " named " + built + ", which lacks vmlinuz, initramfs.zst or manifest");
    }
    install(bootenv, built);
    prune(cacheDir, built);
    return built;
  }

  /** Points {@code bootenv/current} at {@code built} in one rename. */
  static void install(Path bootenv, Path built) throws IOException {
    Path current = bootenv.resolve("current");
    if (Files.isDirectory(current, LinkOption.NOFOLLOW_LINKS)) {
      int n = 1;
      while (Files.exists(bootenv.resolve("replaced-" + n), LinkOption.NOFOLLOW_LINKS)) n++;
      Files.move(current, bootenv.resolve("replaced-" + n), StandardCopyOption.ATOMIC_MOVE);
    }
    Path target =
        built.startsWith(bootenv.toAbsolutePath().normalize())
            ? bootenv.toAbsolutePath().normalize().relativize(built)
            : built;
    Path link = bootenv.resolve(".current-" + ProcessHandle.current().pid());
    Files.deleteIfExists(link);
    Files.createSymbolicLink(link, target);
    Files.move(link, current, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Drops cached builds other than {@code keep} and the newest other one (most likely the one it
   * replaced).
   */
  private static void prune(Path cache, Path keep) throws IOException {
    if (!Files.isDirectory(cache)) return;
    List<Path> builds = new ArrayList<>();
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(cache, e -> !e.getFileName().toString().startsWith("."))) {
      ds.forEach(builds::add);
    }
    builds.removeIf(b -> b.toAbsolutePath().normalize().equals(keep));
    // A build with trusted keys is its base build plus a small archive: the base stays for the next
    // key.
    String name = keep.getFileName().toString();
    int trust = name.indexOf("-trust_");
    if (trust > 0)
      builds.removeIf(b -> b.getFileName().toString().equals(name.substring(0, trust)));
    // Newest first: the previous build is kept so an operator can switch back by hand.
    builds.sort((a, b) -> Long.compare(mtime(b), mtime(a)));
    for (int i = 1; i < builds.size(); i++) {
      deleteTree(builds.get(i));
    }
  }

  private static long mtime(Path p) {
    try {
      return Files.getLastModifiedTime(p).toMillis();
    } catch (IOException e) {
      return 0;
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static String tail(List<String> lines, int n) {
    return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size())).strip();
  }

  /** The build failed; the message says why and what to do. */
  public static final class BootenvException extends IOException {
    private static final long serialVersionUID = 1L;

    public BootenvException(String message) {
      super(message);
    }
  }
}

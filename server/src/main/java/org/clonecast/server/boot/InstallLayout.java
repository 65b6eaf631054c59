package org.clonecast.server.boot;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where the daemon's own files are, whichever way it was installed. The Debian package puts the
 * jars and {@code bootenv/build.sh} in {@code /usr/share/clonecast}; a checkout has {@code
 * server/target/clonecast.jar}, {@code client-agent/target/clonecast-agent.jar}, {@code
 * bootenv/build.sh} and {@code scripts/} under its root. Found from the running jar's directory:
 * first as the package lays it out, then as a checkout does, then the package's directory itself (a
 * jar copied elsewhere still finds an installed package's files).
 *
 * <p>Immutable; thread-safe.
 */
public final class InstallLayout {
  /** The Debian package's directory. */
  public static final Path PACKAGE_DIR = Path.of("/usr/share/clonecast");

  private final List<Path> packageDirs;
  private final Optional<Path> checkout;

  private InstallLayout(List<Path> packageDirs, Optional<Path> checkout) {
    this.packageDirs = List.copyOf(packageDirs);
    this.checkout = checkout;
  }

  /** The layout around the running jar. */
  public static InstallLayout ofRunningJar() {
    return around(jarDir(), PACKAGE_DIR);
  }

  /**
   * The layout around {@code jarDir}.
   *
   * @param packageDir where an installed package's files are
   */
  static InstallLayout around(Path jarDir, Path packageDir) {
    Set<Path> dirs = new LinkedHashSet<>(List.of(jarDir.normalize(), packageDir.normalize()));
    // server/target/clonecast.jar (or server/target/classes): the checkout is two levels up.
    Path up = jarDir.resolve("../..").normalize();
    boolean isCheckout =
        Files.isRegularFile(up.resolve("pom.xml")) && Files.isDirectory(up.resolve("server"));
    return new InstallLayout(
        new ArrayList<>(dirs), isCheckout ? Optional.of(up) : Optional.empty());
  }

  private static Path jarDir() {
    try {
      return Path.of(
              InstallLayout.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .getParent();
    } catch (URISyntaxException | NullPointerException e) {
      return Path.of(".");
    }
  }

  /** {@code bootenv/build.sh}, which builds the netboot environment. */
  public Optional<Path> bootenvScript() {
    return first("bootenv/build.sh", "bootenv/build.sh");
  }

  /** The agent jar that goes into the netboot environment. */
  public Optional<Path> agentJar() {
    return first("clonecast-agent.jar", "client-agent/target/clonecast-agent.jar");
  }

  /** {@code scripts/demo.sh}: only a checkout has it. */
  public Optional<Path> demoScript() {
    return checkout.map(c -> c.resolve("scripts/demo.sh")).filter(Files::isRegularFile);
  }

  /** Where {@link #bootenvScript} and {@link #agentJar} look, for error messages. */
  public String places() {
    List<String> out = new ArrayList<>();
    checkout.ifPresent(c -> out.add(c + " (checkout)"));
    packageDirs.forEach(d -> out.add(d.toString()));
    return String.join(", ", out);
  }

  /**
   * The first existing file: in the jar's own directory as packaged, in the checkout, in the
   * package's directory.
   */
  private Optional<Path> first(String packaged, String inCheckout) {
    List<Path> candidates = new ArrayList<>();
    candidates.add(packageDirs.get(0).resolve(packaged));
    checkout.ifPresent(c -> candidates.add(c.resolve(inCheckout)));
    packageDirs.stream().skip(1).forEach(d -> candidates.add(d.resolve(packaged)));
    return candidates.stream().filter(Files::isRegularFile).findFirst();
  }
}

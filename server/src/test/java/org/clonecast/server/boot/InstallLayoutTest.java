package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon finds its files as the Debian package lays them out and as a checkout does. */
class InstallLayoutTest {
  @TempDir Path dir;

  static Path file(Path p) throws IOException {
    Files.createDirectories(p.getParent());
    return Files.writeString(p, "x");
  }

  @Test
  void findsThePackagesFilesBesideItsJar() throws IOException {
    Path share = dir.resolve("usr/share/clonecast");
    file(share.resolve("clonecast.jar"));
    Path script = file(share.resolve("bootenv/build.sh"));
    Path agent = file(share.resolve("clonecast-agent.jar"));
    InstallLayout layout = InstallLayout.around(share, dir.resolve("nowhere"));
    assertEquals(Optional.of(script), layout.bootenvScript());
    assertEquals(Optional.of(agent), layout.agentJar());
    assertEquals(Optional.empty(), layout.demoScript(), "the package has no demo");
  }

  @Test
  void findsACheckoutsFilesFromServerTarget() throws IOException {
    Path repo = dir.resolve("clonecast");
    file(repo.resolve("pom.xml"));
    Path target = Files.createDirectories(repo.resolve("server/target"));
    Path script = file(repo.resolve("bootenv/build.sh"));
    Path agent = file(repo.resolve("client-agent/target/clonecast-agent.jar"));
    Path demo = file(repo.resolve("scripts/demo.sh"));
    InstallLayout layout = InstallLayout.around(target, dir.resolve("nowhere"));
    assertEquals(Optional.of(script), layout.bootenvScript());
    assertEquals(Optional.of(agent), layout.agentJar());
    assertEquals(Optional.of(demo), layout.demoScript());
  }

  @Test
  void aJarElsewhereFallsBackToTheInstalledPackage() throws IOException {
    Path share = dir.resolve("usr/share/clonecast");
    Path script = file(share.resolve("bootenv/build.sh"));
    Path agent = file(share.resolve("clonecast-agent.jar"));
    InstallLayout layout = InstallLayout.around(Files.createDirectories(dir.resolve("opt")), share);
    assertEquals(Optional.of(script), layout.bootenvScript());
    assertEquals(Optional.of(agent), layout.agentJar());
    assertTrue(layout.places().contains(share.toString()), layout.places());
  }
}

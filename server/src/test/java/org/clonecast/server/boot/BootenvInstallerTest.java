package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The install half of {@code clonecast bootenv build}: the real build script needs root and a
 * network, so these tests run a small script with the same contract (options, cache layout, the
 * result directory on the last line of stdout, exit status) and check what ends up served.
 */
class BootenvInstallerTest {
  @TempDir Path tmp;

  /**
   * A build script whose result is keyed by the contents of {@code key}, as build.sh keys by
   * versions.
   */
  private Path script(String body) throws IOException {
    Path s = tmp.resolve("build.sh");
    Files.writeString(
        s,
        "#!/bin/bash\nset -eu\n"
            + "while [ $# -gt 0 ]; do case \"$1\" in --cache) cache=$2; shift 2;; --agent-jar) jar=$2; shift 2;; *) shift;; esac; done\n"
            + body);
    return s;
  }

  private static final String BUILD =
      "key=$(cat \"$(dirname \"$0\")/key\")\n"
          + "echo \"bootenv: building $key\" >&2\n"
          + "mkdir -p \"$cache/$key\"\n"
          + "echo \"kernel $key\" >\"$cache/$key/vmlinuz\"; echo \"initrd $key\" >\"$cache/$key/initramfs.zst\"\n"
          + "echo \"key=$key\" >\"$cache/$key/manifest\"\n"
          + "echo \"$cache/$key\"\n";

  private BootenvInstaller installer() throws IOException {
    Path jar = tmp.resolve("agent.jar");
    Files.writeString(jar, "jar");
    return new BootenvInstaller(script(BUILD), jar, Optional.empty());
  }

  private Path build(BootenvInstaller i, Path state, String key) throws Exception {
    Files.writeString(tmp.resolve("key"), key);
    List<String> lines = new ArrayList<>();
    Path built = i.buildAndInstall(state, Optional.empty(), lines::add);
    assertTrue(
        lines.contains("bootenv: building " + key), "the script's progress is passed on: " + lines);
    return built;
  }

  @Test
  void installsTheBuildAsARelativeLinkAndSwapsItOnTheNextBuild() throws Exception {
    Path state = tmp.resolve("state");
    BootenvInstaller i = installer();
    Path first = build(i, state, "k1");
    Path current = BootenvInstaller.currentDir(state);
    assertTrue(Files.isSymbolicLink(current));
    assertFalse(
        Files.readSymbolicLink(current).isAbsolute(),
        "a relative link survives moving the state directory");
    assertEquals("kernel k1\n", Files.readString(current.resolve("vmlinuz")));
    assertTrue(BootenvInstaller.ready(current));

    Path second = build(i, state, "k2");
    assertEquals("initrd k2\n", Files.readString(current.resolve("initramfs.zst")));
    assertTrue(Files.isDirectory(first), "the previous build stays for a manual switch back");
    build(i, state, "k3");
    assertEquals("kernel k3\n", Files.readString(current.resolve("vmlinuz")));
    assertTrue(Files.isDirectory(second));
    assertFalse(Files.exists(first), "older builds are pruned");
    try (var files = Files.list(state.resolve("bootenv"))) {
      assertEquals(
          List.of("cache", "current"),
          files.map(p -> p.getFileName().toString()).sorted().toList(),
          "no temporary link is left behind");
    }
  }

  @Test
  void theSameKeyAgainKeepsTheBuild() throws Exception {
    Path state = tmp.resolve("state");
    BootenvInstaller i = installer();
    Path a = build(i, state, "same");
    Path b = build(i, state, "same");
    assertEquals(a, b);
    assertEquals(
        "kernel same\n", Files.readString(BootenvInstaller.currentDir(state).resolve("vmlinuz")));
  }

  @Test
  void aHandInstalledDirectoryIsMovedAsideNotDeleted() throws Exception {
    Path state = tmp.resolve("state");
    Path current = BootenvInstaller.currentDir(state);
    Files.createDirectories(current);
    Files.writeString(current.resolve("vmlinuz"), "mine");
    build(installer(), state, "k1");
    assertEquals("kernel k1\n", Files.readString(current.resolve("vmlinuz")));
    assertEquals("mine", Files.readString(state.resolve("bootenv/replaced-1/vmlinuz")));
  }

  @Test
  void aFailingBuildLeavesTheServedEnvironmentAloneAndSaysWhy() throws Exception {
    Path state = tmp.resolve("state");
    build(installer(), state, "good");
    Path jar = tmp.resolve("agent.jar");
    BootenvInstaller broken =
        new BootenvInstaller(
            script(
                "echo 'bootenv: apt-get download linux-image-x failed; check the apt sources' >&2\nexit 1\n"),
            jar,
            Optional.empty());
    BootenvInstaller.BootenvException e =
        assertThrows(
            BootenvInstaller.BootenvException.class,
            () -> broken.buildAndInstall(state, Optional.empty(), line -> {}));
    assertTrue(
        e.getMessage().contains("exited 1") && e.getMessage().contains("check the apt sources"),
        e.getMessage());
    assertEquals(
        "kernel good\n", Files.readString(BootenvInstaller.currentDir(state).resolve("vmlinuz")));
  }

  @Test
  void aResultWithoutTheInitramfsIsRefused() throws Exception {
    Path state = tmp.resolve("state");
    Path jar = tmp.resolve("agent.jar");
    Files.writeString(jar, "jar");
    BootenvInstaller half =
        new BootenvInstaller(
            script("mkdir -p \"$cache/x\"; echo k >\"$cache/x/vmlinuz\"; echo \"$cache/x\"\n"),
            jar,
            Optional.empty());
    BootenvInstaller.BootenvException e =
        assertThrows(
            BootenvInstaller.BootenvException.class,
            () -> half.buildAndInstall(state, Optional.empty(), line -> {}));
    assertTrue(e.getMessage().contains("lacks vmlinuz, initramfs.zst or manifest"), e.getMessage());
    assertFalse(Files.exists(BootenvInstaller.currentDir(state)));
  }

  @Test
  void aMissingScriptOrJarIsNamed() {
    Path state = tmp.resolve("state");
    BootenvInstaller noScript =
        new BootenvInstaller(tmp.resolve("nope.sh"), tmp.resolve("agent.jar"), Optional.empty());
    assertTrue(
        assertThrows(
                BootenvInstaller.BootenvException.class,
                () -> noScript.buildAndInstall(state, Optional.empty(), l -> {}))
            .getMessage()
            .contains("nope.sh is missing"));
  }
}

package org.clonecast.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Executors;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.common.trust.ImageSigner;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.server.boot.BootenvAutoBuild;
import org.clonecast.server.boot.BootenvInstaller;
import org.clonecast.server.boot.BootenvStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clonecast key show|rotate|forget-previous} on a state directory, and what a rotation does
 * to stored images and to the netboot environment (docs/security.md, "Rotating the image key").
 */
class KeyCommandTest {
  @TempDir Path tmp;

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(exit, out.toString(), err.toString());
  }

  /**
   * A build script with build.sh's contract for --trusted-keys: the manifest lists each key's
   * fingerprint.
   */
  private Path script() throws Exception {
    return Files.writeString(
        tmp.resolve("build.sh"),
        "#!/bin/bash\nset -eu\n"
            + "while [ $# -gt 0 ]; do case \"$1\" in --cache) cache=$2; shift 2;; --trusted-keys) keys=$2; shift 2;; *) shift;; esac; done\n"
            + "d=\"$cache/k-$(sha256sum \"$keys\" | cut -c1-8)\"; mkdir -p \"$d\"; echo k >\"$d/vmlinuz\"; echo i >\"$d/initramfs.zst\"\n"
            + "grep -v '^#' \"$keys\" | while read -r l; do echo \"trusted_key=$(echo \"$l\" | base64 -d | sha256sum | cut -d' ' -f1)\"; done"
            + " >\"$d/manifest\"\necho \"$d\"\n");
  }

  @Test
  void rotateMakesANewKeyKeepsTheOldOneAndSignsEveryStoredImageAgain() throws Exception {
    Path state = tmp.resolve("state");
    Run first = run("key", "rotate", "--state-dir", state.toString());
    assertEquals(0, first.exit(), first.err());
    ImageKey old = ImageKey.load(state);
    assertTrue(first.out().contains("made one: " + old.fingerprint()), first.out());

    byte[] d = new byte[300_000];
    new Random(1).nextBytes(d);
    Path raw = Files.write(tmp.resolve("d.raw"), d);
    Path cci = Files.createDirectories(state.resolve("images")).resolve("golden.cci");
    ImageCreator.create(raw, cci, 65536, 1, 1, p -> {});
    ImageSigner.sign(cci, old);

    Run rotate = run("key", "rotate", "--state-dir", state.toString());
    assertEquals(0, rotate.exit(), rotate.err());
    ImageKey next = ImageKey.load(state);
    assertTrue(
        rotate.out().contains("new key " + next.fingerprint())
            && rotate.out().contains("1 stored image(s) signed"),
        rotate.out());
    try (ImageReader r = ImageReader.open(cci)) {
      assertEquals(
          Optional.empty(),
          ManifestSignature.check(r.manifest(), r.signature(), next.publicKey()),
          "signed again");
    }
    Run show = run("key", "show", "--state-dir", state.toString());
    assertTrue(
        show.out().contains("current  " + next.fingerprint())
            && show.out().contains("previous " + old.fingerprint()),
        show.out());
    Run file = run("key", "show", "--trusted-keys", "--state-dir", state.toString());
    assertEquals(
        List.of(next.publicKey(), old.publicKey()),
        ImageTrust.parseFile(file.out(), "out").stream().toList());

    Run forget = run("key", "forget-previous", "--state-dir", state.toString());
    assertTrue(forget.out().contains("previous key deleted"), forget.out());
    assertFalse(run("key", "show", "--state-dir", state.toString()).out().contains("previous"));
  }

  @Test
  void aRotationMakesTheInstalledNetbootEnvironmentStaleUntilItIsRebuilt() throws Exception {
    Path state = tmp.resolve("state");
    Path jar = Files.writeString(tmp.resolve("agent.jar"), "jar");
    Run b =
        run(
            "bootenv",
            "build",
            "--state-dir",
            state.toString(),
            "--script",
            script().toString(),
            "--agent-jar",
            jar.toString());
    assertEquals(0, b.exit(), b.err());
    String current = ImageKey.load(state).fingerprint();
    assertTrue(
        b.out().contains("trusted_key=" + current),
        "the environment trusts the daemon's key: " + b.out());
    Path dir = BootenvInstaller.currentDir(state);
    BootenvAutoBuild auto =
        new BootenvAutoBuild(state, Optional.empty(), Executors.newSingleThreadExecutor(), e -> {});
    assertTrue(auto.ready());

    assertEquals(0, run("key", "rotate", "--no-bootenv", "--state-dir", state.toString()).exit());
    assertFalse(BootenvInstaller.trustsCurrentKey(dir, state));
    assertFalse(
        auto.ready(),
        "nodes must not boot an environment that refuses every image the daemon now signs");
    BootenvStatus st = auto.status();
    assertTrue(st.why().contains("does not trust the server's current image key"), st.why());

    Run again =
        run(
            "bootenv",
            "build",
            "--state-dir",
            state.toString(),
            "--script",
            script().toString(),
            "--agent-jar",
            jar.toString());
    assertEquals(0, again.exit(), again.err());
    assertTrue(
        again.out().contains("trusted_key=" + ImageKey.load(state).fingerprint())
            && again.out().contains("trusted_key=" + current),
        "the rebuilt environment trusts the new key and, for the overlap, the old: " + again.out());
    assertTrue(auto.ready());
    // One installed by hand (no manifest) is taken as it is.
    Files.delete(dir.resolve("manifest"));
    assertTrue(BootenvInstaller.trustsCurrentKey(dir, state));
  }

  @Test
  void showWithoutAKeySaysWhereItLooked() {
    Run r = run("key", "show", "--state-dir", tmp.toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("no image key in " + tmp), r.err());
  }
}

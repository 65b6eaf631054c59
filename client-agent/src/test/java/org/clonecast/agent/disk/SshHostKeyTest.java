package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The keys we write are keys OpenSSH reads: ssh-keygen derives the same public key from our private
 * file.
 */
class SshHostKeyTest {
  @Test
  void sshKeygenReadsOurPrivateKeyAndDerivesOurPublicKey(@TempDir Path dir) throws Exception {
    SshHostKey k = SshHostKey.generate("root@node07");
    Path priv = dir.resolve("ssh_host_ed25519_key");
    Files.writeString(priv, k.privateFile());
    Files.setPosixFilePermissions(priv, PosixFilePermissions.fromString("rw-------"));
    Process p =
        new ProcessBuilder("ssh-keygen", "-y", "-f", priv.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertEquals(
        k.publicLine(),
        out,
        "ssh-keygen prints the public key with the comment stored in the private file");
    Process fp =
        new ProcessBuilder("ssh-keygen", "-l", "-f", priv.toString())
            .redirectErrorStream(true)
            .start();
    String print = new String(fp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(fp.waitFor(30, TimeUnit.SECONDS));
    assertTrue(print.startsWith("256 SHA256:") && print.trim().endsWith("(ED25519)"), print);
  }

  @Test
  void everyKeyIsNew() throws IOException {
    assertNotEquals(
        SshHostKey.generate("a").publicLine().split(" ")[1],
        SshHostKey.generate("a").publicLine().split(" ")[1]);
    assertTrue(
        SshHostKey.generate("").publicLine().matches("ssh-ed25519 [A-Za-z0-9+/]{68}"),
        "no trailing comment when empty");
  }
}

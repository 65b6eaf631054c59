package org.clonecast.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.clonecast.common.cli.ExitCodes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clonecast send} refuses bad input before touching the network, with a message that says
 * what to do.
 */
class SendCommandTest {
  @TempDir Path dir;

  private record Run(int code, String err) {}

  private Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, err.toString());
  }

  @Test
  void unknownInterfaceListsTheOnesThereAre() throws Exception {
    Path img = Files.write(dir.resolve("x.raw"), new byte[4096]);
    Run r = run("send", img.toString(), "--interface", "nosuch9");
    assertEquals(ExitCodes.ENVIRONMENT, r.code());
    assertTrue(
        r.err().contains("interface nosuch9 not found; interfaces: ") && r.err().contains("lo"),
        r.err());
  }

  @Test
  void missingImageIsNamed() {
    Run r = run("send", dir.resolve("none.cci").toString(), "--interface", "lo");
    assertEquals(ExitCodes.ENVIRONMENT, r.code());
    assertTrue(
        r.err().contains("cannot read " + dir.resolve("none.cci") + ": no such file"), r.err());
  }

  @Test
  void aGroupThatIsNotMulticastIsRefused() throws Exception {
    Path img = Files.write(dir.resolve("x.raw"), new byte[4096]);
    Run r = run("send", img.toString(), "--interface", "lo", "--mcast-addr", "10.1.2.3");
    assertEquals(ExitCodes.USAGE, r.code());
    assertTrue(r.err().contains("not a multicast address"), r.err());
  }

  @Test
  void anMtuAboveTheLinksIsRefused() throws Exception {
    Path img = Files.write(dir.resolve("x.raw"), new byte[4096]);
    Run r = run("send", img.toString(), "--interface", "lo", "--mtu", "70000");
    assertEquals(ExitCodes.USAGE, r.code());
    assertTrue(r.err().contains("exceeds lo's MTU"), r.err());
  }

  @Test
  void zeroReceiversIsAUsageError() throws Exception {
    Path img = Files.write(dir.resolve("x.raw"), new byte[4096]);
    Run r = run("send", img.toString(), "--interface", "lo", "--min-receivers", "0");
    assertEquals(ExitCodes.USAGE, r.code());
    assertTrue(r.err().contains("--min-receivers 0"), r.err());
  }

  @Test
  void aSignKeyThatIsNoKeyPairIsAUsageErrorNamingWhy() throws Exception {
    Path img = Files.write(dir.resolve("x.raw"), new byte[4096]);
    Run missing =
        run(
            "send",
            img.toString(),
            "--interface",
            "lo",
            "--sign-key",
            dir.resolve("nokey").toString());
    assertEquals(ExitCodes.USAGE, missing.code());
    assertTrue(
        missing
            .err()
            .contains("--sign-key " + dir.resolve("nokey") + ": no such file or directory"),
        missing.err());
    Path half = Files.writeString(dir.resolve("image-key"), "not a key\n");
    Run noPub = run("send", img.toString(), "--interface", "lo", "--sign-key", half.toString());
    assertEquals(ExitCodes.USAGE, noPub.code());
    assertTrue(noPub.err().contains("image-key.pub is missing"), noPub.err());
  }
}

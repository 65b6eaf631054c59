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
 * {@code clonecast serve} without a provisioning interface stops before opening any state, with a
 * line that names the file to edit: under systemd that line is what the admin reads in the journal.
 */
class ServeCommandTest {
  @TempDir Path dir;

  private record Run(int code, String err) {}

  private Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, err.toString());
  }

  @Test
  void aConfigFileWithoutInterfaceNamesTheFile() throws Exception {
    Path conf = Files.writeString(dir.resolve("clonecast.conf"), "#interface = eth1\n");
    Path state = dir.resolve("state");
    Run r = run("serve", "--config", conf.toString(), "--state-dir", state.toString());
    assertEquals(ExitCodes.USAGE, r.code());
    assertTrue(
        r.err()
            .contains(
                "no provisioning interface configured: set interface = IF (where the nodes PXE boot) in "
                    + conf
                    + ", or pass --interface IF"),
        r.err());
    assertTrue(!Files.exists(state), "nothing is created before the config is valid");
  }

  @Test
  void withoutConfigFileTheFlagIsNamed() {
    Run r = run("serve", "--state-dir", dir.resolve("state").toString());
    assertEquals(ExitCodes.USAGE, r.code());
    assertTrue(r.err().contains("no provisioning interface; pass --interface IF"), r.err());
  }
}

package org.clonecast.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's training run reaches the daemon's API as the commands an admin runs do (so their
 * HTTP client, JSON and table code is what the archive holds), and stays out of the help.
 */
class CdsTrainingCommandTest {
  @Test
  void theTrainingsCommandsReachTheApiStandIn(@TempDir Path scratch) throws Exception {
    List<String> seen = CdsTrainingCommand.train(scratch);
    for (String request :
        List.of(
            "GET /api/v1/nodes",
            "POST /api/v1/nodes",
            "GET /api/v1/sessions",
            "GET /api/v1/images",
            "GET /api/v1/events",
            "GET /api/v1/daemons")) {
      assertTrue(seen.contains(request), request + " never reached the stand-in: " + seen);
    }
  }

  @Test
  void runsAsAHiddenCommand(@TempDir Path scratch) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc =
        Main.run(
            new PrintWriter(out, true),
            new PrintWriter(err, true),
            "cds-training",
            scratch.toString());
    assertEquals(0, rc, err.toString());
    StringWriter help = new StringWriter();
    Main.run(new PrintWriter(help, true), new PrintWriter(new StringWriter(), true), "--help");
    assertTrue(help.toString().contains("session"), help.toString());
    assertFalse(help.toString().contains("cds-training"), help.toString());
  }
}

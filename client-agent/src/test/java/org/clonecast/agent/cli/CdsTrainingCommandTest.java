package org.clonecast.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.clonecast.common.cli.ExitCodes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CdsTrainingCommandTest {
  @Test
  void goesThroughEveryPathAgainstNoServerAndEndsWell(@TempDir Path scratch) throws IOException {
    // Nothing listens on port 9 of loopback: every call to the server is refused at once, and the
    // training run still ends well (the launchers keep its archive only then).
    assertEquals(ExitCodes.OK, Main.run("cds-training", scratch.toString()));
    // The capture step scanned its scratch disk, written only under the directory given.
    assertTrue(Files.size(scratch.resolve("disk")) > 1 << 20);
  }

  @Test
  void aChunkGoesFromAWelcomeThroughItsRepairToTheTarget(@TempDir Path scratch) throws Exception {
    // Its own call, so that a failure shows (the training run swallows each step's): the chunk is
    // rebuilt from a repair row, decompressed, verified against its manifest and written.
    CdsTrainingCommand.chunkThroughAReceiver(scratch);
    byte[] written = Files.readAllBytes(scratch.resolve("target"));
    assertEquals(1 << 20, written.length);
    assertEquals('c', written[0]);
    assertEquals(0, written[written.length - 1]);
  }
}

package org.clonecast.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.clonecast.agent.mcast.ReceiveSettings;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.junit.jupiter.api.Test;

/**
 * Where {@code auto} takes the sender timeout from: the flag, the kernel command line, the default.
 */
class AutoCommandSenderTimeoutTest {
  @Test
  void theFlagWinsThenTheKernelCommandLineThenTheDefault() {
    Map<String, String> kernel = Map.of("clonecast.sender-timeout", "300");
    assertEquals(Duration.ofSeconds(45), AutoCommand.senderTimeout(45L, kernel));
    assertEquals(Duration.ofSeconds(300), AutoCommand.senderTimeout(null, kernel));
    assertEquals(ReceiveSettings.DEFAULT_SENDER_TIMEOUT, AutoCommand.senderTimeout(null, Map.of()));
  }

  @Test
  void aValueOutOfRangeOrNotANumberIsAUsageErrorNamingIt() {
    for (String bad : new String[] {"0", "-5", "abc", "1.5", "86401", ""}) {
      CliException e =
          assertThrows(
              CliException.class,
              () -> AutoCommand.senderTimeout(null, Map.of("clonecast.sender-timeout", bad)),
              bad);
      assertEquals(ExitCodes.USAGE, e.exitCode());
      assertTrue(
          e.getMessage().contains("clonecast.sender-timeout")
              && e.getMessage().contains("'" + bad + "'"),
          e.getMessage());
    }
    assertThrows(CliException.class, () -> AutoCommand.senderTimeout(0L, Map.of()));
  }
}

package org.clonecast.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.HelpText;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every clonecast-agent command answers --help and --version the same way, with exit status 0. */
class AgentCliConsistencyTest {
  @Test
  void everyCommandHasHelpAndVersion() {
    CommandLine root = ExitCodes.commandLine(new Main());
    for (CommandLine c :
        List.of(
            root,
            root.getSubcommands().get("auto"),
            root.getSubcommands().get("receive"),
            root.getSubcommands().get("identity"))) {
      for (String paragraph : c.getCommandSpec().usageMessage().description()) {
        assertTrue(
            HelpText.endsSentence(paragraph),
            c.getCommandName() + ": help stops mid-sentence: " + paragraph);
      }
      for (String flag : List.of("--help", "--version")) {
        StringWriter out = new StringWriter();
        c.setOut(new PrintWriter(out));
        assertEquals(ExitCodes.OK, c.execute(flag), c.getCommandName() + " " + flag);
        assertTrue(!out.toString().isBlank(), c.getCommandName() + " " + flag + " printed nothing");
        if (flag.equals("--version"))
          assertTrue(out.toString().startsWith("clonecast-agent "), out.toString());
      }
    }
  }
}

package org.clonecast.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.HelpText;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every clonecast command answers --help and --version the same way, with exit status 0. */
class CliConsistencyTest {
  static List<CommandLine> all(CommandLine root) {
    List<CommandLine> out = new ArrayList<>();
    out.add(root);
    for (CommandLine sub : root.getSubcommands().values()) {
      if (sub.getCommandSpec().userObject() instanceof CommandLine.HelpCommand) continue;
      if (!out.contains(sub)) out.addAll(all(sub));
    }
    return out;
  }

  static void check(CommandLine root, String versionPrefix) {
    for (CommandLine c : all(root)) {
      String name = c.getCommandSpec().qualifiedName();
      assertTrue(c.getCommandSpec().mixinStandardHelpOptions(), name + " has --help and --version");
      for (String paragraph : c.getCommandSpec().usageMessage().description()) {
        assertTrue(
            HelpText.endsSentence(paragraph),
            name + ": the help text stops mid-sentence: " + paragraph);
      }
      for (String flag : List.of("--help", "--version")) {
        StringWriter out = new StringWriter();
        c.setOut(new PrintWriter(out));
        assertEquals(ExitCodes.OK, c.execute(flag), name + " " + flag);
        assertTrue(!out.toString().isBlank(), name + " " + flag + " printed nothing");
        if (flag.equals("--version"))
          assertTrue(out.toString().startsWith(versionPrefix), name + ": " + out);
      }
    }
  }

  @Test
  void theCommandListShowsWholeSentences() {
    StringWriter out = new StringWriter();
    CommandLine root = ExitCodes.commandLine(new Main());
    root.setOut(new PrintWriter(out));
    assertEquals(ExitCodes.OK, root.execute("--help"));
    String help = out.toString().replaceAll("\\s+", " ");
    assertTrue(
        help.contains(
            "(as root; the checkout's scripts/demo.sh): QEMU VMs PXE boot through clonecast"),
        help);
  }

  @Test
  void everyCommandHasHelpAndVersion() {
    check(ExitCodes.commandLine(new Main()), "clonecast ");
  }
}

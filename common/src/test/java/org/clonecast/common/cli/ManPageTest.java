package org.clonecast.common.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The man page sections say what --help says, in troff that renders as typed. */
class ManPageTest {
  @Command(
      name = "tool",
      mixinStandardHelpOptions = true,
      description = "Top.",
      subcommands = {Run.class, Secret.class, CommandLine.HelpCommand.class})
  static final class Tool implements Runnable {
    @Override
    public void run() {}
  }

  @Command(
      name = "run",
      mixinStandardHelpOptions = true,
      description = {"Runs FILE.", ".starts with a dot"})
  static final class Run implements Callable<Integer> {
    @Option(
        names = {"-r", "--rate-limit"},
        paramLabel = "MBIT",
        description = "Upper bound (default: ${DEFAULT-VALUE}).")
    int rate = 100;

    @Option(
        names = "--dry-run",
        description = "Only say what would happen; a \\ stays a backslash.")
    boolean dry;

    @Option(
        names = {"-o", "--output"},
        paramLabel = "OUT.cci",
        description = "Where to.")
    String output;

    @Option(
        names = "--a-rather-long-option-name",
        paramLabel = "A-RATHER-LONG-PARAMETER",
        description = "Long.")
    String longOne;

    @Option(names = "--internal", hidden = true, description = "Not for users.")
    boolean internal;

    @Parameters(paramLabel = "FILE", description = "What to run.")
    String file;

    @Override
    public Integer call() {
      return 0;
    }
  }

  @Command(name = "secret", hidden = true, description = "Hidden.")
  static final class Secret implements Runnable {
    @Override
    public void run() {}
  }

  private final String page = ManPage.sections(new CommandLine(new Tool()));

  @Test
  void topLevelOptionsThenOneSubsectionPerVisibleCommand() {
    assertTrue(page.startsWith(".SH OPTIONS\n.TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n"), page);
    assertTrue(
        page.contains(
            ".SH COMMANDS\n.SS \"tool run\"\n.PP\n.ad l\n\\fBtool run\\fR \\%[\\-hV] \\%[\\-\\-dry\\-run] "
                + "\\%[\\-\\-a\\-rather\\-long\\-option\\-name=A\\-RATHER\\-LONG\\-PARAMETER] \\%[\\-o=OUT.cci] \\%[\\-r=MBIT] \\%FILE\n.ad\n"),
        page);
    assertFalse(page.contains("secret"), "hidden command left out: " + page);
    assertFalse(page.contains("\"tool help\""), "picocli's help command left out: " + page);
    assertFalse(page.contains("internal"), "hidden option left out: " + page);
  }

  @Test
  void optionsShowTheirParameterAndRenderedDescription() {
    assertTrue(
        page.contains(
            ".TP\n\\fB\\-r\\fR, \\fB\\-\\-rate\\-limit\\fR=\\fIMBIT\\fR\nUpper bound (default: 100).\n"),
        page);
    assertTrue(page.contains(".TP\n\\fIFILE\\fR\nWhat to run.\n"), page);
  }

  @Test
  void aSynopsisLongerThanATerminalIsOneLineWithWholeTokens() {
    String synopsis =
        page.lines().filter(l -> l.startsWith("\\fBtool run")).findFirst().orElseThrow();
    assertTrue(synopsis.length() > 120, synopsis);
    assertTrue(synopsis.contains(" \\%[\\-o=OUT.cci] "), synopsis);
  }

  @Test
  void subcommandsDoNotRepeatHelpAndVersion() {
    String run = page.substring(page.indexOf(".SS \"tool run\""));
    assertFalse(run.contains("\\-\\-version\\fR"), run);
  }

  @Test
  void troffControlCharactersAreEscaped() {
    assertTrue(page.contains("\n\\&.starts with a dot\n"), page);
    assertTrue(page.contains("a \\e stays a backslash"), page);
    assertEquals("\\&'quoted", ManPage.text("'quoted"));
    assertEquals("\\-\\-x", ManPage.escape("--x", true));
    assertEquals("--x", ManPage.escape("--x", false));
  }
}

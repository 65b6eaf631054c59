package org.clonecast.common.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class CommandGroupTest {
  @Command(
      name = "tool",
      subcommands = {Small.class, Large.class, CommandLine.HelpCommand.class})
  static final class Root extends CommandGroup {}

  @Command(
      name = "small",
      subcommands = {A.class, B.class, C.class, CommandLine.HelpCommand.class})
  static final class Small extends CommandGroup {}

  @Command(
      name = "large",
      subcommands = {A.class, B.class, C.class, D.class, E.class})
  static final class Large extends CommandGroup {}

  @Command(name = "add", aliases = "new")
  static final class A implements Runnable {
    @Override
    public void run() {}
  }

  @Command(name = "list")
  static final class B implements Runnable {
    @Override
    public void run() {}
  }

  @Command(name = "remove")
  static final class C implements Runnable {
    @Override
    public void run() {}
  }

  @Command(name = "show")
  static final class D implements Runnable {
    @Override
    public void run() {}
  }

  @Command(name = "set")
  static final class E implements Runnable {
    @Override
    public void run() {}
  }

  /** The first line on stderr of {@code tool args}, after checking the exit status is USAGE. */
  private static String error(String... args) {
    CommandLine cl = ExitCodes.commandLine(new Root());
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    cl.setOut(new PrintWriter(new StringWriter()));
    assertEquals(ExitCodes.USAGE, cl.execute(args));
    return err.toString().lines().findFirst().orElseThrow();
  }

  @Test
  void aSmallGroupNamesItsSubcommandsWithoutAliasesOrHelp() {
    assertEquals("a subcommand is required: add, list or remove", error("small"));
  }

  @Test
  void theRootAndALargeGroupPointToHelp() {
    assertEquals("a subcommand is required; see 'tool --help'", error());
    assertEquals("a subcommand is required; see 'tool large --help'", error("large"));
  }
}

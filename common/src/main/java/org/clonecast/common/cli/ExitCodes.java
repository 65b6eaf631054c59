package org.clonecast.common.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * Exit codes shared by every {@code clonecast} subcommand, the handler that turns a {@link
 * CliException} into one clear line on stderr instead of a stack trace, and the programs' {@code
 * main}, the one place below a program's {@code cli} package that may call {@link System#exit}.
 */
public final class ExitCodes {
  public static final int OK = 0;

  /** The operation ran and found a problem (verification failed, a receiver failed). */
  public static final int FAILED = 1;

  /** The command line was wrong. */
  public static final int USAGE = 2;

  /** An input or environment problem: missing file, wrong interface, full disk. */
  public static final int ENVIRONMENT = 3;

  private ExitCodes() {}

  /**
   * A command line for {@code command} with our error handling and exit codes installed, and
   * descriptions in whole sentences ({@link HelpText}).
   */
  public static CommandLine commandLine(Object command) {
    CommandLine cl = HelpText.wholeSentences(new CommandLine(command));
    cl.setExecutionExceptionHandler(
        (ex, line, parseResult) -> {
          PrintWriter err = line.getErr();
          if (ex instanceof CliException ce) {
            err.println(line.getCommandName() + ": " + ce.getMessage());
            err.flush();
            return ce.exitCode();
          }
          err.println(line.getCommandName() + ": unexpected error: " + ex);
          ex.printStackTrace(err);
          err.flush();
          return FAILED;
        });
    cl.setExitCodeExceptionMapper(
        t -> t instanceof CommandLine.ParameterException ? USAGE : FAILED);
    return cl;
  }

  /**
   * A program's {@code main}: runs {@code command} (its root) on {@code args} as {@link
   * #commandLine} sets it up and exits the JVM with the exit code.
   */
  public static void runAndExit(Object command, String... args) {
    System.exit(commandLine(command).execute(args));
  }
}

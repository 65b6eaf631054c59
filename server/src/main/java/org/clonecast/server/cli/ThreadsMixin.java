package org.clonecast.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The {@code --threads N} option shared by the image commands; defaults to all cores. Not
 * thread-safe: one instance per command line.
 */
public final class ThreadsMixin {
  @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
  CommandLine.Model.CommandSpec mixee;

  @Option(
      names = "--threads",
      paramLabel = "N",
      description = "Worker threads (default: all cores).")
  Integer threads;

  /** The thread count to use; a count below 1 is a usage error. */
  int resolve() {
    if (threads == null) {
      return Runtime.getRuntime().availableProcessors();
    }
    if (threads < 1) {
      throw new CommandLine.ParameterException(
          mixee.commandLine(), "--threads " + threads + " must be at least 1");
    }
    return threads;
  }
}

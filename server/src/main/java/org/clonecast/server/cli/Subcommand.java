package org.clonecast.server.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A {@code clonecast} subcommand: {@code --help} and {@code --version}, and where its output goes.
 * A subclass adds its own {@code @Command} name and description (picocli merges them with this
 * class's), its options and {@link #call}. Not thread-safe: one instance per command line.
 */
@Command(mixinStandardHelpOptions = true, versionProvider = VersionProvider.class)
abstract class Subcommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  /** The command line's standard output. */
  final PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /** The command line's standard error. */
  final PrintWriter err() {
    return spec.commandLine().getErr();
  }
}

package org.clonecast.server.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A {@code clonecast} command that works through a running daemon's HTTP API ({@code node}, {@code
 * image add|capture|watch|list|remove}, {@code session}, {@code events}): the daemon's address and
 * token ({@link ServerOptions}), {@code --help} and {@code --version}, and where output goes. A
 * subclass adds its own {@code @Command} name and description (picocli merges them with this
 * class's), its options and {@link #call}. Not thread-safe: one instance per command line.
 */
@Command(mixinStandardHelpOptions = true, versionProvider = VersionProvider.class)
abstract class ApiCommand implements Callable<Integer> {
  @Mixin ServerOptions server;
  @Spec CommandSpec spec;

  /** A client of the daemon named by {@code --server}, with the token of {@code --token-file}. */
  final ApiClient api() {
    return server.client();
  }

  /** The command line's standard output. */
  final PrintWriter out() {
    return spec.commandLine().getOut();
  }
}

package org.clonecast.server.cli;

import picocli.CommandLine.Mixin;

/**
 * A {@code clonecast} command that works through a running daemon's HTTP API ({@code node}, {@code
 * image add|capture|watch|list|remove}, {@code session}, {@code events}): the daemon's address and
 * token ({@link ServerOptions}).
 */
abstract class ApiCommand extends Subcommand {
  @Mixin ServerOptions server;

  /** A client of the daemon named by {@code --server}, with the token of {@code --token-file}. */
  final ApiClient api() {
    return server.client();
  }
}

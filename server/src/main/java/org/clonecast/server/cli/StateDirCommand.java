package org.clonecast.server.cli;

import picocli.CommandLine.Mixin;

/**
 * A {@code clonecast} command that works on the daemon's state directory itself ({@code bootenv},
 * {@code key}), with or without a running daemon.
 */
abstract class StateDirCommand extends Subcommand {
  @Mixin BootenvCommand.StateDirOption state;
}

package org.clonecast.agent.cli;

import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code clonecast-agent}; it ends the JVM through {@link ExitCodes#runAndExit}. */
@Command(
    name = "clonecast-agent",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "The clonecast worker agent: receives an image, writes and verifies the disk, reports.",
    subcommands = {
      AutoCommand.class,
      ReceiveCommand.class,
      IdentityCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main extends CommandGroup {

  public static void main(String[] args) {
    ExitCodes.runAndExit(new Main(), args);
  }
}

package org.clonecast.server.cli;

import java.io.PrintWriter;
import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.net.Transport;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the {@code clonecast} command; it ends the JVM through {@link
 * ExitCodes#runAndExit}.
 */
@Command(
    name = "clonecast",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Unattended multicast disk imaging for clusters.",
    subcommands = {
      ServeCommand.class,
      NodeCommand.class,
      ImageCommand.class,
      SessionCommand.class,
      EventsCommand.class,
      DemoCommand.class,
      SendCommand.class,
      BootenvCommand.class,
      KeyCommand.class,
      DaemonCommand.class,
      CdsTrainingCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main extends CommandGroup {

  public static void main(String[] args) {
    Transport.noJfrEventsUnlessAsked();
    ExitCodes.runAndExit(new Main(), args);
  }

  /** Runs the command line with its output and errors going to the given writers (for tests). */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    CommandLine cl = ExitCodes.commandLine(new Main());
    cl.setOut(out);
    cl.setErr(err);
    return cl.execute(args);
  }
}

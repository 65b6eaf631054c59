package org.clonecast.agent.cli;

import org.clonecast.common.cli.ExitCodes;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code clonecast-agent}. Only this package may call {@link System#exit}. */
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
      CdsTrainingCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Idle kept-alive connections {@link java.net.HttpURLConnection} keeps per server. A capture
   * uploads {@code CaptureUploader.IN_FLIGHT} chunks at once, each on a kept-alive connection;
   * above the JDK's default of 5, connections coming back while the oldest answer is awaited were
   * closed and opened again. Read once, when the first such connection is made.
   */
  static final String KEEP_ALIVE = "16";

  /** Runs the command line and returns the exit code, for tests and for {@link #main}. */
  public static int run(String... args) {
    if (System.getProperty("http.maxConnections") == null) {
      System.setProperty("http.maxConnections", KEEP_ALIVE);
    }
    return ExitCodes.commandLine(new Main()).execute(args);
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(
        spec.commandLine(), "a subcommand is required; see 'clonecast-agent --help'");
  }
}

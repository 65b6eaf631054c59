package org.clonecast.agent.cli;

import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.net.Transport;
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
      CdsTrainingCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main extends CommandGroup {

  public static void main(String[] args) {
    defaults();
    ExitCodes.runAndExit(new Main(), args);
  }

  /** JVM-wide settings, made before any command runs: Netty's JFR events off, HTTP keep-alive. */
  private static void defaults() {
    Transport.noJfrEventsUnlessAsked();
    keepAlive();
  }

  /**
   * Idle kept-alive connections {@link java.net.HttpURLConnection} keeps per server. A capture
   * uploads {@code CaptureUploader.IN_FLIGHT} chunks at once, each on a kept-alive connection;
   * above the JDK's default of 5, connections coming back while the oldest answer is awaited were
   * closed and opened again. Read once, when the first such connection is made.
   */
  static final String KEEP_ALIVE = "16";

  private static void keepAlive() {
    if (System.getProperty("http.maxConnections") == null) {
      System.setProperty("http.maxConnections", KEEP_ALIVE);
    }
  }

  /** Runs the command line and returns the exit code, for tests. */
  public static int run(String... args) {
    defaults();
    return ExitCodes.commandLine(new Main()).execute(args);
  }
}

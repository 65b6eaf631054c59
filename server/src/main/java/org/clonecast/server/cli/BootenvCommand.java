package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.server.boot.BootenvInstaller;
import org.clonecast.server.boot.InstallLayout;
import org.clonecast.server.config.ConfigException;
import org.clonecast.server.config.ConfigFile;
import org.clonecast.server.config.ServeConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code clonecast bootenv ...}: the netboot environment that nodes marked for re-imaging boot. */
@Command(
    name = "bootenv",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Build and show the netboot environment (kernel + initramfs with the agent) nodes boot to be re-imaged.",
    subcommands = {BootenvCommand.Build.class, BootenvCommand.Show.class})
public final class BootenvCommand extends CommandGroup {

  @Command(
      name = "build",
      description = {
        "Build the netboot environment from Debian packages (bootenv/build.sh: the distribution kernel",
        "with NIC and storage drivers, busybox, a jlink'd JRE and the agent) and install it atomically as",
        "STATE-DIR/bootenv/current, which 'clonecast serve' hands to nodes marked for re-imaging.",
        "Cached by versions: a rebuild with nothing new takes seconds. Run as root (apt-get download, depmod)."
      })
  static final class Build extends StateDirCommand {

    @Option(
        names = "--script",
        paramLabel = "FILE",
        description = "The build script (default: found beside the installed jar).")
    Path script;

    @Option(
        names = "--agent-jar",
        paramLabel = "FILE",
        description = "The agent jar to put in (default: found beside the installed jar).")
    Path agentJar;

    @Option(
        names = "--cache",
        paramLabel = "DIR",
        description = "Where builds are kept, by versions (default: STATE-DIR/bootenv/cache).")
    Path cache;

    @Option(
        names = "--jdk",
        paramLabel = "DIR",
        description =
            "JDK whose jlink builds the JRE (default: the one jlink on the PATH belongs to).")
    Path jdk;

    @Override
    public Integer call() throws IOException, InterruptedException {
      Path stateDir = state.resolve();
      InstallLayout layout = InstallLayout.ofRunningJar();
      Path s =
          script != null
              ? script
              : found("the build script", layout.bootenvScript(), layout, "--script");
      Path a =
          agentJar != null
              ? agentJar
              : found("the agent jar", layout.agentJar(), layout, "--agent-jar");
      BootenvInstaller installer = new BootenvInstaller(s, a, Optional.ofNullable(jdk));
      try {
        PrintWriter err = err();
        Path built =
            installer.buildAndInstall(
                stateDir,
                Optional.ofNullable(cache),
                line -> {
                  err.println(line);
                  err.flush();
                });
        PrintWriter out = out();
        out.println(
            "clonecast bootenv: installed "
                + BootenvInstaller.currentDir(stateDir)
                + " -> "
                + built);
        out.print(Files.readString(built.resolve("manifest")));
        out.flush(); // print does not flush, and main exits straight after
        return ExitCodes.OK;
      } catch (BootenvInstaller.BootenvException e) {
        throw new CliException(ExitCodes.FAILED, e.getMessage());
      }
    }
  }

  @Command(
      name = "show",
      description =
          "Print the installed netboot environment's manifest (versions, sizes, drivers); exit 1 when there is none.")
  static final class Show extends StateDirCommand {

    @Override
    public Integer call() throws IOException {
      Path stateDir = state.resolve();
      Path current = BootenvInstaller.currentDir(stateDir);
      if (!BootenvInstaller.ready(current)) {
        throw new CliException(
            ExitCodes.FAILED,
            "no netboot environment in "
                + current
                + "; nodes marked for re-imaging boot their local disk until 'clonecast bootenv build --state-dir "
                + stateDir
                + "' installs one");
      }
      PrintWriter out = out();
      out.println("clonecast bootenv: " + current + " -> " + current.toRealPath());
      Path manifest = current.resolve("manifest");
      out.print(
          Files.isRegularFile(manifest)
              ? Files.readString(manifest)
              : "(installed by hand: no manifest)\n");
      out.flush();
      return ExitCodes.OK;
    }
  }

  /**
   * Where the daemon keeps its state: --state-dir, else the config file's state-dir, else the
   * default.
   */
  static final class StateDirOption {
    @Option(
        names = "--state-dir",
        paramLabel = "DIR",
        description =
            "The daemon's state directory (default: state-dir of --config, else /var/lib/clonecast).")
    Path stateDir;

    @Option(
        names = "--config",
        paramLabel = "FILE",
        description =
            "The daemon's config file, for its state-dir (e.g. /etc/clonecast/clonecast.conf).")
    Path configFile;

    Path resolve() {
      if (stateDir != null) return stateDir;
      try {
        ConfigFile file = configFile == null ? ConfigFile.empty() : ConfigFile.load(configFile);
        return file.path("state-dir").orElse(ServeConfig.DEFAULT_STATE_DIR);
      } catch (ConfigException e) {
        throw new CliException(ExitCodes.USAGE, e.getMessage());
      }
    }
  }

  private static Path found(String what, Optional<Path> file, InstallLayout layout, String flag) {
    return file.orElseThrow(
        () ->
            new CliException(
                ExitCodes.USAGE,
                what + " is not installed (looked in " + layout.places() + "); pass " + flag));
  }
}

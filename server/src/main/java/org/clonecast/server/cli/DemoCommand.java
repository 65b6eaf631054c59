package org.clonecast.server.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.server.boot.InstallLayout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code clonecast demo}: runs the checkout's scripts/demo.sh (a whole session in a private lab).
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Run a real re-imaging session in a private network lab on this machine (as root; the checkout's",
      "scripts/demo.sh): QEMU VMs PXE boot through clonecast and are re-imaged, or agents in namespaces without QEMU.",
      "Ends with 'demo: N/N nodes re-imaged and verified in S s'."
    })
public final class DemoCommand implements Callable<Integer> {
  @Option(
      names = "--nodes",
      paramLabel = "N",
      description = "Workers (default: 2 VMs, or 4 agents).")
  Integer nodes;

  @Option(names = "--agents", description = "Agents in network namespaces instead of QEMU VMs.")
  boolean agents;

  @Option(
      names = "--loss",
      paramLabel = "PCT",
      description = "With --agents: drop PCT %% of what each worker receives.")
  String loss;

  @Override
  public Integer call() throws Exception {
    Optional<Path> found = InstallLayout.ofRunningJar().demoScript();
    if (found.isEmpty()) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "the demo runs from a clonecast checkout (scripts/demo.sh), not from"
              + " the installed package; clone the repository and run scripts/demo.sh as root");
    }
    List<String> cmd = new ArrayList<>(List.of("bash", found.get().toString()));
    if (nodes != null) cmd.addAll(List.of("--nodes", nodes.toString()));
    if (agents) cmd.add("--agents");
    if (loss != null) cmd.addAll(List.of("--loss", loss));
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    return p.waitFor();
  }
}

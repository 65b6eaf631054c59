package org.clonecast.agent.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.clonecast.agent.disk.GptBackup;
import org.clonecast.agent.disk.IdentityFixer;
import org.clonecast.agent.disk.SystemMount;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code clonecast-agent identity}: gives a written disk its own identity (what the agent does by
 * itself after a session), for a disk copied some other way. See {@link IdentityFixer}.
 */
@Command(
    name = "identity",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Give a cloned disk its own identity: hostname and /etc/hosts, an empty machine-id, a fresh SSH host",
      "key (its public line is printed), no persistent-net rules, no golden entropy seed or journal; the backup",
      "GPT moved to the end of a larger disk. Finds the ext2/3/4 root filesystem from the",
      "partition table and mounts it (as root). TARGET is a block device or a disk image file."
    })
public final class IdentityCommand implements Callable<Integer> {
  @Option(
      names = "--target",
      required = true,
      paramLabel = "DISK",
      description = "The written disk (device or image file).")
  Path target;

  @Option(
      names = "--hostname",
      required = true,
      paramLabel = "NAME",
      description = "The node's name (a DNS label).")
  String hostname;

  @Option(
      names = "--domain",
      paramLabel = "ZONE",
      description = "Domain for the fully qualified name in /etc/hosts.")
  String domain;

  @Override
  public Integer call() throws Exception {
    if (!Files.exists(target)) {
      throw new CliException(
          ExitCodes.USAGE,
          "--target " + target + " does not exist; give the written disk (e.g. /dev/sda)");
    }
    IdentityFixer.NodeIdentity id;
    try {
      id = new IdentityFixer.NodeIdentity(hostname, Optional.ofNullable(domain), Map.of());
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    IdentityFixer.Report report;
    try {
      GptBackup.moveToEnd(target).ifPresent(s -> System.err.println("  " + s));
    } catch (IllegalArgumentException e) {
      System.err.println(
          "clonecast-agent: warning: the backup GPT was left where it is: " + e.getMessage());
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.FAILED,
          "cannot move the backup GPT of " + target + " to its end: " + e.getMessage());
    }
    try (SystemMount m = SystemMount.open(target, Path.of(System.getProperty("java.io.tmpdir")))) {
      report = IdentityFixer.apply(m.root(), id);
      System.err.println("clonecast-agent: root filesystem " + m.device());
    } catch (IOException | IllegalStateException e) {
      throw new CliException(
          ExitCodes.FAILED, "cannot fix the identity of " + target + ": " + e.getMessage());
    }
    for (String c : report.changes()) System.err.println("  " + c);
    report.sshHostKey().ifPresent(System.out::println);
    return ExitCodes.OK;
  }
}

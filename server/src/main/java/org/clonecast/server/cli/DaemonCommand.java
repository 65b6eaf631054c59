package org.clonecast.server.cli;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code clonecast daemon ...}: the daemons that share the store (docs/scale.md). */
@Command(
    name = "daemon",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "The daemons that share this daemon's store: one, unless on PostgreSQL.",
    subcommands = {DaemonCommand.ListDaemons.class})
public final class DaemonCommand extends CommandGroup {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

  @Command(
      name = "list",
      description =
          "List the daemons: URL, segment, state (running, stopped, or dead: no heartbeat for 10 s) and when each was last heard. '*' marks the one answering.")
  static final class ListDaemons extends ApiCommand {

    @Mixin ListingOption listing;

    @Override
    public Integer call() {
      listing.print(
          out(),
          api().get("/api/v1/daemons"),
          new String[] {"ID", "URL", "SEGMENT", "STATE", "HEARD"},
          d ->
              new String[] {
                d.path("id").asText() + (d.path("self").asBoolean() ? " *" : ""),
                d.path("url").asText(),
                d.path("segment").asText(),
                d.path("state").asText(),
                TIME.format(Instant.ofEpochMilli(d.path("heartbeat").asLong()))
              });
      return ExitCodes.OK;
    }
  }
}

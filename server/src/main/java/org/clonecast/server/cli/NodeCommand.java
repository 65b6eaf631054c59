package org.clonecast.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Map;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code clonecast node ...}: the inventory, through the daemon's API. */
@Command(
    name = "node",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Enroll nodes and set what their next PXE boot does.",
    subcommands = {
      NodeCommand.Add.class,
      NodeCommand.ListNodes.class,
      NodeCommand.Set.class,
      NodeCommand.Remove.class
    })
public final class NodeCommand extends CommandGroup {

  @Command(
      name = "add",
      description =
          "Enroll a node. It boots its local disk until marked with 'node set MAC --action reimage'.")
  static final class Add extends ApiCommand {

    @Parameters(
        paramLabel = "MAC",
        description = "MAC address of the node's boot interface, e.g. 52:54:00:12:34:56.")
    String mac;

    @Option(
        names = "--name",
        required = true,
        paramLabel = "NAME",
        description = "Host name (1-63 of a-z, 0-9, '-').")
    String name;

    @Option(
        names = "--group",
        paramLabel = "GROUP",
        description = "Group, for sessions over several nodes.")
    String group;

    @Option(
        names = "--ip",
        paramLabel = "IP",
        description = "Reserve this DHCP address for the node (in full mode; on a served subnet).")
    String ip;

    @Override
    public Integer call() {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("mac", mac);
      body.put("name", name);
      if (group != null) body.put("group", group);
      if (ip != null) body.put("ip", ip);
      JsonNode n = api().post("/api/v1/nodes", body);
      out()
          .println(
              "enrolled "
                  + n.path("mac").asText()
                  + " as "
                  + n.path("name").asText()
                  + (n.path("group").isNull() ? "" : " in group " + n.path("group").asText())
                  + (n.path("reservedIp").isNull()
                      ? ""
                      : " with reserved address " + n.path("reservedIp").asText())
                  + "; next boot: "
                  + n.path("action").asText());
      return ExitCodes.OK;
    }
  }

  @Command(name = "list", description = "List enrolled and discovered nodes.")
  static final class ListNodes extends ApiCommand {

    @Mixin ListingOption listing;

    @Override
    public Integer call() {
      listing.print(
          out(),
          api().get("/api/v1/nodes"),
          new String[] {"MAC", "NAME", "GROUP", "ACTION", "STATE", "IP", "RESERVED", "DETAIL"},
          n ->
              new String[] {
                n.path("mac").asText(),
                text(n, "name"),
                text(n, "group"),
                text(n, "action"),
                text(n, "state"),
                text(n, "ip"),
                text(n, "reservedIp"),
                text(n, "detail")
              });
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "set",
      description =
          "Change a node's name, group, boot action (reimage: netboot and re-image; local: boot the disk) or reserved DHCP address.")
  static final class Set extends ApiCommand {

    @Parameters(paramLabel = "MAC")
    String mac;

    @Option(names = "--name", paramLabel = "NAME")
    String name;

    @Option(names = "--group", paramLabel = "GROUP", description = "New group; '' removes it.")
    String group;

    @Option(names = "--action", paramLabel = "reimage|local")
    String action;

    @Option(
        names = "--ip",
        paramLabel = "IP|none",
        description = "Reserve this DHCP address; 'none' drops the reservation.")
    String ip;

    @Option(
        names = "--target-disk",
        paramLabel = "DEVICE|auto",
        description =
            "The disk the agent writes (e.g. /dev/nvme0n1); 'auto': the first non-removable disk large enough.")
    String targetDisk;

    @Override
    public Integer call() {
      Map<String, Object> body = new LinkedHashMap<>();
      if (name != null) body.put("name", name);
      if (group != null) body.put("group", group.isEmpty() ? null : group);
      if (action != null) body.put("action", action);
      if (ip != null) body.put("ip", ip.equals("none") ? null : ip);
      if (targetDisk != null) body.put("targetDisk", targetDisk.equals("auto") ? null : targetDisk);
      if (body.isEmpty()) {
        throw new CliException(
            ExitCodes.USAGE,
            "nothing to change; give --name, --group, --action, --ip or --target-disk");
      }
      JsonNode n = api().patch("/api/v1/nodes/" + mac, body);
      out()
          .println(
              n.path("mac").asText()
                  + ": name "
                  + text(n, "name")
                  + ", group "
                  + text(n, "group")
                  + ", reserved address "
                  + text(n, "reservedIp")
                  + ", target disk "
                  + text(n, "targetDisk")
                  + ", next boot: "
                  + text(n, "action"));
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "remove",
      description =
          "Forget a node (it is rediscovered, booting its local disk, if it PXE boots again).")
  static final class Remove extends ApiCommand {

    @Parameters(paramLabel = "MAC")
    String mac;

    @Override
    public Integer call() {
      api().delete("/api/v1/nodes/" + mac);
      out().println("removed " + mac);
      return ExitCodes.OK;
    }
  }

  static String text(JsonNode n, String field) {
    JsonNode v = n.path(field);
    return v.isNull() || v.isMissingNode() || v.asText().isEmpty() ? "-" : v.asText();
  }
}

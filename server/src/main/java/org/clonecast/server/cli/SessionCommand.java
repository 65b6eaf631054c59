package org.clonecast.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code clonecast session ...}: re-imaging sessions, through the daemon's API. */
@Command(
    name = "session",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Start, follow and cancel re-imaging sessions.",
    subcommands = {
      SessionCommand.Start.class,
      SessionCommand.ListSessions.class,
      SessionCommand.Watch.class,
      SessionCommand.Cancel.class
    })
public final class SessionCommand extends CommandGroup {

  @Command(
      name = "start",
      description = {
        "Mark the nodes for re-imaging with an image from the store; their next PXE boot netboots,",
        "receives it by multicast, writes and verifies the disk, fixes its identity and boots the new system.",
        "Multicast starts when --min-receivers joined (default: all), or --max-wait s after the first."
      })
  static final class Start extends ApiCommand {

    @Option(
        names = "--image",
        required = true,
        paramLabel = "NAME",
        description = "Image in the store ('clonecast image list').")
    String image;

    @Option(
        names = "--nodes",
        required = true,
        paramLabel = "GROUP|all",
        description = "The enrolled nodes of a group, or all.")
    String nodes;

    @Option(
        names = "--min-receivers",
        paramLabel = "N",
        description = "Start multicasting once N nodes joined (default: every node).")
    Integer minReceivers;

    @Option(
        names = "--max-wait",
        paramLabel = "SECONDS",
        defaultValue = "300",
        description =
            "Start this long after the first node joined even with fewer (default: ${DEFAULT-VALUE}).")
    long maxWait;

    @Option(
        names = "--grow",
        description =
            "Onto a disk larger than the image, grow the last partition and its filesystem (ext2/3/4, xfs,"
                + " btrfs) to fill it.")
    boolean grow;

    @Option(
        names = "--watch",
        description = "Follow the session until it ends (as 'session watch').")
    boolean watch;

    @Override
    public Integer call() throws InterruptedException {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("image", image);
      body.put("nodes", nodes);
      if (minReceivers != null) body.put("minReceivers", minReceivers);
      body.put("maxWait", maxWait);
      if (grow) body.put("grow", true);
      JsonNode s = api().post("/api/v1/sessions", body);
      PrintWriter out = out();
      out.printf(
          "session %d: %s to %d node(s) in '%s'; power them on (or reboot them) to PXE boot%n",
          s.path("id").asLong(), image, s.path("members").size(), nodes);
      out.flush();
      return watch ? Watch.follow(api(), s.path("id").asLong(), System.err, out) : ExitCodes.OK;
    }
  }

  @Command(name = "list", description = "List the newest sessions.")
  static final class ListSessions extends ApiCommand {

    @Mixin ListingOption listing;

    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "20",
        description = "How many (default: ${DEFAULT-VALUE}).")
    int limit;

    @Override
    public Integer call() {
      listing.print(
          out(),
          api().get("/api/v1/sessions?limit=" + limit),
          new String[] {"ID", "IMAGE", "NODES", "STATE", "DONE", "FAILED", "DAEMONS", "DETAIL"},
          s -> {
            int done = 0;
            int failed = 0;
            java.util.Set<String> daemons = new java.util.TreeSet<>();
            for (JsonNode m : s.path("members")) {
              if (m.path("state").asText().equals("done")) done++;
              if (m.path("state").asText().equals("failed")) failed++;
              if (!Watch.daemon(m).isEmpty()) daemons.add(Watch.daemon(m));
            }
            return new String[] {
              s.path("id").asText(),
              s.path("image").asText(),
              s.path("nodes").asText(),
              s.path("state").asText(),
              done + "/" + s.path("members").size(),
              Integer.toString(failed),
              daemons.isEmpty() ? "-" : String.join(",", daemons),
              NodeCommand.text(s, "detail")
            };
          });
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "watch",
      description = {
        "Follow a session (default: the newest) with a progress bar per node until it ends.",
        "Exit status 0 when every node was re-imaged, 1 when any failed or the session was cancelled."
      })
  static final class Watch extends ApiCommand {
    @Parameters(
        paramLabel = "ID",
        arity = "0..1",
        description = "Session id (default: the newest).")
    Long id;

    @Override
    public Integer call() throws InterruptedException {
      long sid;
      if (id != null) {
        sid = id;
      } else {
        JsonNode list = api().get("/api/v1/sessions?limit=1");
        if (list.isEmpty())
          throw new CliException(
              ExitCodes.USAGE, "no session yet; start one with 'clonecast session start'");
        sid = list.get(0).path("id").asLong();
      }
      return follow(api(), sid, System.err, out());
    }

    /**
     * Draws the session each time the daemon pushes a change ({@code /api/v1/sessions/ID/stream});
     * returns the exit status once it ends.
     */
    static int follow(ApiClient api, long id, PrintStream err, PrintWriter out)
        throws InterruptedException {
      boolean tty = System.console() != null;
      int[] drawn = {0};
      Map<String, String> lastState = new HashMap<>();
      JsonNode[] last = {null};
      api.stream(
          "/api/v1/sessions/" + id + "/stream",
          s -> {
            last[0] = s;
            drawn[0] = draw(s, tty, drawn[0], lastState, err, out);
            String state = s.path("state").asText();
            return state.equals("waiting") || state.equals("running");
          });
      // The stream ends with the session; if it broke off first (a daemon restart), say how it
      // stands.
      JsonNode s =
          last[0] != null
                  && !last[0].path("state").asText().equals("waiting")
                  && !last[0].path("state").asText().equals("running")
              ? last[0]
              : api.get("/api/v1/sessions/" + id);
      out.printf(
          "session %d %s: %s%n", id, s.path("state").asText(), NodeCommand.text(s, "detail"));
      // Which path each node's chunks took (docs/unicast.md).
      for (JsonNode m : s.path("members")) {
        String path = path(m);
        String daemon = daemon(m).isEmpty() ? "" : "daemon " + daemon(m);
        String how = path.isEmpty() ? daemon : daemon.isEmpty() ? path : path + ", " + daemon;
        if (!how.isEmpty()) out.printf("  %s: %s%n", m.path("name").asText(), how);
      }
      out.flush();
      return s.path("state").asText().equals("done") ? ExitCodes.OK : ExitCodes.FAILED;
    }

    /**
     * Draws one state of the session: bars redrawn in place on a terminal, state changes as lines
     * otherwise.
     */
    private static int draw(
        JsonNode s,
        boolean tty,
        int drawn,
        Map<String, String> lastState,
        PrintStream err,
        PrintWriter out) {
      if (tty) {
        StringBuilder sb = new StringBuilder();
        if (drawn > 0) sb.append("\033[").append(drawn).append('A');
        List<String> lines = lines(s);
        for (String l : lines) sb.append("\r\033[K").append(l).append('\n');
        err.print(sb);
        err.flush();
        return lines.size();
      }
      for (JsonNode m : s.path("members")) {
        String state = m.path("state").asText();
        String path = path(m);
        String seen = state + (path.contains("unicast") ? " " + path : "");
        if (!seen.equals(lastState.put(m.path("name").asText(), seen))) {
          out.printf(
              "%s: %s%s%s%n",
              m.path("name").asText(),
              state,
              path.contains("unicast") ? ", " + path : "",
              m.path("detail").isNull() ? "" : " (" + m.path("detail").asText() + ")");
          out.flush();
        }
      }
      return 0;
    }

    static List<String> lines(JsonNode s) {
      List<String> out = new ArrayList<>();
      out.add(
          String.format(
              Locale.ROOT,
              "session %d  %s  image %s",
              s.path("id").asLong(),
              s.path("state").asText(),
              s.path("image").asText()));
      int width = 8;
      for (JsonNode m : s.path("members"))
        width = Math.max(width, m.path("name").asText().length());
      for (JsonNode m : s.path("members")) {
        long done = m.path("bytesDone").asLong();
        long total = m.path("bytesTotal").asLong();
        double f =
            total > 0
                ? Math.min(1.0, (double) done / total)
                : m.path("state").asText().equals("done") ? 1.0 : 0.0;
        int filled = (int) Math.round(f * 30);
        out.add(
            String.format(
                Locale.ROOT,
                "  %-" + width + "s [%s%s] %3d%%  %9s / %-9s  %s%s%s%s",
                m.path("name").asText(),
                "#".repeat(filled),
                ".".repeat(30 - filled),
                (int) (f * 100),
                ProgressBar.bytes(done),
                ProgressBar.bytes(total),
                m.path("state").asText(),
                path(m).contains("unicast") ? ", " + path(m) : "",
                daemon(m).isEmpty() ? "" : " @" + daemon(m),
                m.path("detail").isNull() ? "" : " (" + m.path("detail").asText() + ")"));
      }
      return out;
    }

    /**
     * The daemon serving a member (docs/scale.md), by the first 8 characters of its id; empty
     * before any.
     */
    static String daemon(JsonNode m) {
      JsonNode d = m.path("daemon");
      if (d.isMissingNode() || d.isNull()) return "";
      String id = d.asText();
      return id.length() > 8 ? id.substring(0, 8) : id;
    }

    /**
     * "by multicast", "by unicast", "by multicast and unicast (N unicast)": the path a member's
     * chunks took; empty before it wrote any.
     */
    static String path(JsonNode m) {
      String p = m.path("path").asText("");
      if (p.isEmpty() || m.path("path").isNull()) return "";
      if (p.equals("both"))
        return "by multicast and unicast ("
            + ProgressBar.bytes(m.path("unicastBytes").asLong())
            + " unicast)";
      return "by " + p;
    }
  }

  @Command(
      name = "cancel",
      description =
          "Cancel a session: its multicast stops and its unfinished nodes fail and boot locally.")
  static final class Cancel extends ApiCommand {

    @Parameters(paramLabel = "ID")
    long id;

    @Override
    public Integer call() {
      JsonNode s = api().post("/api/v1/sessions/" + id + "/cancel", Map.of());
      out().println("session " + id + " " + s.path("state").asText());
      return ExitCodes.OK;
    }
  }
}

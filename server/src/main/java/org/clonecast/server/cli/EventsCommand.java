package org.clonecast.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.server.http.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code clonecast events}: the daemon's event log (boot steps, leases, sessions, agents). */
@Command(
    name = "events",
    description = {
      "Print the daemon's recent events, oldest first: DHCP and boot steps, enrollment, images, sessions, agents.",
      "With --follow, keep printing new ones until interrupted."
    })
public final class EventsCommand extends ApiCommand {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

  @Option(
      names = "--limit",
      paramLabel = "N",
      defaultValue = "50",
      description = "How many of the newest (default: ${DEFAULT-VALUE}, at most 1000).")
  int limit;

  @Option(
      names = {"-f", "--follow"},
      description = "Keep printing new events as the daemon records them (pushed, not polled).")
  boolean follow;

  @Option(
      names = "--json",
      description =
          "Print JSON (the API's shape): the recent ones as one array, then one array per new event.")
  boolean json;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = out();
    JsonNode events = api().get("/api/v1/events?limit=" + limit);
    long[] last = {print(out, events, 0)};
    while (follow) {
      // Pushed by the daemon's event log; if the stream ends (a daemon restart), take it up again
      // after the last event printed.
      api().stream(
          "/api/v1/events/stream?after=" + last[0],
          e -> {
            last[0] = print(out, Json.MAPPER.createArrayNode().add(e), last[0]);
            return true;
          });
      Thread.sleep(1000);
    }
    return ExitCodes.OK;
  }

  private long print(PrintWriter out, JsonNode events, long last) {
    if (json) {
      if (!events.isEmpty() || !follow) Table.json(out, events);
    } else {
      for (JsonNode e : events) {
        out.printf(
            "%s  %-7s %s%s%s%n",
            TIME.format(Instant.ofEpochMilli(e.path("time").asLong())),
            e.path("kind").asText(),
            e.path("mac").isNull() ? "" : e.path("mac").asText() + " ",
            e.path("session").isNull() ? "" : "session " + e.path("session").asText() + ": ",
            e.path("message").asText());
      }
    }
    out.flush();
    for (JsonNode e : events) last = Math.max(last, e.path("id").asLong());
    return last;
  }
}

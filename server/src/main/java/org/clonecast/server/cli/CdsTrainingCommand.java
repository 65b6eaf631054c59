package org.clonecast.server.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import org.clonecast.common.cli.ExitCodes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The training run of the {@code clonecast} launcher's class-data sharing archive ({@code
 * -XX:ArchiveClassesAtExit}, made once per jar beside it, as for the agent): the commands an admin
 * runs against the daemon (node, session, image and event listings, an enrollment) go through
 * picocli, the HTTP client and Jackson to a small server on loopback that answers as the daemon's
 * API would, so that their classes are mapped from the archive at every start instead of being
 * loaded and verified from the jar. A command that asks the daemon something took 2.2 CPU seconds
 * on a busy two-core machine, and 0.9 with the archive and C1 alone (docs/benchmarks.md, "The CLI's
 * start").
 *
 * <p>Listens only on an ephemeral port of loopback, for the run's length; writes only under the
 * scratch directory it is given. Not for operators: hidden from the help.
 */
@Command(
    name = "cds-training",
    hidden = true,
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "The class-data sharing archive's training run (the launcher only).")
final class CdsTrainingCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "A scratch directory, emptied by the caller afterwards.")
  Path scratch;

  @Override
  public Integer call() throws IOException {
    train(scratch);
    return ExitCodes.OK;
  }

  /**
   * Runs the training's commands against a loopback stand-in for the daemon's API.
   *
   * @return the request lines the stand-in answered, in order (what {@code CdsTrainingCommandTest}
   *     checks reached it)
   */
  static List<String> train(Path scratch) throws IOException {
    Path token = scratch.resolve("api-token");
    Files.writeString(token, "cds-training\n");
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    HttpServer api =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
    api.createContext("/", exchange -> answer(exchange, seen));
    api.start();
    try {
      String url = "http://127.0.0.1:" + api.getAddress().getPort();
      List<List<String>> commands =
          List.of(
              List.of("node", "list"),
              List.of("node", "list", "--json"),
              List.of("node", "add", "52:54:00:00:00:01", "--name", "node01", "--group", "rack1"),
              List.of("session", "list"),
              List.of("image", "list"),
              List.of("events", "--limit", "2"),
              List.of("daemon", "list"));
      for (List<String> command : commands) {
        List<String> args = new ArrayList<>(command);
        args.addAll(List.of("--server", url, "--token-file", token.toString()));
        // Output and errors are the training's own; what matters is the code they ran.
        Main.run(
            new PrintWriter(new StringWriter()),
            new PrintWriter(new StringWriter()),
            args.toArray(String[]::new));
      }
    } finally {
      api.stop(0);
    }
    return List.copyOf(seen);
  }

  /** As the daemon's API answers: a list, an object, or a JSON error. */
  private static void answer(HttpExchange exchange, List<String> seen) throws IOException {
    String path = exchange.getRequestURI().getPath();
    String method = exchange.getRequestMethod();
    seen.add(method + " " + path);
    exchange.getRequestBody().readAllBytes();
    String node =
        "{\"mac\":\"52:54:00:00:00:01\",\"name\":\"node01\",\"group\":\"rack1\","
            + "\"action\":\"local\",\"state\":\"enrolled\",\"detail\":null,\"arch\":null,"
            + "\"ip\":\"10.77.0.100\",\"firstSeen\":1796681794085,\"lastSeen\":1796681794085,"
            + "\"reservedIp\":null,\"targetDisk\":null,\"sshHostKey\":null}";
    int status = 200;
    String body =
        switch (path) {
          case "/api/v1/nodes" -> method.equals("POST") ? node : "[" + node + "]";
          case "/api/v1/events" ->
              "[{\"id\":1,\"time\":1796681794101,\"kind\":\"node\",\"mac\":\"52:54:00:00:00:01\","
                  + "\"session\":null,\"message\":\"enrolled: name node01, group rack1\"}]";
          case "/api/v1/daemons" ->
              "[{\"id\":\"1f70a567-8b74-405f-bc7a-36420d2110e3\",\"url\":\"http://127.0.0.1:8080\","
                  + "\"address\":\"127.0.0.1\",\"segment\":\"127.0.0.0/8\",\"state\":\"running\","
                  + "\"self\":true,\"started\":1796681619328,\"heartbeat\":1796681619328,"
                  + "\"stopped\":null}]";
          case "/api/v1/sessions", "/api/v1/images" -> "[]";
          default -> {
            status = 404;
            yield "{\"error\":\"no such resource: " + path + "\"}";
          }
        };
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}

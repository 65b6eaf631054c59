package org.clonecast.server.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How CLI commands reach a running daemon: its URL and its API token. */
public final class ServerOptions {
  @Option(
      names = "--server",
      paramLabel = "URL",
      defaultValue = "${env:CLONECAST_SERVER:-http://127.0.0.1:8080}",
      description = "The daemon's HTTP API (env CLONECAST_SERVER; default: ${DEFAULT-VALUE}).")
  String server;

  @Option(
      names = "--token-file",
      paramLabel = "FILE",
      defaultValue = "${env:CLONECAST_TOKEN_FILE:-/var/lib/clonecast/api-token}",
      description =
          "The daemon's API token, needed for changes (env CLONECAST_TOKEN_FILE; default: ${DEFAULT-VALUE}).")
  Path tokenFile;

  ApiClient client() {
    return new ApiClient(server, tokenFile);
  }
}

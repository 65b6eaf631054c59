package org.clonecast.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.server.http.Json;

/**
 * The CLI's client of the daemon's JSON API. Errors become {@link CliException}s that say what to
 * do: start the daemon, pass --server, run as root for the token, or the API's own message.
 */
final class ApiClient {
  private final String base;
  private final Path tokenFile;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  ApiClient(String base, Path tokenFile) {
    this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    this.tokenFile = tokenFile;
  }

  JsonNode get(String path) {
    return send(HttpRequest.newBuilder(uri(path)).GET(), false);
  }

  JsonNode post(String path, Object body) {
    return send(
        HttpRequest.newBuilder(uri(path))
            .POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body))),
        true);
  }

  JsonNode patch(String path, Object body) {
    return send(
        HttpRequest.newBuilder(uri(path))
            .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body))),
        true);
  }

  JsonNode delete(String path) {
    return send(HttpRequest.newBuilder(uri(path)).DELETE(), true);
  }

  /**
   * Follows a server-sent event stream (the daemon pushes; nothing is polled): calls {@code onData}
   * with each event's JSON until it returns false or the daemon ends the stream.
   *
   * @return whether {@code onData} asked to stop (false: the stream ended first)
   */
  boolean stream(String path, Predicate<JsonNode> onData) {
    HttpRequest req =
        HttpRequest.newBuilder(uri(path)).GET().header("Accept", "text/event-stream").build();
    HttpResponse<Stream<String>> res = exchange(req, HttpResponse.BodyHandlers.ofLines());
    try (Stream<String> lines = res.body()) {
      if (res.statusCode() >= 400) {
        String text = String.join("\n", lines.toList());
        String msg;
        try {
          msg = Json.MAPPER.readTree(text).path("error").asText("HTTP " + res.statusCode());
        } catch (IOException e) {
          msg = "HTTP " + res.statusCode();
        }
        throw new CliException(ExitCodes.FAILED, msg);
      }
      StringBuilder data = new StringBuilder();
      var it = lines.iterator();
      while (it.hasNext()) {
        String line = it.next();
        if (line.startsWith("data:")) {
          data.append(line.substring(line.startsWith("data: ") ? 6 : 5));
        } else if (line.isEmpty() && data.length() > 0) {
          JsonNode node;
          try {
            node = Json.MAPPER.readTree(data.toString());
          } catch (IOException e) {
            throw new CliException(
                ExitCodes.ENVIRONMENT,
                base + " sent an event that is not JSON; is --server a clonecast daemon?");
          }
          data.setLength(0);
          if (!onData.test(node)) return true;
        }
      }
      return false;
    } catch (UncheckedIOException e) {
      return false; // the connection closed under us: the stream ended
    }
  }

  private <T> HttpResponse<T> exchange(HttpRequest req, HttpResponse.BodyHandler<T> handler) {
    try {
      return http.send(req, handler);
    } catch (ConnectException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "no clonecast daemon answers at "
              + base
              + "; start it (systemctl start clonecast, or clonecast serve) or pass --server URL");
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT, "talking to " + base + " failed: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CliException(ExitCodes.FAILED, "interrupted");
    }
  }

  private URI uri(String path) {
    try {
      return URI.create(base + path);
    } catch (IllegalArgumentException e) {
      throw new CliException(
          ExitCodes.USAGE, "--server " + base + " is not a URL; e.g. http://127.0.0.1:8080");
    }
  }

  private JsonNode send(HttpRequest.Builder b, boolean needsToken) {
    b.timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json");
    if (needsToken) {
      b.header("Authorization", "Bearer " + token());
    }
    HttpResponse<byte[]> res = exchange(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    JsonNode body;
    try {
      body = res.body().length == 0 ? Json.MAPPER.nullNode() : Json.MAPPER.readTree(res.body());
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          base
              + " answered "
              + res.statusCode()
              + " with something that is not JSON; is --server pointing at a clonecast daemon?");
    }
    if (res.statusCode() >= 400) {
      String msg = body.path("error").asText("HTTP " + res.statusCode());
      int code =
          res.statusCode() == 401 || res.statusCode() == 403 || res.statusCode() >= 500
              ? ExitCodes.ENVIRONMENT
              : ExitCodes.FAILED;
      throw new CliException(code, msg);
    }
    return body;
  }

  private String token() {
    try {
      return Files.readString(tokenFile).trim();
    } catch (NoSuchFileException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "no API token at "
              + tokenFile
              + "; the daemon creates it at first start: pass --token-file <state-dir>/api-token");
    } catch (AccessDeniedException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT, "cannot read the API token " + tokenFile + "; run as root (sudo)");
    } catch (IOException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT, "cannot read the API token " + tokenFile + ": " + e.getMessage());
    }
  }
}

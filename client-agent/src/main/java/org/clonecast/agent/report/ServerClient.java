package org.clonecast.agent.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The daemon's agent API over HTTP ({@code /agent/v1/...}). Every call is retried a few times with
 * a growing pause, since a node may come up before the head node answers; a 4xx answer is not
 * retried and its message is passed on. Thread-safe.
 */
public final class ServerClient {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ATTEMPTS = 5;

  private final URI base;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** @param base the daemon as nodes reach it, e.g. http://10.77.0.1:8080 */
  public ServerClient(URI base) {
    this.base = base;
  }

  /** One disk as the agent sees it. */
  public record Disk(String path, long size, boolean removable, String model, String serial) {}

  /**
   * What the server wants of this node.
   *
   * @param action reimage, none (nothing to do: boot the local disk) or fail (reason says why)
   * @param control the session's sender control address, host:port
   */
  public record Assignment(String action, Optional<String> reason, long session, String hostname, Optional<String> domain,
      Optional<String> imageId, long logicalSize, String control, String target, Map<String, String> files) {}

  public Assignment register(String mac, List<Disk> disks, int cpus, long memoryBytes) throws IOException, InterruptedException {
    JsonNode a = post("register", Map.of("mac", mac, "disks", disks, "cpus", cpus, "memoryBytes", memoryBytes));
    Map<String, String> files = new java.util.TreeMap<>();
    a.path("files").fields().forEachRemaining(e -> files.put(e.getKey(), e.getValue().asText()));
    return new Assignment(a.path("action").asText(), text(a, "reason"), a.path("session").asLong(), a.path("hostname").asText(),
        text(a, "domain"), text(a, "imageId"), a.path("logicalSize").asLong(), a.path("control").asText(), a.path("target").asText(),
        files);
  }

  public void progress(String mac, long session, String phase, long done, long total) throws IOException, InterruptedException {
    post("progress", Map.of("mac", mac, "session", session, "phase", phase, "done", done, "total", total));
  }

  public void result(String mac, long session, boolean ok, String detail, Optional<String> sshHostKey)
      throws IOException, InterruptedException {
    Map<String, Object> body = new java.util.LinkedHashMap<>();
    body.put("mac", mac);
    body.put("session", session);
    body.put("ok", ok);
    body.put("detail", detail);
    sshHostKey.ifPresent(k -> body.put("sshHostKey", k));
    post("result", body);
  }

  private static Optional<String> text(JsonNode n, String field) {
    JsonNode v = n.path(field);
    return v.isNull() || v.isMissingNode() ? Optional.empty() : Optional.of(v.asText());
  }

  private JsonNode post(String call, Object body) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(base.resolve("/agent/v1/" + call))
        .timeout(Duration.ofSeconds(15))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
        .build();
    IOException last = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
        JsonNode answer = r.body().length == 0 ? JSON.createObjectNode() : JSON.readTree(r.body());
        if (r.statusCode() / 100 == 2) return answer;
        String why = answer.path("error").asText("HTTP " + r.statusCode());
        if (r.statusCode() / 100 == 4) throw new IOException("the server refused " + call + ": " + why);
        last = new IOException("the server failed " + call + ": " + why);
      } catch (java.net.ConnectException | java.net.http.HttpTimeoutException e) {
        last = new IOException("cannot reach " + base + " (" + e.getMessage() + ")", e);
      }
      Thread.sleep(500L * attempt);
    }
    throw last;
  }
}

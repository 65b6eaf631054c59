package org.clonecast.agent.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.clonecast.protocol.image.EncodedChunk;

/**
 * The daemon's agent API over HTTP ({@code /agent/v1/...}). Every call is retried a few times with
 * a growing pause, since a node may come up before the head node answers; a 4xx answer is not
 * retried and its message is passed on. Thread-safe.
 */
public final class ServerClient {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ATTEMPTS = 5;

  private final URI base;
  private final String authorization;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /**
   * @param base the daemon as nodes reach it, e.g. http://10.77.0.1:8080
   * @param secret this node's per-boot secret (clonecast.secret= of its netboot script), sent with
   *     every call as {@code Authorization: Clonecast <secret>}
   */
  public ServerClient(URI base, String secret) {
    this.base = base;
    this.authorization = "Clonecast " + secret;
  }

  /** One disk as the agent sees it. */
  public record Disk(String path, long size, boolean removable, String model, String serial) {}

  /**
   * What the server wants of this node.
   *
   * @param action reimage, capture, none (nothing to do: boot the local disk) or fail (reason says why)
   * @param control the session's sender control address, host:port
   * @param capture what to capture, for action capture
   */
  public record Assignment(String action, Optional<String> reason, long session, String hostname, Optional<String> domain,
      Optional<String> imageId, long logicalSize, String control, String target, Map<String, String> files,
      Optional<CaptureAssignment> capture) {}

  /**
   * A capture: read {@code disk} (never write it), chunk it and upload it.
   *
   * @param id the capture, in every capture call
   * @param image the image it becomes
   * @param imageId the UUID the manifest must carry
   * @param level zstd level
   * @param force whether a filesystem that is not clean may be captured
   */
  public record CaptureAssignment(long id, String image, UUID imageId, String disk, int chunkSize, int level, boolean force) {}

  /**
   * What the server holds of a capture's upload.
   *
   * @param heldThrough every stored chunk up to this index is held (-1: none)
   */
  public record Held(int heldThrough, int heldChunks, long storedBytes) {}

  /** The server refused a call with a 4xx status: retrying the same call will not help. */
  public static final class RefusedException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int status;

    RefusedException(int status, String message) {
      super(message);
      this.status = status;
    }

    /** The HTTP status. */
    public int status() {
      return status;
    }
  }

  public Assignment register(String mac, List<Disk> disks, int cpus, long memoryBytes) throws IOException, InterruptedException {
    JsonNode a = post("register", Map.of("mac", mac, "disks", disks, "cpus", cpus, "memoryBytes", memoryBytes));
    Map<String, String> files = new java.util.TreeMap<>();
    a.path("files").fields().forEachRemaining(e -> files.put(e.getKey(), e.getValue().asText()));
    Optional<CaptureAssignment> capture = Optional.empty();
    if (a.path("action").asText().equals("capture")) {
      try {
        capture = Optional.of(new CaptureAssignment(a.path("capture").asLong(), a.path("image").asText(),
            UUID.fromString(a.path("imageId").asText()), a.path("disk").asText(), a.path("chunkSize").asInt(),
            a.path("level").asInt(), a.path("force").asBoolean()));
      } catch (IllegalArgumentException e) {
        throw new IOException("the server's capture assignment is malformed: " + e.getMessage(), e);
      }
    }
    return new Assignment(a.path("action").asText(), text(a, "reason"), a.path("session").asLong(), a.path("hostname").asText(),
        text(a, "domain"), text(a, "imageId"), a.path("logicalSize").asLong(), a.path("control").asText(), a.path("target").asText(),
        files, capture);
  }

  /**
   * Starts or resumes capture {@code id} of a disk of {@code logicalSize} bytes; one attempt.
   *
   * @throws RefusedException when the server refuses it
   */
  public Held captureBegin(long id, String mac, long logicalSize, int chunkSize) throws IOException, InterruptedException {
    JsonNode h = once(capture(id, "begin", null).POST(json(Map.of("mac", mac, "logicalSize", logicalSize, "chunkSize", chunkSize))),
        "capture begin", Duration.ofSeconds(30));
    return new Held(h.path("heldThrough").asInt(-1), h.path("heldChunks").asInt(), h.path("storedBytes").asLong());
  }

  /**
   * Uploads one chunk's stored bytes; one attempt.
   *
   * @param usedMap its used-block bitmap, empty when every block is used
   * @return whether the server already held it
   * @throws RefusedException when the server refuses it
   */
  public boolean capturePut(long id, String mac, int index, EncodedChunk chunk, byte[] usedMap) throws IOException,
      InterruptedException {
    HttpRequest.Builder b = capture(id, "chunk/" + index, mac)
        .header("X-Clonecast-Kind", Integer.toString(chunk.kind().code()))
        .header("X-Clonecast-Sha256", chunk.sha256().hex())
        .header("Content-Type", "application/octet-stream")
        .PUT(HttpRequest.BodyPublishers.ofByteArray(chunk.stored()));
    if (usedMap.length > 0) {
      b.header("X-Clonecast-Used-Blocks", HexFormat.of().formatHex(usedMap));
    }
    return once(b, "chunk " + index, Duration.ofSeconds(60)).path("duplicate").asBoolean();
  }

  /** Reports capture progress; one attempt. */
  public void captureProgress(long id, String mac, long done, long total) throws IOException, InterruptedException {
    once(capture(id, "progress", null).POST(json(Map.of("mac", mac, "done", done, "total", total))), "capture progress",
        Duration.ofSeconds(15));
  }

  /**
   * Sends the encoded manifest: the server checks it against every chunk, verifies the image and
   * publishes it (this takes a while for a big disk); one attempt.
   *
   * @return the server's figures of the image
   */
  public JsonNode captureFinish(long id, String mac, byte[] manifest) throws IOException, InterruptedException {
    return once(capture(id, "finish", mac).header("Content-Type", "application/octet-stream")
        .POST(HttpRequest.BodyPublishers.ofByteArray(manifest)), "capture finish", Duration.ofMinutes(30));
  }

  /** Reports that the capture failed (retried a few times). */
  public void captureFailed(long id, String mac, String why) throws IOException, InterruptedException {
    post("capture/" + id + "/result", Map.of("mac", mac, "ok", false, "detail", why));
  }

  private HttpRequest.Builder capture(long id, String call, String mac) {
    String query = mac == null ? "" : "?mac=" + mac;
    return HttpRequest.newBuilder(base.resolve("/agent/v1/capture/" + id + "/" + call + query)).header("Authorization", authorization);
  }

  private static HttpRequest.BodyPublisher json(Object body) throws IOException {
    return HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body));
  }

  /** One attempt: 2xx gives the answer, 4xx a {@link RefusedException}, anything else an IOException. */
  private JsonNode once(HttpRequest.Builder b, String what, Duration timeout) throws IOException, InterruptedException {
    HttpResponse<byte[]> r = http.send(b.timeout(timeout).build(), HttpResponse.BodyHandlers.ofByteArray());
    JsonNode answer;
    try {
      answer = r.body().length == 0 ? JSON.createObjectNode() : JSON.readTree(r.body());
    } catch (IOException e) {
      answer = JSON.createObjectNode();
    }
    if (r.statusCode() / 100 == 2) return answer;
    String why = answer.path("error").asText("HTTP " + r.statusCode());
    if (r.statusCode() / 100 == 4) throw new RefusedException(r.statusCode(), "the server refused " + what + ": " + why);
    throw new IOException("the server failed " + what + ": " + why);
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

  /** The cluster's known_hosts as the server publishes it now ({@code GET /boot/known_hosts}). */
  public String knownHosts() throws IOException, InterruptedException {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/boot/known_hosts")).timeout(Duration.ofSeconds(15)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) throw new IOException("GET /boot/known_hosts: HTTP " + r.statusCode());
    return r.body();
  }

  private static Optional<String> text(JsonNode n, String field) {
    JsonNode v = n.path(field);
    return v.isNull() || v.isMissingNode() ? Optional.empty() : Optional.of(v.asText());
  }

  private JsonNode post(String call, Object body) throws IOException, InterruptedException {
    HttpRequest req = HttpRequest.newBuilder(base.resolve("/agent/v1/" + call))
        .timeout(Duration.ofSeconds(15))
        .header("Content-Type", "application/json")
        .header("Authorization", authorization)
        .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
        .build();
    IOException last = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
        JsonNode answer = r.body().length == 0 ? JSON.createObjectNode() : JSON.readTree(r.body());
        if (r.statusCode() / 100 == 2) return answer;
        String why = answer.path("error").asText("HTTP " + r.statusCode());
        if (r.statusCode() / 100 == 4) throw new RefusedException(r.statusCode(), "the server refused " + call + ": " + why);
        last = new IOException("the server failed " + call + ": " + why);
      } catch (java.net.ConnectException | java.net.http.HttpTimeoutException e) {
        last = new IOException("cannot reach " + base + " (" + e.getMessage() + ")", e);
      }
      Thread.sleep(500L * attempt);
    }
    throw last;
  }
}

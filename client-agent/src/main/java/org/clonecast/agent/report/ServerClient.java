package org.clonecast.agent.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.clonecast.common.api.AgentJson;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.CaptureBegin;
import org.clonecast.common.api.CaptureFailure;
import org.clonecast.common.api.CaptureFinished;
import org.clonecast.common.api.CaptureHeld;
import org.clonecast.common.api.CaptureProgress;
import org.clonecast.common.api.Disk;
import org.clonecast.common.api.InvalidBodyException;
import org.clonecast.common.api.Progress;
import org.clonecast.common.api.RegisterRequest;
import org.clonecast.common.api.Result;
import org.clonecast.protocol.image.EncodedChunk;

/**
 * The daemon's agent API over HTTP ({@code /agent/v1/...}), its bodies the shared records of {@link
 * org.clonecast.common.api}. Every call is retried a few times with a growing pause, since a node
 * may come up before the head node answers; a 4xx answer is not retried and its message is passed
 * on. Thread-safe.
 */
public final class ServerClient {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ATTEMPTS = 5;

  /** How long a call may take before its daemon counts as not answering. */
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(15);

  /** HTTP 507: the daemon's disk is full. */
  public static final int INSUFFICIENT_STORAGE = 507;

  /** The daemons to call, its own first, then its failover partners (docs/scale.md). */
  private final List<URI> servers;

  /** The index in {@link #servers} of the one called now. */
  private volatile int current;

  private final String authorization;
  // HTTP/1.1 only: the daemon speaks nothing else, and a client that offers h2c sends an upgrade
  // request with every new connection (a capture opens one per chunk in flight).
  private final HttpClient http;

  /** Where chunk uploads run, made on the first; daemon threads. */
  private ExecutorService uploads;

  /**
   * @param base the daemon as nodes reach it, e.g. http://10.77.0.1:8080
   * @param secret this node's per-boot secret (clonecast.secret= of its netboot script), sent with
   *     every call as {@code Authorization: Clonecast <secret>}
   */
  public ServerClient(URI base, String secret) {
    this(List.of(base), secret);
  }

  /**
   * @param servers the node's daemon and then its failover partners ({@code
   *     clonecast.server=URL,URL2,...}): a call its daemon does not answer (cannot connect, or no
   *     answer within the timeout) goes to the next, which is then called from there on
   */
  public ServerClient(List<URI> servers, String secret) {
    if (servers.isEmpty()) throw new IllegalArgumentException("no server to call");
    this.servers = List.copyOf(servers);
    this.authorization = "Clonecast " + secret;
    // One client for all of them: the default TLS context if any of them is not plain HTTP.
    URI tls =
        this.servers.stream()
            .filter(u -> !"http".equalsIgnoreCase(u.getScheme()))
            .findFirst()
            .orElse(this.servers.get(0));
    this.http = httpClient(tls).version(HttpClient.Version.HTTP_1_1).build();
  }

  /**
   * A builder of an HTTP client for {@code server}, connecting within 5 s. For an {@code http://}
   * server it is given a TLS context that trusts nothing: without one, the JDK builds its default
   * context for every client, parsing the whole trust store (about 150 certificates, 30 MB of
   * garbage and a tenth of a CPU second on a node's core, before a capture's first chunk), though
   * plain HTTP never uses it. An {@code https://} server gets the default context.
   */
  public static HttpClient.Builder httpClient(URI server) {
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
    if ("http".equalsIgnoreCase(server.getScheme())) {
      try {
        SSLContext none = SSLContext.getInstance("TLS");
        none.init(null, new TrustManager[0], null);
        b.sslContext(none);
      } catch (GeneralSecurityException e) {
        // No such context in this JDK: the default one costs time, nothing else.
      }
    }
    return b;
  }

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

  /** The daemon called now. */
  public URI server() {
    return servers.get(current);
  }

  /** The daemons this client may call, its own first. */
  public List<URI> servers() {
    return servers;
  }

  /**
   * Parses {@code clonecast.server=}'s value: one URL, or several separated by commas.
   *
   * @throws IllegalArgumentException naming the one that is no http(s) URL
   */
  public static List<URI> parseServers(String text) {
    List<URI> out = new java.util.ArrayList<>();
    for (String u : text.split(",")) {
      if (u.isBlank()) continue;
      URI uri;
      try {
        uri = URI.create(u.strip());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("server '" + u + "' is no URL: " + e.getMessage());
      }
      if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
          || uri.getHost() == null) {
        throw new IllegalArgumentException("server '" + u + "' is no http:// or https:// URL");
      }
      out.add(uri);
    }
    if (out.isEmpty()) throw new IllegalArgumentException("no server URL in '" + text + "'");
    return out;
  }

  /**
   * Registers this node: what the server wants of it.
   *
   * @throws IOException also when the server's answer is not an assignment this agent can read (an
   *     action it does not know is named)
   */
  public Assignment register(String mac, List<Disk> disks, int cpus, long memoryBytes)
      throws IOException, InterruptedException {
    return register(mac, disks, cpus, memoryBytes, Duration.ZERO);
  }

  /**
   * Registers this node, letting the daemon hold the call for up to {@code hold} (whole seconds)
   * while it has nothing for the node: a long poll, answered as soon as a session that includes the
   * node starts (docs/api.md). A daemon that does not hold registrations answers at once.
   */
  public Assignment register(
      String mac, List<Disk> disks, int cpus, long memoryBytes, Duration hold)
      throws IOException, InterruptedException {
    long seconds = hold.toSeconds();
    return answer(
        post(
            "register",
            seconds > 0 ? "?wait=" + seconds : "",
            new RegisterRequest(mac, disks, cpus, memoryBytes),
            CALL_TIMEOUT.plusSeconds(seconds)),
        Assignment.class,
        "register");
  }

  /**
   * Starts or resumes capture {@code id} of a disk of {@code logicalSize} bytes; one attempt.
   *
   * @throws RefusedException when the server refuses it
   */
  public CaptureHeld captureBegin(
      long id, String mac, long logicalSize, int chunkSize, boolean hashOfChunks)
      throws IOException, InterruptedException {
    return answer(
        once(
            capture(id, "begin", null)
                .POST(json(new CaptureBegin(mac, logicalSize, chunkSize, hashOfChunks))),
            "capture begin",
            Duration.ofSeconds(30)),
        CaptureHeld.class,
        "capture begin");
  }

  /**
   * The daemon's answer to an uploaded chunk.
   *
   * @param duplicate whether it held the chunk already
   * @param heldThrough the highest chunk index it holds now (every stored chunk up to it)
   * @param stored false only for a reference to a chunk the server's pool does not hold: nothing
   *     was stored, send the bytes
   */
  public record ChunkAnswer(boolean duplicate, int heldThrough, boolean stored) {
    public ChunkAnswer(boolean duplicate, int heldThrough) {
      this(duplicate, heldThrough, true);
    }
  }

  /**
   * Uploads one chunk's stored bytes; one attempt, not waited for: several may be in flight, each
   * on its own connection.
   *
   * @param after the index of the stored chunk it follows, -1 for the first: the daemon appends it
   *     after that one, whichever arrives first
   * @param usedMap its used-block bitmap, empty when every block is used
   * @return the answer, or a {@link RefusedException} when the server refuses it (a 4xx, or 507
   *     when its disk is full), another IOException when it fails or cannot be reached
   */
  public CompletableFuture<ChunkAnswer> capturePut(
      long id, String mac, int index, int after, EncodedChunk chunk, byte[] usedMap) {
    return capturePut(id, mac, index, after, chunk, usedMap, false);
  }

  /**
   * As {@link #capturePut(long, String, int, int, EncodedChunk, byte[])}; with {@code reference} no
   * bytes go, only the chunk's SHA-256 (header {@code X-Clonecast-Pooled}): the server takes the
   * chunk from its pool, or answers {@link ChunkAnswer#stored()} false when it does not hold it.
   */
  public CompletableFuture<ChunkAnswer> capturePut(
      long id,
      String mac,
      int index,
      int after,
      EncodedChunk chunk,
      byte[] usedMap,
      boolean reference) {
    URI uri = server().resolve("/agent/v1/capture/" + id + "/chunk/" + index + "?mac=" + mac);
    String what = "chunk " + index;
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return put(uri, index, after, chunk, usedMap, reference, what);
          } catch (IOException e) {
            throw new CompletionException(e);
          }
        },
        uploads());
  }

  /**
   * One blocking chunk PUT through {@link HttpURLConnection}, whose kept-alive connections are
   * reused. Not through {@link #http}: its asynchronous machinery (selector and worker threads,
   * completion stages per body buffer) cost the node about 1.6 CPU seconds per GiB uploaded and a
   * good part of a fresh JVM's JIT work, a fifth of the agent's CPU in a capture
   * (docs/benchmarks.md, "Capture").
   */
  private ChunkAnswer put(
      URI uri,
      int index,
      int after,
      EncodedChunk chunk,
      byte[] usedMap,
      boolean reference,
      String what)
      throws IOException {
    int length = reference ? 0 : chunk.storedLength();
    HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection(Proxy.NO_PROXY);
    try {
      c.setRequestMethod("PUT");
      c.setDoOutput(true);
      c.setUseCaches(false);
      c.setConnectTimeout(5_000);
      c.setReadTimeout(60_000);
      c.setFixedLengthStreamingMode(length);
      c.setRequestProperty("Authorization", authorization);
      c.setRequestProperty("X-Clonecast-Kind", Integer.toString(chunk.kind().code()));
      c.setRequestProperty("X-Clonecast-Sha256", chunk.sha256().hex());
      c.setRequestProperty("X-Clonecast-After", Integer.toString(after));
      c.setRequestProperty("Content-Type", "application/octet-stream");
      if (usedMap.length > 0) {
        c.setRequestProperty("X-Clonecast-Used-Blocks", HexFormat.of().formatHex(usedMap));
      }
      if (reference) {
        c.setRequestProperty("X-Clonecast-Pooled", "1");
      }
      try (OutputStream out = c.getOutputStream()) {
        if (!reference) {
          chunk.writeStoredTo(out);
        }
      }
      int status = c.getResponseCode();
      byte[] answer;
      try (InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream()) {
        answer =
            in == null
                ? new byte[0]
                : in.readAllBytes(); // read to the end: the connection is kept alive
      }
      JsonNode a = answerOf(status, answer, what);
      // A daemon that predates several chunks in flight answers only once the chunk is held.
      return new ChunkAnswer(
          a.path("duplicate").asBoolean(),
          a.path("heldThrough").asInt(index),
          a.path("stored").asBoolean(true));
    } catch (IOException e) {
      c.disconnect();
      throw e instanceof RefusedException ? e : new IOException(what + ": " + e.getMessage(), e);
    }
  }

  /** The threads chunk uploads block on: as many as the caller keeps in flight. */
  private synchronized ExecutorService uploads() {
    if (uploads == null) {
      uploads =
          Executors.newCachedThreadPool(
              r -> {
                Thread t = new Thread(r, "capture-put");
                t.setDaemon(true);
                return t;
              });
    }
    return uploads;
  }

  /** Reports capture progress; one attempt. */
  public void captureProgress(long id, String mac, long done, long total)
      throws IOException, InterruptedException {
    once(
        capture(id, "progress", null).POST(json(new CaptureProgress(mac, done, total))),
        "capture progress",
        Duration.ofSeconds(15));
  }

  /**
   * Sends the encoded manifest: the server checks it against every chunk, verifies the image and
   * publishes it (this takes a while for a big disk); one attempt.
   *
   * @return the server's figures of the image
   */
  public CaptureFinished captureFinish(long id, String mac, byte[] manifest)
      throws IOException, InterruptedException {
    return answer(
        once(
            capture(id, "finish", mac)
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(manifest)),
            "capture finish",
            Duration.ofMinutes(30)),
        CaptureFinished.class,
        "capture finish");
  }

  /** Reports that the capture failed (retried a few times). */
  public void captureFailed(long id, String mac, String why)
      throws IOException, InterruptedException {
    post("capture/" + id + "/result", CaptureFailure.of(mac, why));
  }

  private HttpRequest.Builder capture(long id, String call, String mac) {
    String query = mac == null ? "" : "?mac=" + mac;
    return HttpRequest.newBuilder(server().resolve("/agent/v1/capture/" + id + "/" + call + query))
        .header("Authorization", authorization);
  }

  private static HttpRequest.BodyPublisher json(Object body) {
    return HttpRequest.BodyPublishers.ofByteArray(AgentJson.bytes(body));
  }

  /**
   * The server's answer as {@code type}; one it cannot be read as is an IOException naming the
   * field.
   */
  private static <T> T answer(JsonNode answer, Class<T> type, String call) throws IOException {
    try {
      return AgentJson.read(answer, type);
    } catch (InvalidBodyException e) {
      throw new IOException(
          "the server's answer to "
              + call
              + " is not one this agent understands: "
              + e.getMessage(),
          e);
    }
  }

  /**
   * One attempt: 2xx gives the answer, 4xx a {@link RefusedException}, anything else an
   * IOException.
   */
  private JsonNode once(HttpRequest.Builder b, String what, Duration timeout)
      throws IOException, InterruptedException {
    HttpResponse<byte[]> r =
        http.send(b.timeout(timeout).build(), HttpResponse.BodyHandlers.ofByteArray());
    return answerOf(r.statusCode(), r.body(), what);
  }

  /**
   * 2xx gives the answer; 4xx, and 507 (the daemon's disk is full: retrying cannot help until an
   * operator frees space), a {@link RefusedException}; anything else an IOException.
   */
  private static JsonNode answerOf(int status, byte[] body, String what) throws IOException {
    JsonNode answer;
    try {
      answer = body.length == 0 ? JSON.createObjectNode() : JSON.readTree(body);
    } catch (IOException e) {
      answer = JSON.createObjectNode();
    }
    if (status / 100 == 2) return answer;
    String why = answer.path("error").asText("HTTP " + status);
    if (status / 100 == 4 || status == INSUFFICIENT_STORAGE) {
      throw new RefusedException(status, "the server refused " + what + ": " + why);
    }
    throw new IOException("the server failed " + what + ": " + why);
  }

  /**
   * @param unicastBytes of {@code done}, bytes written from chunks fetched by unicast
   *     (docs/unicast.md)
   */
  public void progress(
      String mac, long session, Progress.Phase phase, long done, long total, long unicastBytes)
      throws IOException, InterruptedException {
    post("progress", new Progress(mac, session, phase, done, total, unicastBytes));
  }

  /**
   * @param unicastBytes of the bytes written, those from chunks fetched by unicast
   */
  public void result(
      String mac,
      long session,
      boolean ok,
      String detail,
      Optional<String> sshHostKey,
      long unicastBytes)
      throws IOException, InterruptedException {
    post("result", new Result(mac, session, ok, detail, sshHostKey.orElse(null), unicastBytes));
  }

  /** The cluster's known_hosts as the server publishes it now ({@code GET /boot/known_hosts}). */
  public String knownHosts() throws IOException, InterruptedException {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(server().resolve("/boot/known_hosts"))
                .timeout(Duration.ofSeconds(15))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200)
      throw new IOException("GET /boot/known_hosts: HTTP " + r.statusCode());
    return r.body();
  }

  private JsonNode post(String call, Object body) throws IOException, InterruptedException {
    return post(call, "", body, CALL_TIMEOUT);
  }

  private JsonNode post(String call, String query, Object body, Duration timeout)
      throws IOException, InterruptedException {
    IOException last = null;
    for (int attempt = 1; attempt <= ATTEMPTS * servers.size(); attempt++) {
      int at = current;
      URI base = servers.get(at);
      HttpRequest req =
          HttpRequest.newBuilder(base.resolve("/agent/v1/" + call + query))
              .timeout(timeout)
              .header("Content-Type", "application/json")
              .header("Authorization", authorization)
              .POST(json(body))
              .build();
      HttpResponse<byte[]> r;
      try {
        r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
      } catch (IOException e) {
        // Refused, no answer in time, or the connection closed before an answer (a daemon killed
        // mid-call): it does not answer.
        last = new IOException("cannot reach " + base + " (" + e.getMessage() + ")", e);
        if (servers.size() > 1) {
          // Its daemon does not answer: the next one (a failover partner on its segment) serves
          // it from now on; a daemon that answers with an error is not left.
          int next = (at + 1) % servers.size();
          if (current == at) current = next;
          System.err.println(
              "clonecast-agent: " + base + " does not answer; calling " + servers.get(next));
          // A pause after each round of them all, growing as for one daemon.
          Thread.sleep(next == 0 ? 500L * Math.min(attempt, ATTEMPTS) : 200);
          continue;
        }
        Thread.sleep(500L * Math.min(attempt, ATTEMPTS));
        continue;
      }
      JsonNode answer = r.body().length == 0 ? JSON.createObjectNode() : JSON.readTree(r.body());
      if (r.statusCode() / 100 == 2) return answer;
      String why = answer.path("error").asText("HTTP " + r.statusCode());
      if (r.statusCode() / 100 == 4)
        throw new RefusedException(r.statusCode(), "the server refused " + call + ": " + why);
      last = new IOException("the server failed " + call + ": " + why);
      Thread.sleep(500L * Math.min(attempt, ATTEMPTS));
    }
    throw last;
  }
}

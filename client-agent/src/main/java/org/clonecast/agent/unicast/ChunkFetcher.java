package org.clonecast.agent.unicast;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import org.clonecast.protocol.image.ChunkEntry;

/**
 * The daemon's unicast fallback over HTTP (docs/unicast.md, docs/api.md "agent"): {@code HEAD} asks
 * whether the session's multicast runs, {@code GET} with one {@code Range} fetches one chunk's
 * stored bytes from the image file. Blocking {@link HttpURLConnection}s on kept-alive connections,
 * as the capture's uploads (a node's agent must stay small and cheap).
 *
 * <p>Nothing fetched here is trusted: the receiver checks every chunk against the manifest's
 * SHA-256 (which the daemon's signature covers) before it writes it.
 *
 * <p>Thread-safe (no state beyond the URL and the secret).
 */
public final class ChunkFetcher {
  private final URL url;
  private final String authorization;

  /** What an answer said. */
  public sealed interface Answer {}

  /** The chunk's stored bytes (not yet checked). */
  public record Chunk(byte[] stored, long transferMillis) implements Answer {}

  /** The multicast runs, since {@code transferMillis}. */
  public record Running(long transferMillis) implements Answer {}

  /** The multicast has not started: ask again after {@code retryMillis}. */
  public record NotStarted(long retryMillis) implements Answer {}

  /** The daemon is at its rate or its request bound: ask again after {@code retryMillis}. */
  public record Busy(long retryMillis) implements Answer {}

  /** The daemon refuses this node (a 4xx other than the above): asking again will not help. */
  public record Refused(int status, String why) implements Answer {}

  /**
   * @param server the daemon as nodes reach it, e.g. http://10.77.0.1:8080
   * @param session the daemon's session number
   * @param mac this node's boot MAC
   * @param secret this node's per-boot secret
   */
  public ChunkFetcher(URI server, long session, String mac, String secret) throws IOException {
    this.url = server.resolve("/agent/v1/sessions/" + session + "/image?mac=" + mac).toURL();
    this.authorization = "Clonecast " + secret;
  }

  /**
   * Asks whether the multicast runs.
   *
   * @throws IOException when the daemon cannot be reached or fails (5xx)
   */
  public Answer probe() throws IOException {
    HttpURLConnection c = open("HEAD");
    try {
      int status = c.getResponseCode();
      Answer a = answer(c, status);
      if (a != null) return a;
      drain(c, status);
      return new Running(transferMillis(c));
    } catch (IOException e) {
      c.disconnect();
      throw e;
    }
  }

  /**
   * Fetches chunk {@code e}'s stored bytes.
   *
   * @throws IOException when the daemon cannot be reached, fails (5xx), or sends other bytes than
   *     the range asked for
   */
  public Answer fetch(ChunkEntry e) throws IOException {
    if (e.storedLength() <= 0) throw new IllegalArgumentException("chunk " + e + " stores nothing");
    HttpURLConnection c = open("GET");
    try {
      long first = e.storedOffset();
      long last = first + e.storedLength() - 1;
      c.setRequestProperty("Range", "bytes=" + first + "-" + last);
      int status = c.getResponseCode();
      Answer a = answer(c, status);
      if (a != null) return a;
      if (status != 206) {
        drain(c, status);
        throw new IOException("the daemon answered " + status + " to a chunk range, want 206");
      }
      String range = c.getHeaderField("Content-Range");
      if (range == null || !range.startsWith("bytes " + first + "-" + last + "/")) {
        c.disconnect();
        throw new IOException(
            "the daemon sent range "
                + range
                + " for chunk "
                + e.index()
                + ", want "
                + first
                + "-"
                + last);
      }
      byte[] stored = new byte[e.storedLength()];
      try (InputStream in = c.getInputStream()) {
        int n = in.readNBytes(stored, 0, stored.length);
        if (n != stored.length || in.read() != -1) {
          throw new IOException("chunk " + e.index() + ": " + n + " bytes, want " + stored.length);
        }
      }
      return new Chunk(stored, transferMillis(c));
    } catch (IOException ex) {
      c.disconnect();
      throw ex;
    }
  }

  private HttpURLConnection open(String method) throws IOException {
    HttpURLConnection c = (HttpURLConnection) url.openConnection(Proxy.NO_PROXY);
    c.setRequestMethod(method);
    c.setUseCaches(false);
    c.setConnectTimeout(5_000);
    c.setReadTimeout(30_000);
    c.setRequestProperty("Authorization", authorization);
    return c;
  }

  /** The answer for a status that carries no chunk, or null for 2xx. */
  private static Answer answer(HttpURLConnection c, int status) throws IOException {
    if (status / 100 == 2) return null;
    String body = drain(c, status);
    long retry = retryMillis(c);
    if (status == 409) return new NotStarted(retry);
    if (status == 429) return new Busy(retry);
    if (status / 100 == 4) return new Refused(status, body.isBlank() ? "HTTP " + status : body);
    throw new IOException("the daemon failed a chunk request: HTTP " + status + " " + body);
  }

  /** Reads the rest of a body (so the connection is kept alive); its text for an error. */
  private static String drain(HttpURLConnection c, int status) throws IOException {
    try (InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream()) {
      if (in == null) return "";
      byte[] b = in.readNBytes(4096);
      in.transferTo(OutputStream.nullOutputStream());
      return new String(b, StandardCharsets.UTF_8);
    }
  }

  private static long retryMillis(HttpURLConnection c) {
    try {
      String ms = c.getHeaderField("X-Clonecast-Retry-Ms");
      if (ms != null) return Math.max(1, Math.min(60_000, Long.parseLong(ms.trim())));
      String s = c.getHeaderField("Retry-After");
      if (s != null) return Math.max(1, Math.min(60, Long.parseLong(s.trim()))) * 1000;
    } catch (NumberFormatException e) {
      // a daemon's header we cannot read: the default pause below
    }
    return 1000;
  }

  private static long transferMillis(HttpURLConnection c) {
    try {
      String v = c.getHeaderField("X-Clonecast-Transfer-Ms");
      return v == null ? 0 : Math.max(0, Long.parseLong(v.trim()));
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}

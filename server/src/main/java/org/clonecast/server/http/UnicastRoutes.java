package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.limit.ByteBudget;
import org.clonecast.server.limit.Slots;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.session.SessionManager.UnicastAccess;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The unicast fallback (docs/unicast.md): a node that multicast does not reach fetches the stored
 * chunks it lacks from the session's image file, one HTTP range request per chunk, each checked by
 * the agent against the manifest's SHA-256 before it is written.
 *
 * <ul>
 *   <li>HEAD /agent/v1/sessions/{id}/image?mac=MAC: 200 once the session's multicast runs (headers
 *       {@code X-Clonecast-Transfer-Ms}: how long it has run; {@code X-Clonecast-Region}: the byte
 *       range {@code FIRST-END} its chunks fill), 409 before
 *   <li>GET the same with {@code Range: bytes=FIRST-LAST}: 206 with those bytes of the image file
 * </ul>
 *
 * <p>Only the node itself (its per-boot secret, {@link NodeAuth}), only while it is an unfinished
 * node of a session whose transfer runs here. One range per request, inside the chunks' region and
 * at most {@link ChunkRange#MAX_LENGTH} bytes; anything else is a 400 or 416 naming what is wrong.
 * All nodes together get at most {@code rate} bytes a second and {@code streams} requests at once
 * (one node at most half of them): a request over either bound is answered 429 with {@code
 * Retry-After} (seconds) and {@code X-Clonecast-Retry-Ms}, never held on a thread, so the daemon's
 * other calls and the multicast are not slowed.
 *
 * <p>Thread-safe.
 */
public final class UnicastRoutes {
  static final String PREFIX = "/agent/v1/sessions/";

  private static final Logger log = LoggerFactory.getLogger(UnicastRoutes.class);

  private static final Pattern PATH = Pattern.compile("/agent/v1/sessions/(\\d{1,18})/image");

  /** What the fallback served and refused, for /metrics. */
  public static final class Stats {
    public final LongAdder bytes = new LongAdder();
    public final LongAdder requests = new LongAdder();
    public final LongAdder throttled = new LongAdder();
    public final LongAdder refused = new LongAdder();
  }

  private final SessionManager sessions;
  private final NodeAuth auth;
  private final ByteBudget budget;
  private final Slots<MacAddress> streams;
  private final Stats stats = new Stats();

  /**
   * @param rate bytes per second for every node's fallback together
   * @param streams requests served at once, all nodes together
   */
  public UnicastRoutes(SessionManager sessions, NodeAuth auth, long rate, int streams) {
    this.sessions = sessions;
    this.auth = auth;
    // A burst of a quarter second: enough for one chunk at any sensible rate, small enough that the
    // rate holds over a second.
    this.budget = new ByteBudget(rate, Math.max(1, rate / 4), System.nanoTime());
    this.streams = new Slots<>(streams, Math.max(1, streams / 2));
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.open(PREFIX, this::handle);
  }

  public Stats stats() {
    return stats;
  }

  /** Requests being served now. */
  public int streamsHeld() {
    return streams.held();
  }

  private Reply handle(Request r) {
    Reply reply = answer(r);
    if (reply instanceof Reply.Bytes b && b.status().code() >= 400) {
      if (b.status().code() == 429) stats.throttled.increment();
      else stats.refused.increment();
    }
    return reply;
  }

  private Reply answer(Request r) {
    boolean head = r.method().equals(HttpMethod.HEAD);
    if (!head && !r.method().equals(HttpMethod.GET)) {
      return ImageRoutes.notAllowed(r);
    }
    Matcher p = PATH.matcher(r.path());
    if (!p.matches()) {
      return Reply.error(
          HttpResponseStatus.NOT_FOUND,
          "no such path " + r.path() + "; want /agent/v1/sessions/{id}/image?mac=MAC");
    }
    long session = Long.parseLong(p.group(1));
    MacAddress mac =
        NodeRoutes.parseMac(
            r.param("mac")
                .orElseThrow(() -> new BadRequestException("query parameter 'mac' is required")));
    auth.require(mac, r);
    UnicastAccess access = sessions.unicastAccess(session, mac);
    if (access instanceof UnicastAccess.Refused no) {
      return Reply.error(HttpResponseStatus.FORBIDDEN, no.why());
    }
    if (access instanceof UnicastAccess.NotYet no) {
      return retry(HttpResponseStatus.CONFLICT, no.why(), 1000);
    }
    UnicastAccess.Serve serve = (UnicastAccess.Serve) access;
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("X-Clonecast-Transfer-Ms", Long.toString(serve.transferMillis()));
    headers.put("X-Clonecast-Region", serve.regionStart() + "-" + serve.regionEnd());
    if (head) {
      return new Reply.Bytes(
          HttpResponseStatus.OK, "application/octet-stream", new byte[0], headers);
    }
    ChunkRange range =
        ChunkRange.parse(
            r.headers().get(HttpHeaderNames.RANGE), serve.regionStart(), serve.regionEnd());
    if (range instanceof ChunkRange.Bad bad) {
      throw new BadRequestException(bad.why());
    }
    if (range instanceof ChunkRange.Outside out) {
      Reply.Bytes e =
          (Reply.Bytes) Reply.error(HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE, out.why());
      return new Reply.Bytes(
          e.status(),
          e.contentType(),
          e.body(),
          Map.of("Content-Range", "bytes */" + serve.regionEnd()));
    }
    ChunkRange.Ok ok = (ChunkRange.Ok) range;
    long first = ok.first();
    long length = ok.length();
    Slots.Result slot = streams.take(mac);
    if (slot != Slots.Result.TAKEN) {
      return retry(
          HttpResponseStatus.TOO_MANY_REQUESTS,
          slot == Slots.Result.FULL
              ? "the unicast fallback serves "
                  + streams.max()
                  + " requests at once (session.unicast-streams); try again shortly"
              : "this node has " + streams.maxPerClient() + " requests in flight already",
          100);
    }
    long waitNanos;
    synchronized (budget) {
      waitNanos = budget.take(length, System.nanoTime());
    }
    if (waitNanos > 0) {
      streams.release(mac);
      return retry(
          HttpResponseStatus.TOO_MANY_REQUESTS,
          "the unicast fallback is at its rate (session.unicast-rate)",
          Math.max(1, TimeUnit.NANOSECONDS.toMillis(waitNanos)));
    }
    stats.requests.increment();
    stats.bytes.add(length);
    sessions.unicastServed(session, mac, length);
    byte[] body;
    try {
      body = serve.layout().read(serve.source(), first, (int) length);
    } catch (IOException | RuntimeException e) {
      streams.release(mac);
      log.warn(
          "unicast fallback: cannot read bytes {}+{} of session {}'s image",
          first,
          length,
          session,
          e);
      return Reply.error(
          HttpResponseStatus.INTERNAL_SERVER_ERROR,
          "cannot read the image's bytes " + first + "+" + length + ": " + e.getMessage());
    }
    return new Reply.Range(
        body,
        first,
        serve.regionEnd(),
        "application/octet-stream",
        headers,
        () -> streams.release(mac));
  }

  private static Reply retry(HttpResponseStatus status, String why, long millis) {
    Reply.Bytes e = (Reply.Bytes) Reply.error(status, why);
    return new Reply.Bytes(
        status,
        e.contentType(),
        e.body(),
        Map.of(
            "Retry-After",
            Long.toString(Math.max(1, (millis + 999) / 1000)),
            "X-Clonecast-Retry-Ms",
            Long.toString(millis)));
  }
}

package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.server.limit.Slots;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.ImageStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one daemon serves another (docs/scale.md, "Replication"; docs/api.md, "Peer routes"):
 *
 * <ul>
 *   <li>GET /peer/v1/images/{name}/manifest: the manifest file of an image this daemon holds
 *       (manifest and signature block, docs/image-format.md); 404 when it holds none
 *   <li>GET /peer/v1/chunks/{sha256}: the stored bytes of a chunk (one zstd frame, or raw when as
 *       long as the chunk) by the SHA-256 of its logical bytes; 404 unless it belongs to an image
 *       this daemon holds
 * </ul>
 *
 * <p>Every call carries {@code X-Clonecast-Daemon: <id>} and {@code X-Clonecast-Peer: <secret>} of
 * a running daemon of the store ({@link DaemonRegistry#verifyPeer}); anything else is a 401,
 * counted. These are open routes (answered on the provisioning address) because daemons call each
 * other there; the caller checks whatever it receives (the manifest against the images row, every
 * chunk against its digest). At most {@link #STREAMS} reads at once, {@link #STREAMS_PER_PEER} for
 * one peer: beyond, 429 with {@code Retry-After}.
 *
 * <p>Thread-safe.
 */
public final class PeerRoutes {
  /** Where the peer routes live. */
  public static final String PREFIX = "/peer/v1/";

  /** The header naming the calling daemon. */
  public static final String DAEMON_HEADER = "X-Clonecast-Daemon";

  /** The header carrying the calling daemon's peer secret. */
  public static final String SECRET_HEADER = "X-Clonecast-Peer";

  /** Chunk and manifest reads served at once, all peers together. */
  static final int STREAMS = 16;

  /** Of those, for one peer. */
  static final int STREAMS_PER_PEER = 8;

  private static final Logger LOG = LoggerFactory.getLogger(PeerRoutes.class);
  private static final Pattern MANIFEST = Pattern.compile("/peer/v1/images/([^/]{1,64})/manifest");
  private static final Pattern CHUNK = Pattern.compile("/peer/v1/chunks/([0-9a-f]{64})");

  /** What the peer routes served and refused, for /metrics. */
  public static final class Stats {
    public final LongAdder requests = new LongAdder();
    public final LongAdder bytes = new LongAdder();
    public final LongAdder unauthorized = new LongAdder();
    public final LongAdder notFound = new LongAdder();
    public final LongAdder throttled = new LongAdder();
  }

  private final ImageStore images;
  private final DaemonRegistry registry;
  private final Slots<String> streams = new Slots<>(STREAMS, STREAMS_PER_PEER);
  private final Stats stats = new Stats();

  public PeerRoutes(ImageStore images, DaemonRegistry registry) {
    this.images = Objects.requireNonNull(images);
    this.registry = Objects.requireNonNull(registry);
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.open(PREFIX, this::handle);
  }

  public Stats stats() {
    return stats;
  }

  private Reply handle(Request r) throws IOException {
    Optional<String> peer = Optional.ofNullable(r.headers().get(DAEMON_HEADER));
    if (peer.isEmpty()
        || !registry.verifyPeer(peer.get(), Optional.ofNullable(r.headers().get(SECRET_HEADER)))) {
      stats.unauthorized.increment();
      LOG.debug(
          "peer: refused {} {} from {}: no daemon's secret", r.method(), r.path(), r.remote());
      return Reply.error(
          HttpResponseStatus.UNAUTHORIZED,
          "peer routes answer only the running daemons of this store: send "
              + DAEMON_HEADER
              + " and "
              + SECRET_HEADER);
    }
    if (!r.method().equals(HttpMethod.GET)) {
      return ImageRoutes.notAllowed(r);
    }
    Matcher m = MANIFEST.matcher(r.path());
    Matcher c = CHUNK.matcher(r.path());
    if (!m.matches() && !c.matches()) {
      return notFound(
          "no such path "
              + r.path()
              + "; want /peer/v1/images/{name}/manifest or /peer/v1/chunks/{sha256 hex}");
    }
    if (streams.take(peer.get()) != Slots.Result.TAKEN) {
      stats.throttled.increment();
      return new Reply.Bytes(
          HttpResponseStatus.TOO_MANY_REQUESTS,
          "application/json",
          Json.bytes(Json.error("this daemon serves " + STREAMS + " peer reads at once")),
          Map.of("Retry-After", "1"));
    }
    Optional<byte[]> body;
    try {
      body =
          m.matches()
              ? images.heldManifest(ImageStore.validName(m.group(1)))
              : images.heldChunk(Sha256.ofHex(c.group(1)));
    } finally {
      streams.release(peer.get());
    }
    if (body.isEmpty()) {
      return notFound(
          m.matches()
              ? "this daemon holds no image " + m.group(1)
              : "this daemon holds no image with chunk " + c.group(1));
    }
    stats.requests.increment();
    stats.bytes.add(body.get().length);
    return new Reply.Bytes(HttpResponseStatus.OK, "application/octet-stream", body.get(), Map.of());
  }

  private Reply notFound(String why) {
    stats.notFound.increment();
    return Reply.error(HttpResponseStatus.NOT_FOUND, why);
  }
}

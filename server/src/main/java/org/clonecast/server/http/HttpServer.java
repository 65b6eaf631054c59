package org.clonecast.server.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.EventExecutorGroup;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.Transport;

/**
 * The daemon's HTTP/1.1 server (Netty): one listener on the provisioning address for nodes, one on
 * 127.0.0.1 for the operator. Requests are dispatched by longest path prefix to {@link Route}s on a
 * small blocking executor, so database and disk reads never stall the event loop.
 *
 * <p>Routes registered as API ({@link #api}) answer only on loopback unless {@code apiRemote}, and
 * their mutating calls need the {@link ApiToken}, or the console's login cookie from a page of the
 * console's own origin ({@link ConsoleLogin}).
 */
public final class HttpServer implements AutoCloseable {
  /** Largest request body accepted unless a route allows more (API JSON). */
  static final int MAX_BODY = 1 << 20;

  private final List<Channel> channels = new ArrayList<>();
  private final EventExecutorGroup blocking;
  private final HttpStats stats = new HttpStats();
  private final ConnectionGuard guard;
  private int port;

  /**
   * How many body bytes a request may carry, decided from its path and client before any of the
   * body is read (so a big upload is refused with 413 instead of buffered). Runs on the event loop:
   * it must not block.
   */
  @FunctionalInterface
  public interface BodyLimit {
    long maxBody(String path, InetSocketAddress remote);
  }

  /**
   * Bounds on connections (docs/security.md, "Bounded resources"); see {@link ConnectionGuard}.
   *
   * @param idleTimeout a connection on which no byte moved either way this long is closed
   * @param max connections open at once (those to the loopback listener may exceed it)
   * @param maxPerClient connections open at once from one address
   */
  public record Limits(Duration idleTimeout, int max, int maxPerClient) {
    public Limits {
      Objects.requireNonNull(idleTimeout, "idleTimeout");
      if (idleTimeout.isNegative() || idleTimeout.isZero() || max < 1 || maxPerClient < 1) {
        throw new IllegalArgumentException(
            "limits must be positive: idle "
                + idleTimeout
                + ", max "
                + max
                + ", per client "
                + maxPerClient);
      }
    }
  }

  /** Routes by path prefix, and which of them are API routes. */
  public static final class Routes {
    final TreeMap<String, Route> byPrefix = new TreeMap<>();
    final Map<String, Boolean> isApi = new TreeMap<>();
    final Map<String, BodyLimit> limits = new TreeMap<>();

    /** The console's login, whose cookie stands in for the token on the console's own changes. */
    ConsoleLogin login;

    /** Lets a {@link ConsoleLogin} session cookie authorise changes (with a same-origin check). */
    Routes login(ConsoleLogin login) {
      this.login = Objects.requireNonNull(login);
      return this;
    }

    /** A route nodes may use (boot scripts and files). */
    public Routes open(String prefix, Route route) {
      return add(prefix, route, false);
    }

    /**
     * A route nodes may use whose bodies may be larger than {@link #MAX_BODY}, up to {@code limit}.
     */
    public Routes open(String prefix, Route route, BodyLimit limit) {
      add(prefix, route, false);
      limits.put(prefix, Objects.requireNonNull(limit));
      return this;
    }

    /** An operator route: loopback only unless configured, token for mutating calls. */
    public Routes api(String prefix, Route route) {
      return add(prefix, route, true);
    }

    private Routes add(String prefix, Route route, boolean api) {
      if (byPrefix.put(prefix, Objects.requireNonNull(route)) != null) {
        throw new IllegalArgumentException("two routes for " + prefix);
      }
      isApi.put(prefix, api);
      return this;
    }

    /** The longest registered prefix of {@code path}, or null. */
    String match(String path) {
      String best = null;
      for (String prefix : byPrefix.keySet()) {
        if (path.startsWith(prefix) && (best == null || prefix.length() > best.length())) {
          best = prefix;
        }
      }
      return best;
    }

    /** The largest body a request for {@code path} from {@code remote} may carry. */
    long maxBody(String path, InetSocketAddress remote) {
      String prefix = match(path);
      BodyLimit l = prefix == null ? null : limits.get(prefix);
      return l == null ? MAX_BODY : l.maxBody(path, remote);
    }
  }

  private HttpServer(EventExecutorGroup blocking, Limits limits) {
    this.blocking = blocking;
    this.guard = new ConnectionGuard(limits, stats);
  }

  /**
   * Binds the listeners.
   *
   * @param address the provisioning address (nodes), or null for loopback only
   * @param port the port on both (0 picks a free one, the same on both)
   * @param apiRemote whether API routes answer on {@code address} too
   * @param limits connection caps and idle timeout, shared by both listeners
   */
  public static HttpServer start(
      EventLoopGroup group,
      Inet4Address address,
      int port,
      boolean apiRemote,
      ApiToken token,
      Routes routes,
      Limits limits)
      throws InterruptedException {
    HttpServer s =
        new HttpServer(new DefaultEventExecutorGroup(4, r -> new Thread(r, "http-work")), limits);
    try {
      InetAddress loopback = InetAddress.getLoopbackAddress();
      Channel lo =
          s.bind(group, new InetSocketAddress(loopback, port), true, token, routes, apiRemote);
      s.port = ((InetSocketAddress) lo.localAddress()).getPort();
      if (address != null && !address.equals(loopback)) {
        s.bind(group, new InetSocketAddress(address, s.port), false, token, routes, apiRemote);
      }
      return s;
    } catch (InterruptedException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private Channel bind(
      EventLoopGroup group,
      InetSocketAddress at,
      boolean local,
      ApiToken token,
      Routes routes,
      boolean apiRemote)
      throws InterruptedException {
    ServerBootstrap b =
        Transport.tcpServer(
            group,
            Transport.initializer(
                ch -> {
                  if (!guard.admit(ch, local)) {
                    return;
                  }
                  ch.pipeline()
                      .addLast(new HttpServerCodec())
                      .addLast(new BodyLimitHandler(routes))
                      // BodyLimitHandler enforces each route's limit; this bound only keeps an
                      // int size.
                      .addLast(new HttpObjectAggregator(Integer.MAX_VALUE))
                      .addLast(new ChunkedWriteHandler())
                      .addLast(blocking, new HttpHandler(routes, token, local, apiRemote, stats));
                }));
    Channel ch = b.bind(at).sync().channel();
    channels.add(ch);
    return ch;
  }

  /** The bound port. */
  public int port() {
    return port;
  }

  public HttpStats stats() {
    return stats;
  }

  /** Connections open now. */
  public int openConnections() {
    return guard.open();
  }

  @Override
  public void close() {
    for (Channel ch : channels) {
      ch.close().syncUninterruptibly();
    }
    blocking.shutdownGracefully(0, 2, TimeUnit.SECONDS);
  }
}

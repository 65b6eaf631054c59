package org.clonecast.server.http;

import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import java.net.InetAddress;
import org.clonecast.server.limit.Slots;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the HTTP server's connections (docs/security.md): at most {@link HttpServer.Limits#max} at
 * once and {@link HttpServer.Limits#maxPerClient} from one address, refused at accept before any
 * codec is set up (closed with a reset, so no TIME_WAIT is left behind); and a connection on which
 * no byte moved either way for {@link HttpServer.Limits#idleTimeout} is closed. A download in
 * progress is not idle: output progress counts, so a large netboot image over a slow link goes on.
 * Connections to the loopback listener (the operator's) may pass the overall cap, never their own
 * per-address one, so a flood on the provisioning side never locks the operator out.
 *
 * <p>Thread-safe: one guard serves every listener of a server.
 */
final class ConnectionGuard {
  private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);

  private final HttpServer.Limits limits;
  private final Slots<InetAddress> slots;
  private final HttpStats stats;

  ConnectionGuard(HttpServer.Limits limits, HttpStats stats) {
    this.limits = limits;
    this.slots = new Slots<>(limits.max(), limits.maxPerClient());
    this.stats = stats;
  }

  /**
   * Admits a new connection, adding the idle handlers to its pipeline, or closes it at once.
   *
   * @param local whether it came to the loopback listener
   * @return whether it was admitted (set up the rest of the pipeline only then)
   */
  boolean admit(SocketChannel ch, boolean local) {
    InetAddress peer = ch.remoteAddress().getAddress();
    Slots.Result r = slots.take(peer, local);
    if (r != Slots.Result.TAKEN) {
      (r == Slots.Result.FULL ? stats.refusedFull : stats.refusedClient).increment();
      LOG.debug(
          "http: connection from {} refused: {}",
          peer.getHostAddress(),
          r == Slots.Result.FULL
              ? limits.max() + " connections open (http.max-connections)"
              : limits.maxPerClient()
                  + " connections open from that address (http.max-connections-per-client)");
      ch.config().setOption(ChannelOption.SO_LINGER, 0);
      ch.close();
      return false;
    }
    ch.closeFuture().addListener(f -> slots.release(peer));
    ch.pipeline().addLast(new IdleTimeout(limits.idleTimeout().toNanos(), stats));
    return true;
  }

  /** Connections open now. */
  int open() {
    return slots.held();
  }
}

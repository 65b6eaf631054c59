package org.clonecast.server.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The daemon's HTTP server: iPXE scripts, boot files and the netboot environment for nodes on the
 * provisioning interface; the API, dashboard and metrics on loopback, and on the provisioning
 * interface too only when {@code apiRemote}.
 *
 * @param port TCP port on the provisioning address and on 127.0.0.1 (0 picks one, for tests)
 * @param apiRemote whether the API, dashboard and metrics also answer on the provisioning address
 * @param idleTimeout a connection with no byte moving either way this long is closed (a download in
 *     progress is not idle; the dashboard's event stream sends a comment every 15 s)
 * @param maxConnections connections open at once; more are refused at accept (loopback, the
 *     operator, may exceed it)
 * @param maxConnectionsPerClient connections open at once from one address; more are refused
 * @param registerHold the longest a waiting node's registration is held open (a long poll: answered
 *     as soon as a session that includes the node starts); zero: answered at once, the agent asks
 *     again every second
 * @param maxHeldRegistrations registrations held open at once; past it a node is answered at once
 */
public record HttpConfig(
    int port,
    boolean apiRemote,
    Duration idleTimeout,
    int maxConnections,
    int maxConnectionsPerClient,
    Duration registerHold,
    int maxHeldRegistrations) {
  public static final int DEFAULT_PORT = 8080;
  public static final int DEFAULT_IDLE_SECONDS = 60;
  public static final int DEFAULT_MAX_CONNECTIONS = 4096;
  public static final int DEFAULT_MAX_PER_CLIENT = 64;
  public static final int DEFAULT_REGISTER_HOLD_SECONDS = 25;
  public static final int DEFAULT_MAX_HELD_REGISTRATIONS = 1024;

  public HttpConfig {
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    Objects.requireNonNull(registerHold, "registerHold");
    if (registerHold.isNegative() || registerHold.compareTo(Duration.ofSeconds(300)) > 0) {
      throw new ConfigException(
          "http.register-hold " + registerHold.toSeconds() + " is out of range; use 0-300 s");
    }
    if (maxHeldRegistrations < 0) {
      throw new ConfigException(
          "http.max-held-registrations " + maxHeldRegistrations + " must be 0 or more");
    }
    if (port < 0 || port > 65535) {
      throw new ConfigException("http.port " + port + " is out of range; use 1-65535");
    }
    if (idleTimeout.compareTo(Duration.ofSeconds(20)) < 0) {
      // Below the event stream's 15 s keep-alive comment, every dashboard would be cut off.
      throw new ConfigException(
          "http.idle-timeout " + idleTimeout.toSeconds() + " is too short; use 20 s or more");
    }
    if (maxConnections < 1 || maxConnectionsPerClient < 1) {
      throw new ConfigException(
          "http.max-connections "
              + maxConnections
              + " and http.max-connections-per-client "
              + maxConnectionsPerClient
              + " must be at least 1");
    }
  }

  static HttpConfig from(ConfigFile f) {
    return new HttpConfig(
        f.integer("http.port", DEFAULT_PORT, 0, 65535),
        f.bool("http.api-remote", false),
        Duration.ofSeconds(f.integer("http.idle-timeout", DEFAULT_IDLE_SECONDS, 20, 86_400)),
        f.integer("http.max-connections", DEFAULT_MAX_CONNECTIONS, 1, 1_000_000),
        f.integer("http.max-connections-per-client", DEFAULT_MAX_PER_CLIENT, 1, 1_000_000),
        Duration.ofSeconds(f.integer("http.register-hold", DEFAULT_REGISTER_HOLD_SECONDS, 0, 300)),
        f.integer("http.max-held-registrations", DEFAULT_MAX_HELD_REGISTRATIONS, 0, 1_000_000));
  }
}

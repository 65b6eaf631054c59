package org.clonecast.server;

import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.boot.BootFileSelector;
import org.clonecast.server.boot.BootPolicy;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.config.ServeConfig;
import org.clonecast.server.dhcp.DhcpResponder;
import org.clonecast.server.dhcp.DhcpServer;
import org.clonecast.server.dhcp.DhcpStats;
import org.clonecast.server.dhcp.LeaseStore;
import org.clonecast.server.http.ApiToken;
import org.clonecast.server.http.BootRoutes;
import org.clonecast.server.http.EventRoutes;
import org.clonecast.server.http.HttpServer;
import org.clonecast.server.http.NodeRoutes;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code clonecast serve}: the head node's daemon. Opens the state, then starts each service on
 * the provisioning interface; {@link #close()} stops them in reverse order. A service that fails
 * to start stops the ones already running and the error names the cause.
 *
 * <p>Thread-safe after {@link #start}.
 */
public final class Daemon implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  private final ServeConfig config;
  private final Deque<AutoCloseable> running = new ArrayDeque<>();
  private NetInterface nif;
  private Database db;
  private NodeStore nodes;
  private EventLog events;
  private EventLoopGroup group;
  private HttpServer http;
  private DhcpServer dhcp;
  private final DhcpStats dhcpStats = new DhcpStats();

  private Daemon(ServeConfig config) {
    this.config = config;
  }

  /**
   * Starts every configured service.
   *
   * @throws IllegalStateException (or a more precise exception) naming what failed to start
   */
  public static Daemon start(ServeConfig config, Clock clock) throws IOException, InterruptedException {
    Daemon d = new Daemon(config);
    try {
      d.startServices(clock);
      return d;
    } catch (IOException | InterruptedException | RuntimeException e) {
      d.close();
      throw e;
    }
  }

  private void startServices(Clock clock) throws IOException, InterruptedException {
    nif = NetInterface.byName(config.interfaceName());
    db = Database.open(config.stateDir());
    running.push(db);
    nodes = new NodeStore(db, clock);
    events = new EventLog(db, clock);
    ApiToken token = ApiToken.loadOrCreate(config.stateDir());
    group = Transport.group(2, "serve");
    running.push(() -> group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly());

    BootPolicy policy = new BootPolicy(nodes, config.boot().kernelArgs());
    HttpServer.Routes routes = new HttpServer.Routes();
    String host = nif.address().getHostAddress();
    // With port 0 (tests) the port is known only after binding; boot scripts read it then.
    new BootRoutes(policy, nodes, events, config.boot().ipxeDir(), bootenvDir(),
        () -> "http://" + host + ":" + http.port()).register(routes);
    new NodeRoutes(nodes, events, ip -> DhcpResponder.reservationProblem(config.dhcp(), nif.address(), nif.prefixLength(), ip))
        .register(routes);
    new EventRoutes(events).register(routes);
    http = HttpServer.start(group, nif.address(), config.http().port(), config.http().apiRemote(), token, routes);
    running.push(http);
    startDhcp(clock, policy);
    events.record("daemon", Optional.empty(), Optional.empty(),
        "serving on " + nif.name() + " (" + host + "), http://" + host + ":" + http.port());
    LOG.info("daemon: state in {}", config.stateDir());
  }

  private void startDhcp(Clock clock, BootPolicy policy) throws InterruptedException {
    if (config.dhcp().mode() == DhcpConfig.Mode.OFF) {
      LOG.info("dhcp: off");
      return;
    }
    LeaseStore leases = new LeaseStore(db);
    BootFileSelector boot = new BootFileSelector(config.boot(), nif.address(), http::port);
    DhcpResponder responder = new DhcpResponder(config.dhcp(), nif.address(), nif.prefixLength(), boot, policy, nodes,
        leases.loadAll());
    // The wildcard address: broadcast DISCOVERs arrive only there; SO_BINDTODEVICE keeps it to the interface.
    dhcp = DhcpServer.start(config.dhcp(), nif.name(), Ipv4.fromInt(0), responder, dhcpStats, db, events, clock);
    running.push(dhcp);
  }

  /** The DHCP responder's counters (all zero when it is off). */
  public DhcpStats dhcpStats() {
    return dhcpStats;
  }

  /** Where the current netboot environment's files are served from. */
  public Path bootenvDir() {
    return config.stateDir().resolve("bootenv").resolve("current");
  }

  public NodeStore nodes() {
    return nodes;
  }

  public EventLog events() {
    return events;
  }

  public NetInterface nif() {
    return nif;
  }

  /** The HTTP port actually bound. */
  public int httpPort() {
    return http.port();
  }

  @Override
  public void close() {
    while (!running.isEmpty()) {
      AutoCloseable c = running.pop();
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("daemon: stopping {} failed", c, e);
      }
    }
  }
}

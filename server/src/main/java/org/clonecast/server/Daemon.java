package org.clonecast.server;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.common.trust.KeyRing;
import org.clonecast.protocol.igmp.QuerierElection;
import org.clonecast.protocol.tftp.TftpTransfer;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.boot.BootFileSelector;
import org.clonecast.server.boot.BootPolicy;
import org.clonecast.server.boot.BootScripts;
import org.clonecast.server.boot.BootenvAutoBuild;
import org.clonecast.server.boot.BootenvInstaller;
import org.clonecast.server.boot.LocalBootLoader;
import org.clonecast.server.boot.NodeBinding;
import org.clonecast.server.boot.RouterAdvertiser;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.config.NodesConfig;
import org.clonecast.server.config.ServeConfig;
import org.clonecast.server.config.TftpConfig;
import org.clonecast.server.dhcp.DhcpResponder;
import org.clonecast.server.dhcp.DhcpServer;
import org.clonecast.server.dhcp.DhcpStats;
import org.clonecast.server.dhcp.LeaseExpiry;
import org.clonecast.server.dhcp.LeaseStore;
import org.clonecast.server.dns.ClusterDns;
import org.clonecast.server.dns.DnsUpdater;
import org.clonecast.server.http.AgentRoutes;
import org.clonecast.server.http.ApiToken;
import org.clonecast.server.http.BootRoutes;
import org.clonecast.server.http.CaptureRoutes;
import org.clonecast.server.http.ConsoleLogin;
import org.clonecast.server.http.DaemonRoutes;
import org.clonecast.server.http.DashboardRoutes;
import org.clonecast.server.http.EventRoutes;
import org.clonecast.server.http.HttpServer;
import org.clonecast.server.http.ImageRoutes;
import org.clonecast.server.http.LiveFeed;
import org.clonecast.server.http.NodeAuth;
import org.clonecast.server.http.NodeRoutes;
import org.clonecast.server.http.PeerRoutes;
import org.clonecast.server.http.Reply;
import org.clonecast.server.http.SessionRoutes;
import org.clonecast.server.http.UnicastRoutes;
import org.clonecast.server.limit.RateLimiter;
import org.clonecast.server.mcast.IgmpQuerier;
import org.clonecast.server.metrics.DaemonMetrics;
import org.clonecast.server.metrics.Metrics;
import org.clonecast.server.replicate.ImageReplicator;
import org.clonecast.server.session.NodeWaiters;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.CaptureStore;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.clonecast.server.tftp.IpxeLoaders;
import org.clonecast.server.tftp.SecureBootFiles;
import org.clonecast.server.tftp.TftpOverlay;
import org.clonecast.server.tftp.TftpServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code clonecast serve}: the head node's daemon. Opens the state, then starts each service on the
 * provisioning interface; {@link #close()} stops them in reverse order. A service that fails to
 * start stops the ones already running and the error names the cause.
 *
 * <p>Thread-safe after {@link #start}.
 */
public final class Daemon implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  /** The file in the state directory that holds the secret this daemon presents to the others. */
  public static final String PEER_SECRET_FILE = "peer-secret";

  private final ServeConfig config;
  private final Deque<AutoCloseable> running = new ArrayDeque<>();
  private final Metrics metrics = new Metrics();
  private ExecutorService imageWorker;
  private SessionManager sessions;
  private NetInterface nif;
  private Database db;
  private NodeStore nodes;
  private EventLog events;
  private EventLoopGroup group;
  private HttpServer http;
  private ClusterDns dns;
  private TftpServer tftp;
  private BootScripts bootScripts;
  private DhcpServer dhcp;
  private DaemonRegistry registry;
  private DhcpResponder dhcpResponder;
  private DhcpResponder.Balance dhcpBalance = DhcpResponder.Balance.ALONE;
  private ImageReplicator replicator;
  private PeerRoutes peerRoutes;
  private final DhcpStats dhcpStats = new DhcpStats();

  private Daemon(ServeConfig config) {
    this.config = config;
  }

  /**
   * Starts every configured service.
   *
   * @throws IllegalStateException (or a more precise exception) naming what failed to start
   */
  public static Daemon start(ServeConfig config, Clock clock)
      throws IOException, InterruptedException {
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
    db = Database.open(config.stateDir(), config.store());
    running.push(db);
    nodes = new NodeStore(db, clock, config.nodes().maxDiscovered());
    events = new EventLog(db, clock);
    ApiToken token = ApiToken.loadOrCreate(config.stateDir());
    group = Transport.group(2, "serve");
    running.push(() -> group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly());

    ExecutorService bootenvWorker =
        Executors.newSingleThreadExecutor(DaemonThreads.named("bootenv-build"));
    running.push(bootenvWorker::shutdownNow);
    BootenvAutoBuild bootenv =
        new BootenvAutoBuild(
            config.stateDir(),
            BootenvInstaller.installed(),
            bootenvWorker,
            line -> events.record("bootenv", Optional.empty(), Optional.empty(), line));
    List<String> noLoader = new ArrayList<>();
    Path localDir = config.stateDir().resolve("boot");
    boolean efiLocal = LocalBootLoader.ensure(localDir, noLoader).isPresent();
    noLoader.forEach(w -> LOG.warn("boot: no EFI local-boot loader: {}", w));
    BootPolicy policy = new BootPolicy(nodes, config.boot().kernelArgs(), efiLocal);
    HttpServer.Routes routes = new HttpServer.Routes();
    String host = nif.address().getHostAddress();
    // With port 0 (tests) the port is known only after binding; boot scripts read it then.
    double perClient = config.nodes().seenPerClientPerMinute();
    RateLimiter<InetAddress> seen =
        new RateLimiter<>(
            new RateLimiter.Limits(
                perClient / 60,
                perClient,
                NodesConfig.SEEN_PER_SECOND,
                NodesConfig.SEEN_PER_SECOND * 60.0,
                4096),
            System::nanoTime);
    NodeSecrets secrets = new NodeSecrets(db, clock);
    NodeAuth nodeAuth = new NodeAuth(secrets);
    NodeBinding binding =
        new NodeBinding(
            config.dhcp().mode(),
            nodes,
            config.dhcp().mode() == DhcpConfig.Mode.FULL
                ? Optional.of(new LeaseStore(db))
                : Optional.empty(),
            clock);
    bootScripts =
        new BootScripts(
            policy,
            nodes,
            events,
            () -> "http://" + host + ":" + http.port(),
            bootenv::status,
            seen,
            binding,
            secrets);
    new BootRoutes(bootScripts, config.boot().ipxeDir(), bootenvDir())
        .localLoaderDir(localDir)
        .register(routes);
    new NodeRoutes(
            nodes,
            events,
            ip ->
                DhcpResponder.reservationProblem(
                    config.dhcp(), nif.address(), nif.prefixLength(), ip))
        .register(routes);
    imageWorker = Executors.newSingleThreadExecutor(DaemonThreads.named("image-add"));
    running.push(imageWorker::shutdownNow);
    KeyRing imageKeys = new KeyRing(config.stateDir());
    LOG.info(
        "daemon: images signed with key {}{}",
        imageKeys.current().fingerprint(),
        imageKeys
            .previous()
            .map(p -> "; previous key " + p.fingerprint() + " kept for the rotation's overlap")
            .orElse(""));
    ImageStore images =
        new ImageStore(
            db,
            config.stateDir().resolve("images"),
            clock,
            events,
            imageWorker,
            Optional.of(imageKeys));
    images.recover();
    NodeWaiters waiters =
        new NodeWaiters(config.http().registerHold(), config.http().maxHeldRegistrations());
    sessions =
        new SessionManager(
                new SessionStore(db, clock),
                nodes,
                images,
                events,
                nif,
                config.session().basePort(),
                config.session().receiverTimeout(),
                config.session().receiverDeadline())
            .joinProofs(secrets)
            .waking(waiters)
            .checkGrace(config.session().checkGrace());
    sessions.recover();
    running.push(sessions);
    SessionStore sessionStore = sessions.store();
    CaptureManager captures =
        new CaptureManager(new CaptureStore(db, clock), images, nodes, sessionStore, events)
            .waking(waiters);
    captures.recover();
    running.push(captures);
    registry =
        new DaemonRegistry(db, clock, ApiToken.secretFile(config.stateDir(), PEER_SECRET_FILE));
    LiveFeed feed =
        new LiveFeed(nodes, images, sessions, captures, events, clock, Duration.ofMillis(500))
            .daemons(registry)
            .start();
    running.push(feed);
    new EventRoutes(events, feed).register(routes);
    ExecutorService replicateWorker =
        Executors.newFixedThreadPool(2, DaemonThreads.numbered("image-replicate-"));
    running.push(replicateWorker::shutdownNow);
    replicator =
        new ImageReplicator(
            images, registry, events, clock, replicateWorker, ImageReplicator.Settings.DEFAULT);
    new ImageRoutes(images, captures, Optional.of(replicator)).register(routes);
    peerRoutes = new PeerRoutes(images, registry);
    peerRoutes.register(routes);
    new CaptureRoutes(captures, nodeAuth).register(routes);
    boolean pxe = config.dhcp().mode() != DhcpConfig.Mode.OFF;
    // Only a daemon that answers PXE has nodes that netboot; with DHCP off the agents run
    // elsewhere.
    new SessionRoutes(
            sessions,
            id -> {
              if (pxe && config.session().bootenvAutoBuild()) bootenv.ensure(id);
            },
            feed)
        .register(routes);
    new DashboardRoutes(feed).register(routes);
    new DaemonRoutes(registry, clock).register(routes);
    if (db.shared()) {
      // Sessions span the daemons: a node is served by the daemon its agent calls, and a dead
      // daemon's nodes go to a partner on its segment (docs/scale.md). A daemon's part of a
      // session sends the image from its own store: fetched ahead while a session is active, and
      // waited for (within the agent's registration) when its part starts.
      ImageReplicator fetch = replicator;
      sessions.spanDaemons(
          registry,
          new SessionManager.LocalImages() {
            @Override
            public void ensureLocal(String name) throws IOException, InterruptedException {
              fetch.ensureLocal(name, SessionManager.IMAGE_WAIT);
            }

            @Override
            public void ahead(String name) {
              fetch.replicate(name, Optional.empty());
            }
          });
      DaemonRegistry daemons = registry;
      bootScripts.partners(
          () -> daemons.partners().stream().map(DaemonRegistry.Member::url).toList());
    }
    new ConsoleLogin(token, events, clock).register(routes);
    new AgentRoutes(
            sessions,
            captures,
            nodes,
            config.dns().enabled() ? Optional.of(config.dns().zone()) : Optional.empty(),
            config.stateDir().resolve("node-files"),
            nodeAuth)
        .register(routes);
    UnicastRoutes unicast =
        new UnicastRoutes(
            sessions, nodeAuth, config.session().unicastRate(), config.session().unicastStreams());
    unicast.register(routes);
    routes.api(
        "/metrics",
        r ->
            r.method().equals(HttpMethod.GET)
                ? new Reply.Bytes(
                    HttpResponseStatus.OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    metrics.render().getBytes(StandardCharsets.UTF_8),
                    Map.of())
                : Reply.error(
                    HttpResponseStatus.METHOD_NOT_ALLOWED, "metrics are read-only; use GET"));
    http =
        HttpServer.start(
            group,
            nif.address(),
            config.http().port(),
            config.http().apiRemote(),
            token,
            routes,
            new HttpServer.Limits(
                config.http().idleTimeout(),
                config.http().maxConnections(),
                config.http().maxConnectionsPerClient()));
    running.push(http);
    DaemonMetrics.http(metrics, http.stats(), http::openConnections);
    DaemonMetrics.nodes(metrics, nodes);
    metrics
        .gauge(
            "clonecast_http_streams",
            "Server-sent event streams open now.",
            () -> feed.stats().streams())
        .counter(
            "clonecast_http_streams_dropped_total",
            "Event streams closed because their client left 1 MiB unread.",
            () -> feed.stats().dropped())
        .counter(
            "clonecast_http_stream_sent_bytes_total",
            "Bytes written to event streams.",
            () -> feed.stats().bytesWritten())
        .counter(
            "clonecast_http_stream_cpu_seconds_total",
            "CPU time of the thread that feeds every event stream.",
            () -> feed.stats().cpuNanos() / 1e9);
    metrics.counter(
        "clonecast_http_boot_scripts_unrecorded_total",
        "iPXE script requests served without a trace (nodes.seen-per-client-per-minute reached).",
        seen::refused);
    DaemonMetrics.sessions(metrics, sessions);
    DaemonMetrics.unicast(metrics, unicast);
    DaemonMetrics.peers(metrics, peerRoutes);
    if (config.boot().routerAdvert()) {
      RouterAdvertiser.start(nif)
          .ifPresent(
              ra -> {
                running.push(ra);
                DaemonMetrics.routerAdverts(metrics, ra);
              });
    }
    if (config.session().igmpQuerier() != QuerierElection.Mode.OFF) {
      IgmpQuerier.start(
              nif,
              config.session().igmpQuerier(),
              config.session().igmpQueryInterval(),
              line -> events.record("igmp", Optional.empty(), Optional.empty(), line))
          .ifPresent(
              q -> {
                running.push(q);
                metrics
                    .gauge(
                        "clonecast_igmp_querier",
                        "1 while the daemon is the IGMP querier on its interface, 0 while it stands down.",
                        () -> q.querier() ? 1 : 0)
                    .counter(
                        "clonecast_igmp_queries_sent_total",
                        "IGMP General Queries sent.",
                        q::queriesSent)
                    .counter(
                        "clonecast_igmp_queries_heard_total",
                        "IGMP General Queries heard from other queriers.",
                        q::queriesHeard)
                    .counter(
                        "clonecast_igmp_stand_downs_total",
                        "Times the daemon stopped querying for a querier with a lower address.",
                        q::standDowns)
                    .counter(
                        "clonecast_igmp_malformed_total",
                        "IGMP packets dropped as malformed.",
                        q::malformed);
              });
    }
    if (config.dns().enabled() || config.dns().update().isPresent()) {
      // The SOA serial starts at the start time, so a restarted daemon's serials still go up.
      dns =
          ClusterDns.start(
              config.dns(),
              group,
              nodes,
              nif.address(),
              nif.prefixLength(),
              clock.millis() / 1000,
              failure -> events.record("dns", Optional.empty(), Optional.empty(), failure));
      running.push(dns);
      DaemonMetrics.dns(metrics, dns.stats());
    }
    if (config.tftp().enabled()) {
      startTftp();
    }
    startDhcp(clock, policy);
    startHeartbeat(host);
    if (config.replicateImages() && db.shared()) {
      // Once, now that this daemon is announced; images added later come by 'image replicate' or
      // when a session needs them.
      replicator.replicateAll();
    }
    events.record(
        "daemon",
        Optional.empty(),
        Optional.empty(),
        "serving on "
            + nif.name()
            + " ("
            + host
            + "), http://"
            + host
            + ":"
            + http.port()
            + (dns == null || !dns.answering()
                ? ""
                : ", dns " + config.dns().zone() + " on port " + dns.port()));
    LOG.info("daemon: state in {}, store {}", config.stateDir(), db.where());
  }

  /**
   * Announces this daemon in the store's {@link DaemonRegistry} and renews its heartbeat every
   * {@link DaemonRegistry#BEAT} (on a shared store) until {@link #close}, which marks the clean
   * stop. A beat the store refuses is logged and tried again at the next: the others see this
   * daemon dead only after {@link DaemonRegistry#DEAD_AFTER} without one.
   */
  private void startHeartbeat(String host) {
    boolean dhcpFull = config.dhcp().mode() == DhcpConfig.Mode.FULL;
    String url = "http://" + host + ":" + http.port();
    registry.announce(url, nif.address(), nif.prefixLength(), dhcpFull);
    if (!db.shared()) {
      // The one daemon of a SQLite store: nobody reads its heartbeat, so no write every 2 s.
      running.push(registry::stopped);
      return;
    }
    ScheduledExecutorService beats =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("daemon-heartbeat"));
    balanceDhcp();
    long every = DaemonRegistry.BEAT.toMillis();
    beats.scheduleWithFixedDelay(
        () -> {
          try {
            if (!registry.beat()) {
              registry.announce(url, nif.address(), nif.prefixLength(), dhcpFull);
            }
            balanceDhcp();
          } catch (RuntimeException e) {
            LOG.warn("daemon: heartbeat not stored: {}", e.toString());
          }
        },
        every,
        every,
        TimeUnit.MILLISECONDS);
    running.push(
        () -> {
          beats.shutdownNow();
          beats.awaitTermination(5, TimeUnit.SECONDS);
          registry.stopped();
        });
  }

  /**
   * Fetches images from the other daemons sharing the store: {@link ImageReplicator#ensureLocal}
   * before a session part sends an image this daemon may lack.
   */
  public ImageReplicator replicator() {
    return replicator;
  }

  /**
   * Shares the segment's DHCP clients with the other running daemons that serve it in full mode
   * (RFC 3074 load balancing): two daemons answering every DISCOVER from tables that learn each
   * other's leases only every 2 s offer colliding addresses, and the store's refusal NAKs the
   * client. A daemon that dies drops out of the count within {@link DaemonRegistry#DEAD_AFTER} plus
   * a beat, and its clients' retries after {@link DhcpResponder.Balance#SECS_ANYONE} are answered
   * by all meanwhile.
   */
  private void balanceDhcp() {
    if (dhcpResponder == null) {
      return;
    }
    int[] place = registry.dhcpPlace();
    DhcpResponder.Balance b = new DhcpResponder.Balance(place[0], place[1]);
    if (!b.equals(dhcpBalance)) {
      LOG.info(
          "dhcp: {} daemon(s) answer DHCP on this segment; this one the DISCOVERs of buckets"
              + " b with b mod {} = {}",
          b.of(),
          b.of(),
          b.index());
      dhcpBalance = b;
    }
    dhcpResponder.balance(b);
  }

  /** This daemon's place among the daemons sharing its store. */
  public DaemonRegistry registry() {
    return registry;
  }

  private void startTftp() throws IOException, InterruptedException {
    TftpConfig c = config.tftp();
    Files.createDirectories(c.root());
    IpxeLoaders.sync(config.boot().ipxeDir(), c.root());
    TftpOverlay overlay = TftpOverlay.NONE;
    if (config.boot().secureBoot().any()) {
      String host = nif.address().getHostAddress();
      SecureBootFiles.sync(c.root(), host)
          .forEach(
              w ->
                  LOG.warn(
                      "boot: Secure Boot nodes ({}) cannot boot: {}",
                      config.boot().secureBoot(),
                      w));
      overlay =
          new SecureBootFiles(
              bootScripts,
              bootenvDir(),
              config.stateDir().resolve("boot").resolve("tftp-scratch"),
              host);
    }
    TftpTransfer.Settings transfer =
        new TftpTransfer.Settings(
            c.maxBlksizeFor(nif.mtu()),
            c.maxWindowsize(),
            TftpConfig.RETRANSMIT_TIMEOUT,
            TftpConfig.MAX_RETRIES);
    tftp =
        TftpServer.start(
            group,
            nif.address(),
            new TftpServer.Settings(
                c.port(), c.root(), transfer, c.maxTransfers(), c.maxPerClient()),
            overlay);
    running.push(tftp);
    DaemonMetrics.tftp(metrics, tftp.stats());
  }

  /** The TFTP server, or null when tftp.enabled is false. */
  public TftpServer tftp() {
    return tftp;
  }

  private void startDhcp(Clock clock, BootPolicy policy) throws InterruptedException {
    if (config.dhcp().mode() == DhcpConfig.Mode.OFF) {
      LOG.info("dhcp: off");
      return;
    }
    LeaseStore leases = new LeaseStore(db);
    BootFileSelector boot = new BootFileSelector(config.boot(), nif.address(), http::port);
    DhcpConfig dc = config.dhcp();
    if (dns != null && dns.answering()) {
      // Nodes resolve each other through the cluster DNS: option 6 = this server, 15 = its zone.
      dc = dc.withClusterDns(nif.address(), config.dns().zone());
    }
    DhcpResponder responder =
        new DhcpResponder(dc, nif.address(), nif.prefixLength(), boot, leases.loadAll());
    dhcpResponder = responder;
    // The wildcard address: broadcast DISCOVERs arrive only there; SO_BINDTODEVICE keeps it to the
    // interface.
    dhcp =
        DhcpServer.start(
            dc, nif.name(), Ipv4.fromInt(0), responder, dhcpStats, db, events, nodes, clock);
    running.push(dhcp);
    DaemonMetrics.dhcp(metrics, dhcpStats, leases, clock);
    if (dns != null && dns.updater().isPresent()) {
      // A lease that ends takes its records off the site's DNS (one that starts is the inventory's
      // address change, which the updater already follows).
      DnsUpdater updater = dns.updater().get();
      LeaseExpiry expiry = new LeaseExpiry(leases, nodes, clock, updater::leaseEnded);
      ScheduledExecutorService sweeper =
          Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("lease-expiry"));
      sweeper.scheduleWithFixedDelay(
          () -> {
            try {
              expiry.sweep();
            } catch (RuntimeException e) {
              LOG.warn("dhcp: checking for ended leases failed: {}", e.toString());
            }
          },
          0,
          10,
          TimeUnit.SECONDS);
      running.push(sweeper::shutdownNow);
    }
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

  /** The cluster DNS, when it answers (dns.enabled) or sends updates (dns.update.server). */
  public Optional<ClusterDns> dns() {
    return Optional.ofNullable(dns);
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

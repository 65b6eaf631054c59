package org.clonecast.server.session;

import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.function.ToLongFunction;
import org.clonecast.common.api.Disk;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.StoredLayout;
import org.clonecast.common.net.NetInterface;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.mcast.ControlMessage;
import org.clonecast.protocol.mcast.McastAuth;
import org.clonecast.protocol.mcast.SenderMachine;
import org.clonecast.protocol.mcast.SymbolLayout;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.mcast.McastSender;
import org.clonecast.server.mcast.SendSettings;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.ConflictException;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeState;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.NotFoundException;
import org.clonecast.server.store.SessionStore;
import org.clonecast.server.store.SessionStore.Member;
import org.clonecast.server.store.SessionStore.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs re-imaging sessions: marks the selected nodes, multicasts the image with a {@link
 * McastSender} while their agents register, receive and report, and ends the session when every
 * node has a result. A node that reports success is flipped to boot its local disk; one that fails
 * keeps its reason (and boots locally until a new session retries it). A node that never joins, or
 * stops answering mid-transfer, is failed with that reason and the session still ends.
 *
 * <p>Agents' progress ticks live in memory ({@link LiveProgress}); the database records each node's
 * phase changes, and {@link #members} and {@link #list} show the live bytes. Listeners ({@link
 * #onProgress}) hear every tick, so pages are pushed progress instead of polling for it.
 *
 * <p>Thread-safe: state lives in the database; per-session runtime objects in a concurrent map.
 */
public final class SessionManager implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SessionManager.class);

  /** How long agents get to write identity and report after the transfer ended. */
  static final Duration REPORT_GRACE = Duration.ofSeconds(180);

  /** What an agent is told to do when it registers. */
  public record Assignment(
      String action,
      Optional<String> reason,
      long session,
      String hostname,
      Image image,
      String control,
      int port,
      String target,
      boolean grow) {}

  private final SessionStore store;
  private final NodeStore nodes;
  private final ImageStore images;
  private final EventLog events;
  private final NetInterface nif;
  private final int basePort;
  private final Duration receiverTimeout;
  private final Optional<Duration> receiverDeadline;
  private final Map<Long, Running> running = new ConcurrentHashMap<>();
  private final LiveProgress live = new LiveProgress();

  /** How often the same "nothing to do" of one node is recorded. */
  private static final long IDLE_EVENT_NANOS = 60_000_000_000L;

  /** Per MAC: when ("nanoTime reason") its last "nothing to do" was recorded. */
  private final Map<String, String> idleSaid = new ConcurrentHashMap<>();

  private final List<LongConsumer> progressListeners = new CopyOnWriteArrayList<>();

  /** What sessions that ended sent, for the metrics' running totals. */
  private final AtomicLong endedBytes = new AtomicLong();

  private final AtomicLong endedPackets = new AtomicLong();
  private final AtomicLong endedRepairs = new AtomicLong();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("session-timer"));

  /** Set once at start ({@link #joinProofs}): the nodes' secrets that their HELLOs prove. */
  private volatile Optional<NodeSecrets> secrets = Optional.empty();

  /**
   * Set once at start on a shared store ({@link #spanDaemons}): the daemons whose dead members'
   * nodes this one takes over.
   */
  private volatile Optional<DaemonRegistry> registry = Optional.empty();

  /** The sender's check grace ({@link #checkGrace}). */
  private volatile Duration checkGrace = SendSettings.DEFAULT_CHECK_GRACE;

  /** Nodes whose registrations are held until a session includes them ({@link #waking}). */
  private volatile NodeWaiters waiters = new NodeWaiters(Duration.ZERO, 0);

  /** Makes a session's image local before this daemon's part of it sends (chunk replication). */
  private volatile LocalImages localImages = image -> {};

  /** This daemon's id in the store. */
  private final String self;

  /**
   * How this daemon comes to hold an image it is to send: the seam for chunk replication between
   * daemons (docs/scale.md). Without it the image must be in this daemon's own store already.
   */
  @FunctionalInterface
  public interface LocalImages {
    /**
     * Returns once image {@code name}'s chunks and manifest are in this daemon's own image store.
     *
     * @throws IOException naming why they cannot be had
     */
    void ensureLocal(String name) throws IOException, InterruptedException;

    /**
     * Starts making image {@code name} local without waiting: an active session may need it here
     * when one of its agents comes to this daemon.
     */
    default void ahead(String name) {}
  }

  /**
   * How long a daemon's part waits for its image to be made local when an agent registers: within
   * the agent's 15 s call.
   */
  public static final Duration IMAGE_WAIT = Duration.ofSeconds(10);

  /** How often a daemon on a shared store looks at the sessions it takes part in. */
  static final Duration SWEEP = DaemonRegistry.BEAT;

  /**
   * This daemon's part of a session (docs/scale.md, "Sessions across daemons"): its own multicast,
   * on its own segment, for the nodes it serves.
   */
  private static final class Running {
    /** The port of its control channel and data. */
    final int port;

    /** Whether it was started to serve nodes taken over from a dead daemon. */
    final boolean takeover;

    /** System.nanoTime() when the part was made. */
    final long madeNanos = System.nanoTime();

    Running(int port, boolean takeover) {
      this.port = port;
      this.takeover = takeover;
    }

    McastSender sender;
    ChunkSource reader;
    volatile boolean transferEnded;

    /**
     * The image's chunks, once the fallback may serve them, and the part of the image's {@code
     * .cci} layout they fill (the manifest's stored offsets, whether the chunks sit in the store's
     * pool or in one file).
     */
    volatile ChunkSource served;

    /** Where {@link #served}'s chunks sit in that layout. */
    StoredLayout layout;

    /** System.nanoTime() when the multicast transfer started; 0 before. */
    volatile long startedNanos;

    /** Stored bytes served to each node by the unicast fallback, by MAC. */
    final Map<String, AtomicLong> unicastServed = new ConcurrentHashMap<>();
  }

  /** Whether a node may fetch its session's chunks over HTTP now (docs/unicast.md). */
  public sealed interface UnicastAccess {
    /**
     * It may: {@code layout} says where in the image's {@code .cci} layout each stored chunk of
     * {@code source} sits; the transfer has run {@code transferMillis}.
     */
    record Serve(ChunkSource source, StoredLayout layout, long transferMillis)
        implements UnicastAccess {
      /** Where the first stored chunk starts in the layout. */
      public long regionStart() {
        return layout.regionStart();
      }

      /** Where the last stored chunk ends in the layout (nothing stored: 0). */
      public long regionEnd() {
        return layout.regionEnd();
      }
    }

    /** Not yet: the multicast has not started, and a node must try it first. */
    record NotYet(String why) implements UnicastAccess {}

    /** Never for this node: it is no unfinished node of the session (HTTP 403). */
    record Refused(String why) implements UnicastAccess {}
  }

  /** Stored bytes served by the unicast fallback since the daemon started (for /metrics). */
  private final AtomicLong unicastBytes = new AtomicLong();

  public SessionManager(
      SessionStore store,
      NodeStore nodes,
      ImageStore images,
      EventLog events,
      NetInterface nif,
      int basePort,
      Duration receiverTimeout,
      Optional<Duration> receiverDeadline) {
    this.store = Objects.requireNonNull(store);
    this.nodes = Objects.requireNonNull(nodes);
    this.images = Objects.requireNonNull(images);
    this.events = Objects.requireNonNull(events);
    this.nif = Objects.requireNonNull(nif);
    this.basePort = basePort;
    this.receiverTimeout = receiverTimeout;
    this.receiverDeadline = Objects.requireNonNull(receiverDeadline);
    this.self = store.self();
  }

  /**
   * Lets sessions span the daemons sharing the store (docs/scale.md, "Sessions across daemons"):
   * every {@link #SWEEP} this daemon stops its part of a session that ended elsewhere or has no
   * node left for it, and takes over the unfinished nodes of a dead daemon on its segment.
   *
   * @param localImages makes a session's image local before this daemon's part sends it
   * @return this
   */
  public SessionManager spanDaemons(DaemonRegistry daemons, LocalImages localImages) {
    this.registry = Optional.of(daemons);
    this.localImages = Objects.requireNonNull(localImages);
    // A session may start on another daemon sharing the store, which cannot wake the nodes held
    // here: their registrations are asked again every second (as agents once did themselves).
    timer.scheduleWithFixedDelay(() -> waiters.wakeAll(), 1, 1, TimeUnit.SECONDS);
    long every = SWEEP.toMillis();
    timer.scheduleWithFixedDelay(
        () -> {
          try {
            sweep();
          } catch (RuntimeException e) {
            LOG.warn("sessions: sweep failed: {}", e.toString());
          }
        },
        every,
        every,
        TimeUnit.MILLISECONDS);
    return this;
  }

  /**
   * Takes into a session's multicast only receivers that prove they are one of its nodes: a HELLO
   * under the node's name with a proof made with the node's current per-boot secret
   * (docs/protocol.md §3). Without this, anyone on the segment could join under a node's name and,
   * by failing there, fail the node.
   *
   * @return this
   */
  public SessionManager joinProofs(NodeSecrets nodeSecrets) {
    this.secrets = Optional.of(nodeSecrets);
    return this;
  }

  /**
   * Answers the held registrations ({@link NodeWaiters}) of a session's nodes the moment the
   * session starts, so that nodes waiting for it learn of it at once, not at their next ask.
   *
   * @return this
   */
  public SessionManager waking(NodeWaiters nodeWaiters) {
    this.waiters = Objects.requireNonNull(nodeWaiters);
    return this;
  }

  /**
   * How long after a session's first node checked its disk its data starts, once every node joined,
   * without waiting for the others' checks ({@link SendSettings#checkGrace}).
   *
   * @return this
   */
  public SessionManager checkGrace(Duration grace) {
    this.checkGrace = Objects.requireNonNull(grace);
    return this;
  }

  /** The held registrations this manager wakes. */
  public NodeWaiters waiters() {
    return waiters;
  }

  /**
   * After a restart: this daemon's part of a session cannot resume its sender; the unfinished nodes
   * it still serves fail. So do the nodes no daemon took yet of a session it started, unless other
   * daemons still serve some of its nodes. Nodes a partner took over while this daemon was dead are
   * the partner's (docs/scale.md). A session whose every node is then finished ends.
   */
  public void recover() {
    Set<Long> own = store.ownActive();
    String why = "the daemon restarted during the session; start a new session to retry";
    for (Session s : store.active()) {
      List<Member> members = store.members(s.id());
      boolean othersServe =
          members.stream()
              .anyMatch(m -> !m.finished() && m.daemon().isPresent() && !m.servedBy(self));
      int failed = 0;
      for (Member m : members) {
        if (m.finished()) continue;
        if (m.servedBy(self) || m.daemon().isEmpty() && own.contains(s.id()) && !othersServe) {
          if (fail(s.id(), m.mac(), why, true)) failed++;
        }
      }
      if (failed > 0 && store.members(s.id()).stream().allMatch(Member::finished)) {
        end(s.id(), "failed", Optional.of("the daemon restarted during the session"));
      } else {
        maybeEnd(s.id());
      }
    }
  }

  /**
   * Starts a session: marks the nodes and starts multicasting when {@code minReceivers} joined (or
   * {@code maxWait} after the first joined).
   *
   * @param minReceivers 0: every selected node
   * @throws NotFoundException, ConflictException, IllegalArgumentException naming what to fix
   */
  public Session start(
      String imageName, String selector, int minReceivers, Duration maxWait, boolean grow)
      throws IOException, InterruptedException {
    Image image =
        images
            .find(imageName)
            .orElseThrow(
                () ->
                    new NotFoundException(
                        "no image "
                            + imageName
                            + "; add one with 'clonecast image add "
                            + imageName
                            + " FILE'"));
    if (!image.ready()) {
      throw new ConflictException(
          "image "
              + imageName
              + " is "
              + image.state()
              + image.detail().map(d -> " (" + d + ")").orElse("")
              + "; wait until it is ready or add it again");
    }
    List<Node> selected = nodes.select(selector);
    if (selected.isEmpty()) {
      throw new IllegalArgumentException(
          "no enrolled node in '"
              + selector
              + "'; enroll nodes with 'clonecast node add MAC --name N --group "
              + selector
              + "' or use --nodes all");
    }
    for (Node n : selected) {
      if (n.action() == BootAction.CAPTURE) {
        throw new ConflictException(
            n.name().orElse(n.mac().toString())
                + " is marked to be captured ("
                + n.detail().orElse("")
                + "); wait for that or cancel it ('clonecast image capture NAME --cancel')");
      }
      Optional<Session> busy = store.activeFor(n.mac().toString());
      if (busy.isPresent()) {
        throw new ConflictException(
            n.name().orElse(n.mac().toString())
                + " is already in session "
                + busy.get().id()
                + "; cancel it first ('clonecast session cancel "
                + busy.get().id()
                + "')");
      }
    }
    if (minReceivers < 0 || minReceivers > selected.size()) {
      throw new IllegalArgumentException(
          "--min-receivers "
              + minReceivers
              + " is more than the "
              + selected.size()
              + " selected nodes");
    }
    int min = minReceivers == 0 ? selected.size() : minReceivers;
    Session s =
        store.create(imageName, selector, min, (int) maxWait.toSeconds(), basePort, selected, grow);
    try {
      startPart(s, min, false);
    } catch (IOException | InterruptedException | RuntimeException e) {
      store.setState(s.id(), "failed", Optional.of("cannot start: " + e.getMessage()));
      throw e;
    }
    for (Node n : selected) {
      nodes.markForSession(n.mac(), s.id());
    }
    waiters.wake(selected.stream().map(Node::mac).toList());
    events.record(
        "session",
        Optional.empty(),
        Optional.of(Long.toString(s.id())),
        "started: image "
            + imageName
            + " to "
            + selected.size()
            + " node(s) in '"
            + selector
            + "', starts with "
            + min
            + " receiver(s) or "
            + maxWait.toSeconds()
            + " s after the first, port "
            + s.port());
    return store.find(s.id()).orElseThrow();
  }

  /**
   * Starts this daemon's part of session {@code s}: its image made local, a multicast sender on
   * this daemon's interface and its own port ({@code basePort + id % 500}: two daemons on one
   * segment send to different groups, each derived from its own address), starting with {@code min}
   * receivers or the session's max wait after the first.
   */
  private Running startPart(Session s, int min, boolean takeover)
      throws IOException, InterruptedException {
    localImages.ensureLocal(s.image());
    Running r = new Running(basePort + (int) (s.id() % 500), takeover);
    try {
      r.reader = images.open(s.image());
      r.layout = StoredLayout.of(r.reader.manifest());
      r.served = r.reader;
      SendSettings settings =
          new SendSettings(
              nif.name(),
              null,
              r.port,
              10_000_000_000L,
              Math.max(1, min),
              Duration.ofSeconds(s.maxWaitSeconds()),
              receiverTimeout,
              SymbolLayout.symbolSizeFor(nif.mtu()),
              1,
              true,
              receiverDeadline,
              checkGrace);
      // Signed by the daemon's current key, and its previous one during a rotation's overlap.
      List<ManifestSignature> signatures =
          images.keys().isPresent()
              ? images.keys().get().signatures(r.reader.manifest(), r.reader.signature())
              : List.of();
      r.sender = new McastSender(settings, r.reader, nif, new Listener(s.id(), r), signatures);
      running.put(s.id(), r);
      r.sender.start().whenComplete((m, err) -> transferEnded(s.id(), r, m, err));
    } catch (IOException | InterruptedException | RuntimeException e) {
      running.remove(s.id(), r);
      stop(r);
      throw e;
    }
    return r;
  }

  /**
   * This daemon's running part of session {@code s}, started when there is none, or when the one
   * there finished its transfer (a node that comes later, or one taken over from a dead daemon,
   * needs a sender that still sends).
   */
  private synchronized Running partFor(Session s, boolean takeover)
      throws IOException, InterruptedException {
    Running r = running.get(s.id());
    if (r != null && !r.transferEnded) return r;
    if (r != null && running.remove(s.id(), r)) retire(s.id(), r);
    Running part = startPart(s, partReceivers(s), takeover);
    events.record(
        "session",
        Optional.empty(),
        Optional.of(Long.toString(s.id())),
        "this daemon's part started (daemon "
            + self
            + ", "
            + nif.address().getHostAddress()
            + ":"
            + part.port
            + ")");
    return part;
  }

  /**
   * How many receivers this daemon's part of {@code s} may still expect: its unfinished nodes not
   * past their transfer, and the nodes no daemon serves yet, at most the session's minimum.
   */
  private int partReceivers(Session s) {
    long n =
        store.members(s.id()).stream()
            .filter(m -> !m.finished() && (m.daemon().isEmpty() || m.servedBy(self)))
            .filter(m -> !m.state().equals("identity"))
            .count();
    return (int) Math.max(1, Math.min(n, s.minReceivers()));
  }

  /** Stops a part that is out of {@link #running}, adding what it sent to the session's row. */
  private void retire(long id, Running r) {
    stop(r);
    if (r.sender != null) {
      McastSender.Counters c = r.sender.counters();
      store.addSent(id, c.bytesSent.get(), c.packetsSent.get(), c.repairPacketsSent.get());
    }
  }

  /**
   * On a shared store, every {@link #SWEEP}: stops this daemon's parts of sessions that ended
   * elsewhere or have no node left for it, lowers the receivers the others still wait for, fails
   * the nodes of a takeover part whose agents never came, and takes over the unfinished nodes of
   * every dead daemon on this daemon's segment.
   */
  void sweep() {
    for (Map.Entry<Long, Running> e : List.copyOf(running.entrySet())) {
      long id = e.getKey();
      Running r = e.getValue();
      Optional<Session> s = store.find(id);
      if (s.isEmpty() || !s.get().active()) {
        if (running.remove(id, r)) retire(id, r);
        live.forget(id);
        continue;
      }
      List<Member> mine =
          store.members(id).stream()
              .filter(m -> !m.finished() && (m.daemon().isEmpty() || m.servedBy(self)))
              .toList();
      if (mine.isEmpty()) {
        if (running.remove(id, r)) retire(id, r);
        continue;
      }
      if (r.transferEnded || r.sender == null) continue;
      if (r.takeover
          && r.startedNanos == 0
          && System.nanoTime() - r.madeNanos > REPORT_GRACE.toNanos()) {
        for (Member m : mine) {
          if (m.servedBy(self)) {
            fail(
                id,
                m.mac(),
                "its daemon died and its agent did not come to the partner " + self,
                true);
          }
        }
        if (running.remove(id, r)) retire(id, r);
        maybeEnd(id);
        continue;
      }
      r.sender.lowerMinReceivers(partReceivers(s.get()));
    }
    for (Session s : store.active()) {
      if (!running.containsKey(s.id())) {
        try {
          localImages.ahead(s.image());
        } catch (RuntimeException e) {
          LOG.debug("session {}: image {} not fetched ahead: {}", s.id(), s.image(), e.toString());
        }
      }
    }
    if (registry.isEmpty()) return;
    DaemonRegistry daemons = registry.get();
    Optional<DaemonRegistry.Member> me = daemons.get(self);
    if (me.isEmpty()) return;
    long now = System.currentTimeMillis();
    for (DaemonRegistry.Member d : daemons.list()) {
      if (d.id().equals(self) || d.alive(now) || !d.sameSegment(me.get())) continue;
      takeOver(d);
    }
  }

  /**
   * Takes over the unfinished session nodes of dead (or stopped) daemon {@code d}: only one partner
   * wins each node. This daemon's part of each such session sends to their agents when they come
   * (they register again here and check their disks, so only what they lack is sent).
   */
  private void takeOver(DaemonRegistry.Member d) {
    List<SessionStore.Taken> taken = store.takeOver(d.id());
    Map<Long, List<String>> bySession = new java.util.TreeMap<>();
    for (SessionStore.Taken t : taken) {
      bySession.computeIfAbsent(t.session(), k -> new ArrayList<>()).add(t.name());
    }
    for (Map.Entry<Long, List<String>> e : bySession.entrySet()) {
      long id = e.getKey();
      events.record(
          "session",
          Optional.empty(),
          Optional.of(Long.toString(id)),
          "daemon "
              + self
              + " took over "
              + String.join(", ", e.getValue())
              + " from daemon "
              + d.id()
              + " ("
              + d.url()
              + ", "
              + d.state(System.currentTimeMillis())
              + ")");
      Optional<Session> s = store.find(id);
      if (s.isEmpty() || !s.get().active()) continue;
      try {
        partFor(s.get(), true);
      } catch (IOException | RuntimeException e2) {
        for (SessionStore.Taken t : taken) {
          if (t.session() == id) {
            fail(
                id,
                t.mac(),
                "its daemon died and the partner cannot send: " + e2.getMessage(),
                true);
          }
        }
        maybeEnd(id);
      } catch (InterruptedException e2) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Cancels a session: its sender stops, its unfinished nodes fail and boot locally. */
  public Session cancel(long id) {
    Session s = store.find(id).orElseThrow(() -> new NotFoundException("no session " + id));
    if (!s.active()) {
      throw new ConflictException("session " + id + " already ended (" + s.state() + ")");
    }
    for (Member m : store.members(id)) {
      if (!m.finished()) {
        fail(id, m.mac(), "session cancelled", false);
      }
    }
    end(id, "cancelled", Optional.of("cancelled by the operator"));
    return store.find(id).orElseThrow();
  }

  /**
   * An agent registers: it learns its session, image and target, or that there is nothing to do.
   */
  public Assignment register(MacAddress mac, List<Disk> disks) {
    Node node = nodes.find(mac).orElse(null);
    Optional<Session> s = store.activeFor(mac.toString());
    if (node == null || s.isEmpty()) {
      String why =
          node == null
              ? mac + " is not enrolled"
              : "no session is waiting for " + node.name().orElse(mac.toString());
      // A node waiting for its session (agent --wait-for-session) asks every second: the event
      // log says so once a minute, not on every ask.
      String said = idleSaid.get(mac.toString());
      long now = System.nanoTime();
      if (said == null
          || !said.substring(said.indexOf(' ') + 1).equals(why)
          || now - Long.parseLong(said.substring(0, said.indexOf(' '))) >= IDLE_EVENT_NANOS) {
        idleSaid.put(mac.toString(), now + " " + why);
        events.node("agent", mac.toString(), "registered; nothing to do: " + why);
      }
      return new Assignment("none", Optional.of(why), 0, "", null, "", 0, "", false);
    }
    Session session = s.get();
    Image image = images.find(session.image()).orElseThrow();
    String name = node.name().orElse(mac.toString());
    Optional<String> target = node.targetDisk();
    if (target.isEmpty()) {
      target =
          disks.stream()
              .filter(d -> !d.removable() && d.size() >= image.logicalSize())
              .map(Disk::path)
              .findFirst();
    }
    if (target.isEmpty()) {
      String why =
          "no non-removable disk of at least "
              + image.logicalSize()
              + " bytes (disks: "
              + Disk.describe(disks)
              + ")";
      fail(session.id(), mac.toString(), why, false);
      return new Assignment("fail", Optional.of(why), session.id(), name, image, "", 0, "", false);
    }
    // The daemon the agent calls serves it: its part of the session sends on this segment.
    boolean claimed = store.claim(session.id(), mac.toString());
    Running part;
    try {
      part = partFor(session, false);
    } catch (IOException | RuntimeException e) {
      String why = "daemon " + self + " cannot send image " + image.name() + ": " + e.getMessage();
      fail(session.id(), mac.toString(), why, false);
      maybeEnd(session.id());
      return new Assignment("fail", Optional.of(why), session.id(), name, image, "", 0, "", false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting the session's sender", e);
    }
    store.updateMember(
        session.id(),
        mac.toString(),
        "registered",
        Optional.empty(),
        Optional.of(image.logicalSize()),
        target,
        Optional.empty());
    nodes.setState(mac, NodeState.IMAGING, Optional.of("session " + session.id()));
    events.record(
        "agent",
        Optional.of(mac.toString()),
        Optional.of(Long.toString(session.id())),
        name
            + " registered; writes "
            + target.get()
            + (claimed ? "; served by daemon " + self : ""));
    return new Assignment(
        "reimage",
        Optional.empty(),
        session.id(),
        name,
        image,
        nif.address().getHostAddress() + ":" + part.port,
        part.port,
        target.get(),
        session.grow());
  }

  /**
   * An agent's progress: phase receiving or identity, bytes written so far. Kept in memory; the
   * store records only a new phase (with the bytes at that moment).
   */
  public void progress(
      MacAddress mac, long session, String phase, long done, long total, long unicastBytes) {
    String m = mac.toString();
    Optional<Member> member =
        live.get(session, m).isPresent()
            ? Optional.empty()
            : store.members(session).stream().filter(x -> x.mac().equals(m)).findFirst();
    if (member.isPresent() && member.get().finished()) {
      return; // a late tick from a node already done or failed
    }
    if (live.report(session, m, phase, done, total, unicastBytes, System.currentTimeMillis())) {
      store.updateMember(
          session,
          m,
          phase,
          Optional.of(done),
          Optional.of(total),
          Optional.empty(),
          Optional.empty());
      if (unicastBytes > 0) store.setUnicast(session, m, unicastBytes);
    }
    for (LongConsumer l : progressListeners) {
      l.accept(session);
    }
  }

  /**
   * Adds a listener told the session's id on each agent's progress tick (on the reporting thread).
   */
  public void onProgress(LongConsumer listener) {
    progressListeners.add(listener);
  }

  /** The running sessions' live per-node progress. */
  public LiveProgress live() {
    return live;
  }

  /**
   * What a running session's sender has put on the wire so far.
   *
   * @param transferring whether its multicast is still running
   */
  public record Wire(long bytesSent, long packetsSent, long repairPackets, boolean transferring) {}

  /** The sender's counters of running session {@code id}, or empty when it is not running here. */
  public Optional<Wire> wire(long id) {
    Running r = running.get(id);
    if (r == null || r.sender == null) return Optional.empty();
    McastSender.Counters c = r.sender.counters();
    return Optional.of(
        new Wire(
            c.bytesSent.get(), c.packetsSent.get(), c.repairPacketsSent.get(), !r.transferEnded));
  }

  /**
   * Whether node {@code mac} may fetch chunks of session {@code session} over HTTP: only a node of
   * that session, not finished, while its transfer runs here (docs/unicast.md).
   *
   * @throws NotFoundException when the session does not run here
   */
  public UnicastAccess unicastAccess(long session, MacAddress mac) {
    Running r = running.get(session);
    if (r == null || r.served == null || r.transferEnded) {
      throw new NotFoundException(
          "session " + session + " is not transferring here; the fallback serves running sessions");
    }
    Optional<Member> m =
        store.members(session).stream().filter(x -> x.mac().equals(mac.toString())).findFirst();
    if (m.isEmpty()) {
      return new UnicastAccess.Refused(mac + " is no node of session " + session);
    }
    if (m.get().finished()) {
      return new UnicastAccess.Refused(
          m.get().name() + " is already " + m.get().state() + " in session " + session);
    }
    long started = r.startedNanos;
    if (started == 0) {
      return new UnicastAccess.NotYet(
          "session " + session + "'s multicast has not started; it comes first");
    }
    return new UnicastAccess.Serve(
        r.served, r.layout, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
  }

  /**
   * Counts {@code bytes} served to {@code mac} by the unicast fallback; its first request is an
   * event of the session.
   */
  public void unicastServed(long session, MacAddress mac, long bytes) {
    unicastBytes.addAndGet(bytes);
    Running r = running.get(session);
    if (r == null) return;
    boolean[] first = {false};
    r.unicastServed
        .computeIfAbsent(
            mac.toString(),
            k -> {
              first[0] = true;
              return new AtomicLong();
            })
        .addAndGet(bytes);
    if (first[0]) {
      String name =
          store.members(session).stream()
              .filter(x -> x.mac().equals(mac.toString()))
              .map(Member::name)
              .findFirst()
              .orElse(mac.toString());
      events.record(
          "session",
          Optional.of(mac.toString()),
          Optional.of(Long.toString(session)),
          name + " takes chunks by unicast: no multicast reached it (docs/unicast.md)");
    }
  }

  /** Stored bytes the unicast fallback served since the daemon started. */
  public long unicastBytes() {
    return unicastBytes.get();
  }

  /** A session's members, with the live bytes of those still at work. */
  public List<Member> members(long id) {
    List<Member> stored = store.members(id);
    Map<String, LiveProgress.Tick> ticks = live.session(id);
    if (ticks.isEmpty()) return stored;
    List<Member> out = new ArrayList<>(stored.size());
    for (Member m : stored) {
      LiveProgress.Tick t = ticks.get(m.mac());
      out.add(
          t == null || m.finished() && m.bytesDone() >= t.done()
              ? m
              : m.withProgress(t.done(), t.total(), t.unicastBytes()));
    }
    return out;
  }

  /** An agent's final word. */
  public void result(
      MacAddress mac,
      long session,
      boolean ok,
      String detail,
      Optional<String> sshHostKey,
      long unicastBytes) {
    if (unicastBytes > 0) store.setUnicast(session, mac.toString(), unicastBytes);
    if (ok) {
      Optional<LiveProgress.Tick> t = live.get(session, mac.toString());
      if (store.updateMember(
          session,
          mac.toString(),
          "done",
          t.map(LiveProgress.Tick::done),
          t.map(LiveProgress.Tick::total),
          Optional.empty(),
          Optional.of(detail))) {
        nodes.finish(mac, true, Optional.of(detail), sshHostKey);
        events.record(
            "agent",
            Optional.of(mac.toString()),
            Optional.of(Long.toString(session)),
            "done: " + detail);
      }
    } else {
      fail(session, mac.toString(), detail, false);
    }
    maybeEnd(session);
  }

  /**
   * Fails a node of a session.
   *
   * @param onlyOwn only while no other daemon serves it: what this daemon's sender or timers
   *     conclude about a node a partner has taken over since changes nothing
   * @return whether it changed (it had not finished)
   */
  private boolean fail(long session, String mac, String why, boolean onlyOwn) {
    Optional<LiveProgress.Tick> t = live.get(session, mac);
    if (store.updateMember(
        session,
        mac,
        "failed",
        t.map(LiveProgress.Tick::done),
        t.map(LiveProgress.Tick::total),
        Optional.empty(),
        Optional.of(why),
        onlyOwn)) {
      nodes.finish(MacAddress.parse(mac), false, Optional.of(why), Optional.empty());
      events.record(
          "session", Optional.of(mac), Optional.of(Long.toString(session)), "node failed: " + why);
      // The multicast need not wait (up to maxWait) for a node that will never join.
      Running r = running.get(session);
      if (r != null && r.sender != null && !r.transferEnded) {
        store.find(session).ifPresent(s -> r.sender.lowerMinReceivers(partReceivers(s)));
      }
      return true;
    }
    return false;
  }

  /**
   * Why {@code hello}, from {@code from}, may not join session {@code session}'s multicast; empty:
   * it may. With {@link #joinProofs} set, only a node of the session under its own name with a
   * proof made with its current per-boot secret; without, anyone (CLI-like sessions in tests).
   */
  Optional<String> joinRefusal(long session, ControlMessage.Hello hello, InetAddress from) {
    if (secrets.isEmpty()) return Optional.empty();
    Optional<Member> member =
        store.members(session).stream().filter(m -> m.name().equals(hello.name())).findFirst();
    if (member.isEmpty()) {
      return Optional.of("no node of session " + session + " is named " + hello.name());
    }
    if (hello.proof().isEmpty()) {
      return Optional.of(
          hello.name()
              + " sent no node proof (an agent of a daemon session proves its node with its per-boot secret)");
    }
    MacAddress mac = MacAddress.parse(member.get().mac());
    Optional<byte[]> hash = secrets.get().hash(mac);
    if (hash.isEmpty()
        || !McastAuth.verifyJoin(hash.get(), session, hello.name(), hello.proof().get())) {
      events.record(
          "session",
          Optional.of(mac.toString()),
          Optional.of(Long.toString(session)),
          "multicast join as "
              + hello.name()
              + " from "
              + from.getHostAddress()
              + " refused: its node proof does not verify");
      return Optional.of(
          "the node proof for "
              + hello.name()
              + " does not verify (not the node's current secret)");
    }
    return Optional.empty();
  }

  private final class Listener implements McastSender.SessionListener {
    private final long session;
    private final Running part;

    Listener(long session, Running part) {
      this.session = session;
      this.part = part;
    }

    @Override
    public void started(SenderMachine m) {
      part.startedNanos = Math.max(1, System.nanoTime());
      store.markRunning(session);
      record("transfer started with %d receiver(s)", m.activeReceivers());
    }

    @Override
    public Optional<String> refuseJoin(ControlMessage.Hello hello, InetAddress from) {
      return joinRefusal(session, hello, from);
    }

    @Override
    public void receiverChecked(SenderMachine.Receiver r) {
      // The node's disk was hashed against the manifest: what it held needs no sending
      // (docs/reimaging.md).
      record(
          "%s checked its disk: %d chunks already right (%d bytes), %d to send",
          r.name(), r.chunksRight(), r.bytesRight(), r.chunksPending());
    }

    @Override
    public void receiverEnded(SenderMachine.Receiver r) {
      for (Member m : membersAs(r)) {
        store.setWire(session, m.mac(), wireNote(r));
      }
      if (r.state() == SenderMachine.ReceiverState.SUCCEEDED) {
        // Per node: already right (checked), sent to it, written; the agent reports the rest
        // (identity, result) itself.
        record(
            "%s received the image: %s, %d chunks sent, %d bytes written",
            r.name(),
            r.checked() ? r.chunksRight() + " chunks already right" : "its disk not checked",
            r.chunksAsked(),
            r.bytesWritten());
        return;
      }
      if (r.state() == SenderMachine.ReceiverState.GONE) {
        // Joined and left before receiving anything: anyone can join under a node's name, so this
        // fails no node; a real one that died reports, or is failed once the transfer ends.
        return;
      }
      for (Member m : membersAs(r)) {
        fail(session, m.mac(), "stopped during the transfer: " + r.reason(), true);
      }
    }

    /**
     * Records a session event of this session, {@code format} filled in as {@link String#format}.
     */
    private void record(String format, Object... args) {
      events.record(
          "session",
          Optional.empty(),
          Optional.of(Long.toString(session)),
          String.format(Locale.ROOT, format, args));
    }

    /**
     * The session's members that receiver {@code r} joined as: the sender knows a receiver as
     * "NAME@address" (NAME: what the agent joined as, its node name).
     */
    private List<Member> membersAs(SenderMachine.Receiver r) {
      return store.members(session).stream()
          .filter(m -> r.name().equals(m.name()) || r.name().startsWith(m.name() + "@"))
          .toList();
    }
  }

  /**
   * What the sender saw of one receiver, for the session's history and the dashboard: how much of
   * its disk was already right, what was sent to it and written, and who was slowest and why.
   */
  static String wireNote(SenderMachine.Receiver r) {
    return String.format(
        Locale.ROOT,
        "%s; %s, %d chunk(s) sent, %d bytes written; loss %.1f%%, %d repair packet(s) used,"
            + " %d duplicate(s)%s%s",
        r.state().name().toLowerCase(Locale.ROOT),
        r.checked()
            ? r.chunksRight() + " chunk(s) already right (" + r.bytesRight() + " bytes)"
            : "disk not checked",
        r.chunksAsked(),
        r.bytesWritten(),
        r.lossPermille() / 10.0,
        r.repairs(),
        r.duplicates(),
        r.slowSamples() > 0
            ? String.format(
                Locale.ROOT,
                "; short of CPU or disk for %.1f s (paced apart as slow)",
                r.slowSamples() / 10.0)
            : "",
        r.deaf() ? "; no multicast reached it at the end (left out of the pace)" : "");
  }

  private void transferEnded(long id, Running r, SenderMachine m, Throwable err) {
    if (running.get(id) != r) {
      return;
    }
    r.transferEnded = true;
    if (err != null) {
      LOG.warn("session {}: sender failed", id, err);
    }
    // Agents still write identity and report; give them a bounded time, then fail the silent ones
    // this daemon serves (unless a newer part of this daemon serves them now).
    timer.schedule(
        () -> {
          if (running.get(id) != r) return;
          List<Member> members = store.members(id);
          boolean othersServe =
              members.stream()
                  .anyMatch(mm -> !mm.finished() && mm.daemon().isPresent() && !mm.servedBy(self));
          for (Member mem : members) {
            if (mem.finished()) continue;
            if (mem.servedBy(self)) {
              fail(
                  id,
                  mem.mac(),
                  "did not report after the transfer (stopped in " + mem.state() + ")",
                  true);
            } else if (mem.daemon().isEmpty() && !othersServe) {
              // No daemon has it and none is at work on the session any more.
              fail(
                  id,
                  mem.mac(),
                  "never joined the session (did it PXE boot into clonecast?)",
                  true);
            }
          }
          maybeEnd(id);
          if (running.remove(id, r)) retire(id, r);
        },
        REPORT_GRACE.toSeconds(),
        TimeUnit.SECONDS);
    maybeEnd(id);
  }

  /**
   * Ends session {@code id} once every node is done or failed, whichever daemon served it: its
   * state is the aggregate of its nodes.
   */
  private void maybeEnd(long id) {
    List<Member> members = store.members(id);
    boolean allFinished = members.stream().allMatch(Member::finished);
    if (!allFinished) {
      return;
    }
    long failed = members.stream().filter(mm -> mm.state().equals("failed")).count();
    end(
        id,
        failed == 0 ? "done" : "failed",
        Optional.of(
            String.format(
                Locale.ROOT,
                "%d of %d node(s) re-imaged",
                members.size() - failed,
                members.size())));
  }

  /**
   * Ends an active session (only the first daemon to end it records it) and stops this daemon's
   * part of it; the other daemons' parts stop at their next {@link #sweep}.
   */
  private void end(long id, String state, Optional<String> detail) {
    boolean ended = store.endIfActive(id, state, detail);
    Running r = running.get(id);
    if (r != null && running.remove(id, r)) {
      retire(id, r);
    }
    live.forget(id);
    if (ended) {
      events.record(
          "session",
          Optional.empty(),
          Optional.of(Long.toString(id)),
          "ended " + state + detail.map(d -> ": " + d).orElse(""));
    }
  }

  private void stop(Running r) {
    if (r.sender != null) {
      r.sender.close();
      McastSender.Counters c = r.sender.counters();
      endedBytes.addAndGet(c.bytesSent.get());
      endedPackets.addAndGet(c.packetsSent.get());
      endedRepairs.addAndGet(c.repairPacketsSent.get());
    }
    if (r.reader != null) {
      try {
        r.reader.close();
      } catch (IOException e) {
        LOG.debug("closing image reader", e);
      }
    }
  }

  public SessionStore store() {
    return store;
  }

  /** Multicast bytes sent by every session since the daemon started (for /metrics). */
  public long bytesSent() {
    return endedBytes.get() + live(c -> c.bytesSent.get());
  }

  /** Multicast packets sent since the daemon started, and the FEC repair packets among them. */
  public long packetsSent() {
    return endedPackets.get() + live(c -> c.packetsSent.get());
  }

  public long repairPacketsSent() {
    return endedRepairs.get() + live(c -> c.repairPacketsSent.get());
  }

  private long live(ToLongFunction<McastSender.Counters> f) {
    long n = 0;
    for (Running r : running.values()) {
      if (r.sender != null) n += f.applyAsLong(r.sender.counters());
    }
    return n;
  }

  /** Sessions with their members, newest first. */
  public List<Map.Entry<Session, List<Member>>> list(int limit) {
    List<Map.Entry<Session, List<Member>>> out = new ArrayList<>();
    for (Session s : store.list(limit)) {
      out.add(Map.entry(s, members(s.id())));
    }
    return out;
  }

  @Override
  public void close() {
    for (Long id : List.copyOf(running.keySet())) {
      Running r = running.remove(id);
      if (r != null) {
        stop(r);
      }
    }
    timer.shutdownNow();
  }
}

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

  private static final class Running {
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
   * After a restart: sessions this daemon was running cannot resume their sender; they fail, and so
   * do their nodes. Sessions of other daemons sharing the store are theirs.
   */
  public void recover() {
    Set<Long> own = store.ownActive();
    for (Session s : store.active()) {
      if (!own.contains(s.id())) {
        continue; // another daemon sharing the store runs it (docs/scale.md)
      }
      for (Member m : store.members(s.id())) {
        if (!m.finished()) {
          fail(
              s.id(),
              m.mac(),
              "the daemon restarted during the session; start a new session to retry");
        }
      }
      store.setState(s.id(), "failed", Optional.of("the daemon restarted during the session"));
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
    Running r = new Running();
    running.put(s.id(), r);
    try {
      r.reader = images.open(imageName);
      r.layout = StoredLayout.of(r.reader.manifest());
      r.served = r.reader;
      SendSettings settings =
          new SendSettings(
              nif.name(),
              null,
              s.port(),
              10_000_000_000L,
              min,
              maxWait,
              receiverTimeout,
              SymbolLayout.symbolSizeFor(nif.mtu()),
              1,
              true,
              receiverDeadline);
      // Signed by the daemon's current key, and its previous one during a rotation's overlap.
      List<ManifestSignature> signatures =
          images.keys().isPresent()
              ? images.keys().get().signatures(r.reader.manifest(), r.reader.signature())
              : List.of();
      r.sender = new McastSender(settings, r.reader, nif, new Listener(s.id()), signatures);
      r.sender.start().whenComplete((m, err) -> transferEnded(s.id(), m, err));
    } catch (IOException | InterruptedException | RuntimeException e) {
      stop(r);
      running.remove(s.id());
      store.setState(s.id(), "failed", Optional.of("cannot start: " + e.getMessage()));
      throw e;
    }
    for (Node n : selected) {
      nodes.markForSession(n.mac(), s.id());
    }
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

  /** Cancels a session: its sender stops, its unfinished nodes fail and boot locally. */
  public Session cancel(long id) {
    Session s = store.find(id).orElseThrow(() -> new NotFoundException("no session " + id));
    if (!s.active()) {
      throw new ConflictException("session " + id + " already ended (" + s.state() + ")");
    }
    for (Member m : store.members(id)) {
      if (!m.finished()) {
        fail(id, m.mac(), "session cancelled");
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
      fail(session.id(), mac.toString(), why);
      return new Assignment("fail", Optional.of(why), session.id(), name, image, "", 0, "", false);
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
        name + " registered; writes " + target.get());
    return new Assignment(
        "reimage",
        Optional.empty(),
        session.id(),
        name,
        image,
        nif.address().getHostAddress() + ":" + session.port(),
        session.port(),
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
      fail(session, mac.toString(), detail);
    }
    maybeEnd(session);
  }

  private void fail(long session, String mac, String why) {
    Optional<LiveProgress.Tick> t = live.get(session, mac);
    if (store.updateMember(
        session,
        mac,
        "failed",
        t.map(LiveProgress.Tick::done),
        t.map(LiveProgress.Tick::total),
        Optional.empty(),
        Optional.of(why))) {
      nodes.finish(MacAddress.parse(mac), false, Optional.of(why), Optional.empty());
      events.record(
          "session", Optional.of(mac), Optional.of(Long.toString(session)), "node failed: " + why);
      // The multicast need not wait (up to maxWait) for a node that will never join.
      Running r = running.get(session);
      if (r != null && r.sender != null) {
        r.sender.lowerMinReceivers(
            (int) store.members(session).stream().filter(m -> !m.finished()).count());
      }
    }
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

    Listener(long session) {
      this.session = session;
    }

    @Override
    public void started(SenderMachine m) {
      Running r = running.get(session);
      if (r != null) r.startedNanos = Math.max(1, System.nanoTime());
      store.setState(session, "running", Optional.empty());
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
        fail(session, m.mac(), "stopped during the transfer: " + r.reason());
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

  private void transferEnded(long id, SenderMachine m, Throwable err) {
    Running r = running.get(id);
    if (r == null) {
      return;
    }
    r.transferEnded = true;
    if (err != null) {
      LOG.warn("session {}: sender failed", id, err);
    }
    // Agents still write identity and report; give them a bounded time, then fail the silent ones.
    timer.schedule(
        () -> {
          for (Member mem : store.members(id)) {
            if (!mem.finished()) {
              fail(
                  id,
                  mem.mac(),
                  mem.state().equals("waiting")
                      ? "never joined the session (did it PXE boot into clonecast?)"
                      : "did not report after the transfer (stopped in " + mem.state() + ")");
            }
          }
          maybeEnd(id);
        },
        REPORT_GRACE.toSeconds(),
        TimeUnit.SECONDS);
    maybeEnd(id);
  }

  private void maybeEnd(long id) {
    Running r = running.get(id);
    List<Member> members = store.members(id);
    boolean allFinished = members.stream().allMatch(Member::finished);
    if (!allFinished || r == null) {
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

  private synchronized void end(long id, String state, Optional<String> detail) {
    Running r = running.remove(id);
    if (r == null) {
      return;
    }
    store.setState(id, state, detail);
    stop(r);
    if (r.sender != null) {
      McastSender.Counters c = r.sender.counters();
      store.setSent(id, c.bytesSent.get(), c.packetsSent.get(), c.repairPacketsSent.get());
    }
    live.forget(id);
    events.record(
        "session",
        Optional.empty(),
        Optional.of(Long.toString(id)),
        "ended " + state + detail.map(d -> ": " + d).orElse(""));
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

package org.clonecast.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.session.LiveProgress;
import org.clonecast.server.session.SessionManager;
import org.clonecast.server.store.DaemonRegistry;
import org.clonecast.server.store.Event;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageCopies;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;
import org.clonecast.server.store.SessionStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pushes what changed to every open event stream (HTML Living Standard §9.2, server-sent events):
 * the dashboard's ({@code /api/v1/stream}), the event log's ({@code /api/v1/events/stream}, behind
 * {@code clonecast events --follow}) and one session's ({@code /api/v1/sessions/ID/stream}, behind
 * {@code session watch}).
 *
 * <p>Nothing polls the database on a timer: the event log's listeners and the session manager's
 * progress listeners mark what changed, and one thread, every {@code period}, builds each changed
 * message once and writes the same bytes to every stream. A page costs the daemon a write per
 * message, not a query; the database is read only after an event (a phase change), and then once
 * for all pages.
 *
 * <p>Each stream's unsent output is bounded ({@link #MAX_PENDING}): a client that does not read
 * (slow, stalled or hostile) is dropped when its buffer is full, never waited for.
 *
 * <p>Thread-safe: listeners only enqueue; everything else runs on the feed's own thread.
 */
public final class LiveFeed implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LiveFeed.class);

  /** Output a stream may have pending before it is dropped. */
  static final int MAX_PENDING = 1 << 20;

  /** A comment line after this much quiet, so a dead client is noticed by a failed write. */
  private static final long HEARTBEAT_MILLIS = 15_000;

  /** Sessions the dashboard lists. */
  private static final int SESSIONS = 10;

  /** Recent events a new page starts with. */
  private static final int RECENT_EVENTS = 30;

  /** How often the dashboard's daemons are read from the store. */
  private static final Duration DAEMONS_EVERY = Duration.ofSeconds(2);

  /** What a stream carries. */
  enum Kind {
    DASHBOARD,
    EVENTS,
    SESSION
  }

  /** One open stream. Touched only on the feed's thread after {@link #attach}. */
  private static final class Subscriber {
    final Channel channel;
    final Kind kind;
    final long arg; // EVENTS: send events after this id; SESSION: the session id
    boolean fresh = true;
    boolean dropped;
    long lastWriteMillis;

    /** Bytes handed to the connection and not yet written to its socket. */
    final AtomicLong pending = new AtomicLong();

    Subscriber(Channel channel, Kind kind, long arg) {
      this.channel = channel;
      this.kind = kind;
      this.arg = arg;
    }
  }

  /**
   * What the feed has done, for the docs' measurements and the metrics.
   *
   * @param streams streams open now
   * @param dropped streams dropped because their client did not read
   * @param messages messages built (once each, whatever the number of streams)
   * @param bytesBuilt bytes of those messages
   * @param bytesWritten bytes written to streams
   * @param cpuNanos CPU time of the feed's thread
   */
  public record Stats(
      int streams,
      long dropped,
      long messages,
      long bytesBuilt,
      long bytesWritten,
      long cpuNanos) {}

  private final NodeStore nodes;
  private final ImageStore images;
  private final SessionManager sessions;
  private final CaptureManager captures;
  private final EventLog events;
  private final Clock clock;
  private final Duration period;
  private final ScheduledExecutorService thread;
  private final ConcurrentLinkedQueue<Event> heard = new ConcurrentLinkedQueue<>();
  private final Set<Long> progressed = ConcurrentHashMap.newKeySet();
  private final ConcurrentLinkedQueue<Subscriber> joining = new ConcurrentLinkedQueue<>();
  private final List<Subscriber> subscribers = new ArrayList<>();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong messages = new AtomicLong();
  private final AtomicLong bytesBuilt = new AtomicLong();
  private final AtomicLong bytesWritten = new AtomicLong();
  private volatile long cpuNanos;
  private volatile int streams;
  private volatile long feedThreadId = -1;

  // The dashboard's last parts, to send only what changed (feed thread only).
  private final Map<String, String> lastNodes = new HashMap<>();
  private final Map<Long, String> lastSessions = new HashMap<>();
  private String lastCaptures = "";
  private String lastImages = "";
  private String lastDaemons = "";
  private long daemonsRead;
  private Optional<DaemonRegistry> registry = Optional.empty();
  private boolean capturesMoving = true;
  private boolean imagesMoving = true;
  private final Set<Long> activeSessions = new HashSet<>();
  private final Map<Long, long[]> lastWire =
      new HashMap<>(); // id -> {bytesSent, repairs, packets, millis}
  private final Map<Long, double[]> wireRates = new HashMap<>(); // id -> {bytes/s, repair share}
  private boolean liveShown;
  private final Consumer<Event> listener = heard::add;

  public LiveFeed(
      NodeStore nodes,
      ImageStore images,
      SessionManager sessions,
      CaptureManager captures,
      EventLog events,
      Clock clock,
      Duration period) {
    this.nodes = nodes;
    this.images = images;
    this.sessions = sessions;
    this.captures = captures;
    this.events = events;
    this.clock = clock;
    this.period = period;
    this.thread =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "live-feed");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Shows the daemons sharing the store on the dashboard (read every {@link #DAEMONS_EVERY}: their
   * heartbeats make no events, and one dies silently).
   */
  public LiveFeed daemons(DaemonRegistry registry) {
    this.registry = Optional.of(registry);
    return this;
  }

  /** Starts listening and pushing. */
  public LiveFeed start() {
    listen();
    thread.execute(() -> feedThreadId = Thread.currentThread().getId());
    thread.scheduleWithFixedDelay(
        this::tickSafely, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  /** Hears events and progress ticks; {@link #tick} pushes them (tests call it by hand). */
  void listen() {
    events.listen(listener);
    sessions.onProgress(progressed::add);
  }

  /** A reply that turns its connection into a stream of {@code kind}. */
  Reply stream(Kind kind, long arg) {
    return new Reply.Push(ch -> joining.add(new Subscriber(ch, kind, arg)));
  }

  public Stats stats() {
    return new Stats(
        streams, dropped.get(), messages.get(), bytesBuilt.get(), bytesWritten.get(), cpuNanos);
  }

  private void tickSafely() {
    try {
      tick();
    } catch (RuntimeException e) {
      LOG.warn("live feed: tick failed", e);
    }
    long id = feedThreadId;
    if (id >= 0) {
      ThreadMXBean mx = ManagementFactory.getThreadMXBean();
      long cpu = mx.isCurrentThreadCpuTimeSupported() ? mx.getCurrentThreadCpuTime() : -1;
      if (cpu >= 0) cpuNanos = cpu;
    }
  }

  /**
   * One round: take what listeners heard, build each changed message once, write it to every
   * stream.
   */
  void tick() {
    long now = clock.millis();
    List<Event> fresh = new ArrayList<>();
    for (Event e; (e = heard.poll()) != null; ) fresh.add(e);
    fresh.sort(Comparator.comparingLong(Event::id));
    Set<Long> ticked = new HashSet<>();
    for (Long id : List.copyOf(progressed)) {
      progressed.remove(id);
      ticked.add(id);
    }
    List<Subscriber> joined = new ArrayList<>();
    for (Subscriber s; (s = joining.poll()) != null; ) {
      s.lastWriteMillis = now;
      joined.add(s);
    }
    subscribers.addAll(joined);
    subscribers.removeIf(s -> s.dropped || !s.channel.isActive());

    boolean dashboards = subscribers.stream().anyMatch(s -> s.kind == Kind.DASHBOARD);
    boolean newDashboard = joined.stream().anyMatch(s -> s.kind == Kind.DASHBOARD);
    if (dashboards) {
      dashboard(now, fresh, ticked, newDashboard);
    }
    eventStreams(fresh);
    sessionStreams(fresh, ticked);
    for (Subscriber s : subscribers) {
      if (now - s.lastWriteMillis >= HEARTBEAT_MILLIS) {
        write(s, ascii(": still here\n\n"), now, true);
      }
      s.fresh = false;
    }
    subscribers.removeIf(s -> s.dropped || !s.channel.isActive());
    streams = subscribers.size();
  }

  // --- the dashboard -------------------------------------------------------------------------

  private void dashboard(long now, List<Event> fresh, Set<Long> ticked, boolean newPage) {
    boolean changed = !fresh.isEmpty() || newPage;
    Map<String, Object> state = new LinkedHashMap<>();
    Map<String, Object> full = new LinkedHashMap<>();
    if (changed) {
      // Nodes: only those whose JSON changed, and the MACs removed; a new page gets them all.
      Map<String, String> seen = new HashMap<>();
      List<Object> changedNodes = new ArrayList<>();
      List<Object> allNodes = new ArrayList<>();
      for (Node n : nodes.list()) {
        Map<String, Object> j = Json.node(n);
        String text = compact(j);
        seen.put(n.mac().toString(), text);
        allNodes.add(j);
        if (!text.equals(lastNodes.get(n.mac().toString()))) changedNodes.add(j);
      }
      List<String> removed = new ArrayList<>();
      for (String mac : lastNodes.keySet()) {
        if (!seen.containsKey(mac)) removed.add(mac);
      }
      lastNodes.clear();
      lastNodes.putAll(seen);
      if (!changedNodes.isEmpty() || !removed.isEmpty()) {
        state.put("nodes", changedNodes);
        state.put("removed", removed);
      }
      full.put("nodes", allNodes);
      full.put("all", true);

      // Sessions: the newest, with their stored members (live bytes go in "live"); only those
      // that changed, and the order of them all.
      List<Object> ss = new ArrayList<>();
      List<Object> changedSessions = new ArrayList<>();
      List<Long> order = new ArrayList<>();
      Map<Long, String> seenSessions = new HashMap<>();
      activeSessions.clear();
      for (SessionStore.Session s : sessions.store().list(SESSIONS)) {
        Map<String, Object> j = Json.session(s, sessions.store().members(s.id()));
        String text = compact(j);
        ss.add(j);
        order.add(s.id());
        seenSessions.put(s.id(), text);
        if (!text.equals(lastSessions.get(s.id()))) changedSessions.add(j);
        if (s.active()) activeSessions.add(s.id());
      }
      if (!changedSessions.isEmpty() || !seenSessions.keySet().equals(lastSessions.keySet())) {
        state.put("sessions", changedSessions);
        state.put("sessionOrder", order);
      }
      lastSessions.clear();
      lastSessions.putAll(seenSessions);
      full.put("sessions", ss);
      full.put("sessionOrder", order);
    }
    if (changed || capturesMoving) {
      List<Object> cs = new ArrayList<>();
      capturesMoving = false;
      for (CaptureManager.Status c : captures.list(5)) {
        cs.add(Json.capture(c));
        String st = c.capture().state().id();
        capturesMoving |= st.equals("waiting") || st.equals("capturing") || st.equals("verifying");
      }
      String text = compact(cs);
      if (!text.equals(lastCaptures)) state.put("captures", cs);
      lastCaptures = text;
      full.put("captures", cs);
    }
    if (changed || imagesMoving) {
      List<Object> is = new ArrayList<>();
      imagesMoving = false;
      Map<String, List<ImageCopies.Copy>> copies = images.copies().byImage();
      for (Image i : images.list()) {
        Map<String, Object> j = Json.image(i, images.progress(i.name()));
        List<ImageCopies.Copy> cs = copies.getOrDefault(i.name(), List.of());
        j.put("copies", Json.copies(cs, images.copies().self()));
        is.add(j);
        imagesMoving |= i.state().equals("adding") || i.state().equals("capturing");
        imagesMoving |= cs.stream().anyMatch(c -> c.state() == ImageCopies.State.COPYING);
      }
      String text = compact(is);
      if (!text.equals(lastImages)) state.put("images", is);
      lastImages = text;
      full.put("images", is);
    }
    if (registry.isPresent() && (newPage || now - daemonsRead >= DAEMONS_EVERY.toMillis())) {
      daemonsRead = now;
      List<Object> ds = new ArrayList<>();
      for (DaemonRegistry.Member m : registry.get().list()) {
        Map<String, Object> d = Json.daemon(m, registry.get().self(), now);
        // Its beats every 2 s are no news; a change of state is.
        d.remove("heartbeat");
        ds.add(d);
      }
      String text = compact(ds);
      if (!text.equals(lastDaemons)) state.put("daemons", ds);
      lastDaemons = text;
      full.put("daemons", ds);
    }
    Optional<ByteBuf> stateMsg =
        state.isEmpty() ? Optional.empty() : Optional.of(message("state", null, state));
    ByteBuf fullMsg = newPage ? message("state", null, full) : null;
    if (newPage) {
      List<Object> recent = new ArrayList<>();
      for (Event e : events.recent(RECENT_EVENTS)) recent.add(Json.event(e));
      ByteBuf recentMsg = message("events", null, recent);
      for (Subscriber s : subscribers) {
        if (s.kind == Kind.DASHBOARD && s.fresh) {
          write(s, fullMsg, now);
          write(s, recentMsg, now);
        }
      }
      recentMsg.release();
      fullMsg.release();
    }
    stateMsg.ifPresent(
        m -> {
          for (Subscriber s : subscribers) {
            if (s.kind == Kind.DASHBOARD && !s.fresh) write(s, m, now);
          }
          m.release();
        });
    if (!fresh.isEmpty()) {
      List<Object> ev = new ArrayList<>();
      for (Event e : fresh) ev.add(Json.event(e));
      ByteBuf m = message("events", null, ev);
      for (Subscriber s : subscribers) {
        if (s.kind == Kind.DASHBOARD && !s.fresh) write(s, m, now);
      }
      m.release();
    }
    Map<String, Object> live = live(now, ticked);
    if (live != null) {
      ByteBuf m = message("live", null, live);
      for (Subscriber s : subscribers) {
        if (s.kind == Kind.DASHBOARD) write(s, m, now);
      }
      m.release();
    }
  }

  /**
   * The running sessions' figures: the wire rate and repair share from the sender's counters, and
   * per node [mac, phase, bytes done, bytes total, bytes/s, ETA s or -1, bytes of done by unicast];
   * null when no session runs.
   */
  private Map<String, Object> live(long now, Set<Long> ticked) {
    if (activeSessions.isEmpty() && ticked.isEmpty()) {
      lastWire.clear();
      wireRates.clear();
      if (!liveShown) return null;
      liveShown = false; // once more, empty: the pages drop the ended session's live figures
      return Map.of("time", now, "sessions", List.of());
    }
    liveShown = true;
    Set<Long> ids = new HashSet<>(activeSessions);
    ids.addAll(ticked);
    List<Object> out = new ArrayList<>();
    for (long id : ids) {
      Map<String, Object> s = new LinkedHashMap<>();
      s.put("id", id);
      Optional<SessionManager.Wire> w = sessions.wire(id);
      double[] rates = wireRates.getOrDefault(id, new double[2]);
      if (w.isPresent()) {
        long[] prev = lastWire.get(id);
        long[] cur = {w.get().bytesSent(), w.get().repairPackets(), w.get().packetsSent(), now};
        if (prev != null && now > prev[3]) {
          long packets = cur[2] - prev[2];
          rates =
              new double[] {
                (cur[0] - prev[0]) * 1000.0 / (now - prev[3]),
                packets > 0 ? (double) (cur[1] - prev[1]) / packets : 0
              };
          wireRates.put(id, rates);
        }
        lastWire.put(id, cur);
        s.put("bytesSent", cur[0]);
        s.put("transferring", w.get().transferring());
      }
      s.put("wireRate", Math.round(rates[0]));
      s.put("repairShare", Math.round(rates[1] * 1000) / 1000.0);
      List<Object> ns = new ArrayList<>();
      long slowestEta = -1;
      long done = 0;
      long total = 0;
      double rateSum = 0;
      for (Map.Entry<String, LiveProgress.Tick> e : sessions.live().session(id).entrySet()) {
        LiveProgress.Tick t = e.getValue();
        long eta = t.etaSeconds().orElse(-1L);
        slowestEta = Math.max(slowestEta, eta);
        done += t.done();
        total += t.total();
        rateSum += t.bytesPerSecond();
        ns.add(
            List.of(
                e.getKey(),
                t.phase(),
                t.done(),
                t.total(),
                Math.round(t.bytesPerSecond()),
                eta,
                t.unicastBytes()));
      }
      s.put("nodes", ns);
      s.put("bytesDone", done);
      s.put("bytesTotal", total);
      s.put("nodeRate", ns.isEmpty() ? 0 : Math.round(rateSum / ns.size()));
      s.put("eta", slowestEta);
      out.add(s);
    }
    lastWire.keySet().retainAll(ids);
    wireRates.keySet().retainAll(ids);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("time", now);
    m.put("sessions", out);
    return m;
  }

  // --- the event log and one session ----------------------------------------------------------

  private void eventStreams(List<Event> fresh) {
    long now = clock.millis();
    for (Subscriber s : subscribers) {
      if (s.kind != Kind.EVENTS) continue;
      long after = s.arg;
      if (s.fresh) {
        // The backlog after the client's last id, then what this round heard (without repeats).
        for (Event e : events.after(after, 1000)) {
          write(s, eventMessage(e), now, true);
          after = e.id();
        }
      }
      for (Event e : fresh) {
        if (e.id() > after) write(s, eventMessage(e), now, true);
      }
    }
  }

  private ByteBuf eventMessage(Event e) {
    return message(null, Long.toString(e.id()), Json.event(e));
  }

  private void sessionStreams(List<Event> fresh, Set<Long> ticked) {
    long now = clock.millis();
    Map<Long, ByteBuf> built = new HashMap<>();
    Map<Long, Boolean> ended = new HashMap<>();
    Set<String> touched = new HashSet<>();
    for (Event e : fresh) e.session().ifPresent(touched::add);
    for (Subscriber s : subscribers) {
      if (s.kind != Kind.SESSION) continue;
      long id = s.arg;
      if (!s.fresh && !ticked.contains(id) && !touched.contains(Long.toString(id))) continue;
      ByteBuf m = built.get(id);
      if (m == null && !built.containsKey(id)) {
        Optional<SessionStore.Session> found = sessions.store().find(id);
        if (found.isEmpty()) {
          m = message("error", null, Json.error("no session " + id));
          ended.put(id, true);
        } else {
          m = message(null, null, Json.session(found.get(), sessions.members(id)));
          ended.put(id, !found.get().active());
        }
        built.put(id, m);
      }
      write(s, m, now);
      if (ended.get(id)) {
        s.channel
            .writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT)
            .addListener(ChannelFutureListener.CLOSE);
      }
    }
    built.values().forEach(ByteBuf::release);
  }

  // --- writing --------------------------------------------------------------------------------

  private void write(Subscriber s, ByteBuf msg, long now) {
    write(s, msg, now, false);
  }

  /** Writes a shared message to one stream, or drops the stream if its client stopped reading. */
  private void write(Subscriber s, ByteBuf msg, long now, boolean consume) {
    try {
      if (s.dropped || !s.channel.isActive()) return;
      int size = msg.readableBytes();
      // Counted here, not by the channel's writability: the pipeline's chunked-write handler
      // queues what the socket does not take without counting it as pending.
      if (s.pending.get() + size > MAX_PENDING) {
        s.dropped = true;
        dropped.incrementAndGet();
        LOG.info(
            "http event stream to {} dropped: {} bytes unsent (the client does not read)",
            s.channel.remoteAddress(),
            s.pending.get());
        s.channel.close();
        return;
      }
      bytesWritten.addAndGet(size);
      s.lastWriteMillis = now;
      s.pending.addAndGet(size);
      s.channel
          .writeAndFlush(new DefaultHttpContent(msg.retainedDuplicate()))
          .addListener(
              f -> {
                s.pending.addAndGet(-size);
                if (!f.isSuccess()) s.channel.close();
              });
    } finally {
      if (consume) msg.release();
    }
  }

  /** One server-sent event: optional name and id, the JSON on one data line. */
  private ByteBuf message(String name, String id, Object value) {
    StringBuilder sb = new StringBuilder();
    if (name != null) sb.append("event: ").append(name).append('\n');
    if (id != null) sb.append("id: ").append(id).append('\n');
    sb.append("data: ").append(compact(value)).append("\n\n");
    messages.incrementAndGet();
    ByteBuf b = ascii(sb.toString());
    bytesBuilt.addAndGet(b.readableBytes());
    return b;
  }

  private static ByteBuf ascii(String s) {
    return Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String compact(Object value) {
    try {
      return COMPACT.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise " + value.getClass(), e);
    }
  }

  private static final ObjectMapper COMPACT = new ObjectMapper();

  @Override
  public void close() {
    events.unlisten(listener);
    thread.shutdownNow();
    try {
      thread.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

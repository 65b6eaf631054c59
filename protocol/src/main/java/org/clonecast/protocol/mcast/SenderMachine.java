package org.clonecast.protocol.mcast;

import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.pace.DeliveryRate;

/**
 * Decides what the sender multicasts next. Pure: no I/O, no clock; every input carries {@code
 * nowNanos}. Not thread-safe: drive it from one thread (the sender's event loop).
 *
 * <p>The plan (docs/protocol.md §4):
 *
 * <ul>
 *   <li><b>Carousel.</b> Chunks that any active receiver still needs are sent in index order,
 *       wrapping around, so late joiners and receivers that fell behind catch up on a later pass. A
 *       chunk is not sent again within {@code resendHoldoff} of its last pass: losses in it are
 *       repaired by FEC on request, not by resending it whole.
 *   <li><b>Repair.</b> NAKs say, per stripe, how many symbols a receiver still lacks and how many
 *       repair rows it has seen. Requests are merged: the sender sends the largest need of any
 *       receiver, less rows already on their way, as fresh Cauchy rows, so one repair packet fixes
 *       different losses at different receivers. Repairs go before new data.
 *   <li><b>No receiver sets the pace.</b> Nobody is waited for. A receiver whose smoothed loss is
 *       far above the group's median is lagging: its NAKs do not trigger repairs and its loss does
 *       not pace the group while others are active; it catches up on later passes, when it is alone
 *       and the pacer slows to it.
 *   <li><b>Dead receivers</b> are dropped after {@code receiverTimeout} of silence or when their
 *       control connection closes; their needs stop keeping chunks in the carousel.
 * </ul>
 */
public final class SenderMachine {

  /**
   * Tunables of one session.
   *
   * @param minReceivers start once this many receivers have joined
   * @param maxWaitNanos ... or this long after the first one joined
   * @param receiverTimeoutNanos drop a receiver silent for this long
   * @param resendHoldoffNanos do not send a chunk whole again within this long
   * @param repairWindowNanos repair rows sent within this long count as still on their way
   * @param lagMarginPermille a receiver whose loss exceeds the median by this much is lagging
   * @param receiverDeadlineNanos drop a receiver not finished this long after it joined or the
   *     transfer started, whichever is later: nobody keeps the sender looping
   * @param checkGraceNanos once every awaited receiver has joined and the first of them is ready (a
   *     delta receiver: its check done), start after a grace even though others still check: the
   *     longer of this and the first one's own check time (a straggler is a receiver whose check
   *     takes more than twice the fastest's, however large the disks). A late checker gets what was
   *     sent before its check on the carousel's next pass. 0: wait for every check (the start rule
   *     of {@link #maybeStart} without it)
   */
  public record Settings(
      int symbolSize,
      int minReceivers,
      long maxWaitNanos,
      long receiverTimeoutNanos,
      long resendHoldoffNanos,
      long repairWindowNanos,
      int lagMarginPermille,
      long receiverDeadlineNanos,
      long checkGraceNanos) {
    /** How long a receiver may take when nobody says otherwise: one hour. */
    public static final long DEFAULT_RECEIVER_DEADLINE_NANOS = 3_600_000_000_000L;

    /** Settings that wait for every receiver's check before the start. */
    public Settings(
        int symbolSize,
        int minReceivers,
        long maxWaitNanos,
        long receiverTimeoutNanos,
        long resendHoldoffNanos,
        long repairWindowNanos,
        int lagMarginPermille,
        long receiverDeadlineNanos) {
      this(
          symbolSize,
          minReceivers,
          maxWaitNanos,
          receiverTimeoutNanos,
          resendHoldoffNanos,
          repairWindowNanos,
          lagMarginPermille,
          receiverDeadlineNanos,
          0);
    }

    public Settings {
      if (receiverDeadlineNanos <= 0)
        throw new IllegalArgumentException(
            "receiver deadline " + receiverDeadlineNanos + ", want > 0");
      if (symbolSize < SymbolLayout.MIN_SYMBOL_SIZE || symbolSize > SymbolLayout.MAX_SYMBOL_SIZE) {
        throw new IllegalArgumentException("symbol size " + symbolSize);
      }
      if (minReceivers < 1)
        throw new IllegalArgumentException("min receivers " + minReceivers + ", want >= 1");
      if (maxWaitNanos < 0
          || receiverTimeoutNanos <= 0
          || resendHoldoffNanos < 0
          || repairWindowNanos < 0
          || checkGraceNanos < 0) {
        throw new IllegalArgumentException("negative duration in " + this);
      }
    }

    /** Defaults for a LAN: start on the first receiver, drop after 10 s of silence. */
    public static Settings defaults(int symbolSize) {
      return new Settings(
          symbolSize,
          1,
          10_000_000_000L,
          10_000_000_000L,
          300_000_000L,
          30_000_000L,
          200,
          DEFAULT_RECEIVER_DEADLINE_NANOS);
    }
  }

  /**
   * Where a receiver stands. GONE: it left, went silent, broke the protocol or missed its deadline
   * before it had reported a single chunk received, without reporting a result of its own: it took
   * no part worth counting (a node that crashed on joining, or a rogue that joined to loiter), and
   * the others' results decide the session's outcome.
   */
  public enum ReceiverState {
    ACTIVE,
    SUCCEEDED,
    FAILED,
    GONE
  }

  /** What became of one STATUS or NAK ({@link #feedback}). */
  public enum Feedback {
    /** Counted. */
    ACCEPTED,
    /** No such active receiver. */
    UNKNOWN_RECEIVER,
    /** Not from the address (and port) the receiver joined from. */
    WRONG_ADDRESS,
    /** The receiver seals its feedback, and this one had no seal or a wrong tag. */
    BAD_SEAL,
    /** A seal counter not above the last one counted: a replay, or reordered. */
    REPLAYED
  }

  /** What the sender knows about one receiver. Read-only view for reports. */
  public static final class Receiver {
    final int id;
    final String name;
    final BitSet need = new BitSet();
    final long joinedNanos;

    /**
     * Where its feedback must come from: the control connection's address; null accepts any
     * (tests).
     */
    final InetAddress address;

    /** Its feedback key, or null when it does not seal (a receiver of the first version). */
    final byte[] key;

    /** The UDP port of its first counted feedback; later feedback must come from it too. */
    int port = -1;

    long lastCounter = -1;

    /** Per chunk: {pass of the chunk, repair rows this receiver's NAKs added in that pass}. */
    final Map<Integer, long[]> repairGrants = new HashMap<>();

    long repairGranted;
    long lastHeardNanos;
    long endedNanos;
    int lossPermille;
    int smoothedLossPermille;
    int overflowPermille;
    int smoothedOverflowPermille;

    /**
     * Its own kernel drops far more than the group's: short of CPU or disk (see {@link #isSlow}).
     */
    boolean slow;

    /**
     * STATUS samples that found it slow: how long it spent short of CPU or disk, in tenths of a
     * second.
     */
    long slowSamples;

    long lossSampleNanos = Long.MIN_VALUE;

    /** Packets it had received by its newest STATUS (-1 before one came). */
    long receivedCount = -1;

    /** Its packets received per second, from the counts in its STATUS (the pace's bottleneck). */
    final DeliveryRate delivery = new DeliveryRate();

    /** Packets the sender had sent when {@link #receivedCount} last grew. */
    long sentAtLastReceive;

    /**
     * No multicast reaches it: the sender has sent {@link #DEAF_AFTER_PACKETS} since its count of
     * received packets last grew (a blocked group, a firewall; docs/unicast.md). Its zero loss is
     * no measure of the wire and its NAKs no reason to repair.
     */
    boolean deaf;

    long symbolsNeeded;
    long chunksDone;
    long bytesWritten;
    long packets;
    long repairs;
    long duplicates;
    ReceiverState state = ReceiverState.ACTIVE;
    String reason = "";

    /**
     * It checks its target first ({@link McastPacket#CAP_DELTA}) and is ready once its CHECKED
     * came.
     */
    final boolean checks;

    boolean checked;
    int chunksRight;
    long bytesRight;

    Receiver(int id, String name, InetAddress address, byte[] key, boolean checks, long now) {
      this.id = id;
      this.name = name;
      this.address = address;
      this.key = key == null ? null : key.clone();
      this.checks = checks;
      this.joinedNanos = now;
      this.lastHeardNanos = now;
    }

    public int id() {
      return id;
    }

    public String name() {
      return name;
    }

    public ReceiverState state() {
      return state;
    }

    public String reason() {
      return reason;
    }

    public long joinedNanos() {
      return joinedNanos;
    }

    public long endedNanos() {
      return endedNanos;
    }

    public int lossPermille() {
      return lossPermille;
    }

    public int chunksPending() {
      return need.cardinality();
    }

    public long chunksDone() {
      return chunksDone;
    }

    public long bytesWritten() {
      return bytesWritten;
    }

    public long packets() {
      return packets;
    }

    public long repairs() {
      return repairs;
    }

    public long duplicates() {
      return duplicates;
    }

    /** Source symbols of the chunks this receiver asked for: the lossless minimum it needed. */
    public long symbolsNeeded() {
      return symbolsNeeded;
    }

    /** Repair rows its NAKs added to what others had asked for. */
    public long repairGranted() {
      return repairGranted;
    }

    /**
     * True while it is a slow receiver: left out of the pace (see {@link SenderMachine#isSlow}).
     */
    public boolean slow() {
      return slow;
    }

    /** True while no multicast reaches it (see {@link SenderMachine#DEAF_AFTER_PACKETS}). */
    public boolean deaf() {
      return deaf;
    }

    /** STATUS reports (about one per 100 ms) during which it was a slow receiver. */
    public long slowSamples() {
      return slowSamples;
    }

    /**
     * True once it said what it needs: a first-version receiver at once, a delta one with its
     * CHECKED.
     */
    public boolean ready() {
      return !checks || checked;
    }

    /**
     * True when it hashed its target first and told what it holds (a delta receiver that sent
     * CHECKED).
     */
    public boolean checked() {
      return checked;
    }

    /** Chunks its target already held, by their SHA-256 (0 for a first-version receiver). */
    public int chunksRight() {
      return chunksRight;
    }

    /** Logical bytes those chunks carry. */
    public long bytesRight() {
      return bytesRight;
    }

    /** Chunks it asked for: what the sender had to get to it (done and pending). */
    public long chunksAsked() {
      return chunksDone + need.cardinality();
    }
  }

  /**
   * Packets sent without a receiver's count of received packets growing, after which it is deaf:
   * about 6 MB on the wire, a second or less at any rate a session runs at (a receiver stalled that
   * long by its CPU catches up from its socket buffer and counts again).
   */
  public static final long DEAF_AFTER_PACKETS = 4096;

  /**
   * While some receiver is deaf, a chunk only deaf receivers lack is started at most this often: a
   * trickle, so one that hears again counts packets again and is served in full, while the segment
   * (and the deaf nodes' own ports, where their unicast fallback runs) is spared a carousel nobody
   * hears.
   */
  public static final long DEAF_TRICKLE_NANOS = 1_000_000_000L;

  /** Repair rows a receiver may draw beyond its needed symbols before its NAKs count no more. */
  public static final long REPAIR_SLACK = 1024;

  /** A receiver delivered less than this share of the median delivery does not pace the group. */
  public static final double PACE_DELIVERY_SHARE = 0.8;

  /** A receiver this far (per mille) above the median smoothed loss no longer paces the group. */
  public static final int PACE_MARGIN_PERMILLE = 50;

  /**
   * A receiver whose smoothed socket overflow exceeds the group's median by more than this (per
   * mille) is slow: its own kernel drops what its process does not take in time. It stays slow
   * until its overflow is back within half of it.
   */
  public static final int SLOW_OVERFLOW_MARGIN_PERMILLE = 10;

  /** One packet to send: a source symbol ({@code row < 0}) or a repair row of a stripe. */
  public record Item(int chunk, int symbolOrStripe, int row) {
    public boolean repair() {
      return row >= 0;
    }
  }

  private static final class RepairState {
    final int[] pending;
    final int[] rowsSent;
    final long[] lastSentNanos;

    RepairState(int stripes) {
      pending = new int[stripes];
      rowsSent = new int[stripes];
      lastSentNanos = new long[stripes];
      Arrays.fill(lastSentNanos, Long.MIN_VALUE / 2);
    }

    boolean anyPending() {
      for (int p : pending) if (p > 0) return true;
      return false;
    }
  }

  private final Manifest manifest;
  private final Settings settings;

  /** The start rule's count: the setting, lowered when expected receivers are known to be gone. */
  private int minReceivers;

  private final int[] storedLength;
  private final SymbolLayout[] layouts;
  private final int[] demand;
  private final BitSet wanted = new BitSet();
  private final long[] lastPassNanos;
  private final long[] lastNakNanos;

  /**
   * Per chunk: how many times it was started whole; a receiver's repair budget renews with each.
   */
  private final long[] passOf;

  private final Map<Integer, Receiver> receivers = new LinkedHashMap<>();

  /**
   * Per chunk: rows sent so far and rows owed. Kept while the chunk is wanted, so rows are never
   * reused.
   */
  private final Map<Integer, RepairState> repairs = new HashMap<>();

  /** Chunks with rows owed, in the order they were asked for. */
  private final LinkedHashSet<Integer> repairQueue = new LinkedHashSet<>();

  private final ArrayDeque<Integer> urgent = new ArrayDeque<>();
  private int nextReceiverId = 1;
  private long firstJoinNanos = Long.MIN_VALUE;

  /** When the first receiver was ready (its needs known), or Long.MIN_VALUE before. */
  private long firstReadyNanos = Long.MIN_VALUE;

  /** How long the first ready receiver's check took from its join (0: one that does not check). */
  private long firstCheckNanos;

  private boolean started;
  private long startedNanos;
  private int cursor;
  private int lastPicked = -1;
  private int currentChunk = -1;
  private int currentSymbol;
  private long sourceSent;
  private long chunksSent;
  private final BitSet everSent = new BitSet();
  private long repairSent;
  private long passes;

  public SenderMachine(Manifest manifest, Settings settings) {
    this.manifest = manifest;
    this.settings = settings;
    this.minReceivers = settings.minReceivers();
    int n = manifest.chunkCount();
    storedLength = new int[n];
    layouts = new SymbolLayout[n];
    demand = new int[n];
    lastPassNanos = new long[n];
    Arrays.fill(lastPassNanos, Long.MIN_VALUE / 2);
    passOf = new long[n];
    lastNakNanos = new long[n];
    Arrays.fill(lastNakNanos, Long.MIN_VALUE / 2);
    for (int i = 0; i < n; i++) {
      var e = manifest.chunks().get(i);
      if (e.kind().isStored()) { // ZERO and UNUSED chunks are never sent
        storedLength[i] = e.storedLength();
        layouts[i] = new SymbolLayout(e.storedLength(), settings.symbolSize());
      }
    }
  }

  public Manifest manifest() {
    return manifest;
  }

  public Settings settings() {
    return settings;
  }

  /** The symbol layout of a stored chunk; null for a ZERO or UNUSED chunk. */
  public SymbolLayout layout(int chunk) {
    return layouts[chunk];
  }

  // ---- receivers ---------------------------------------------------------------------------

  /** A receiver whose feedback is taken from anywhere, unsealed: for simulations only. */
  int join(String name, long now) {
    return join(name, null, null, now);
  }

  /**
   * A receiver connected and said hello; returns its id.
   *
   * @param address where its control connection comes from: its STATUS and NAK must come from there
   * @param key its feedback key when it seals (it said {@link McastPacket#CAP_SEALED}), else null
   */
  public int join(String name, InetAddress address, byte[] key, long now) {
    return join(name, address, key, false, now);
  }

  /**
   * A receiver connected and said hello; returns its id.
   *
   * @param checks it said {@link McastPacket#CAP_DELTA}: it hashes its target first and counts
   *     toward the start only once its {@link #checked} came
   */
  public int join(String name, InetAddress address, byte[] key, boolean checks, long now) {
    int id = nextReceiverId++;
    if (id > 0xFFFF) throw new IllegalStateException("receiver ids exhausted");
    receivers.put(id, new Receiver(id, name, address, key, checks, now));
    if (firstJoinNanos == Long.MIN_VALUE) firstJoinNanos = now;
    if (!checks && firstReadyNanos == Long.MIN_VALUE) firstReadyNanos = now;
    return id;
  }

  /** Adds chunks a receiver needs; ZERO and UNUSED chunks and unknown indexes are ignored. */
  public void need(int id, BitSet chunks, long now) {
    Receiver r = active(id);
    if (r == null) return;
    r.lastHeardNanos = now;
    for (int c = chunks.nextSetBit(0); c >= 0 && c < demand.length; c = chunks.nextSetBit(c + 1)) {
      if (storedLength[c] == 0 || r.need.get(c)) continue;
      r.need.set(c);
      r.symbolsNeeded += layouts[c].sourceCount();
      if (demand[c]++ == 0) wanted.set(c);
    }
  }

  /**
   * A delta receiver's check of its target: what it already holds and which chunks it needs. Taken
   * once; what it names beyond the manifest, or of chunks that store nothing (ZERO and UNUSED are
   * never sent: a receiver fixes them itself), is dropped. A second CHECKED is dropped whole (a
   * chunk that later fails its check is asked for with NEED).
   *
   * @return the chunk indexes dropped, for the caller's count of hostile input (0: all taken)
   */
  public long checked(int id, ControlMessage.Checked c, long now) {
    Receiver r = active(id);
    if (r == null) return 0;
    r.lastHeardNanos = now;
    if (!r.checks || r.checked) return c.chunksNeeded();
    r.checked = true;
    if (firstReadyNanos == Long.MIN_VALUE) {
      firstReadyNanos = now;
      firstCheckNanos = Math.max(0, now - r.joinedNanos);
    }
    r.chunksRight = Math.min(c.chunksRight(), demand.length);
    r.bytesRight = Math.min(c.bytesRight(), manifest.logicalSize());
    BitSet needed = c.needed(demand.length);
    long dropped = c.chunksNeeded() - needed.cardinality();
    for (int i = needed.nextSetBit(0); i >= 0; i = needed.nextSetBit(i + 1)) {
      if (storedLength[i] == 0) {
        needed.clear(i);
        dropped++;
      }
    }
    need(id, needed, now);
    return dropped;
  }

  /** A receiver has written and verified these chunks. */
  public void done(int id, int[] chunks, long now) {
    Receiver r = active(id);
    if (r == null) return;
    r.lastHeardNanos = now;
    for (int c : chunks) {
      if (c >= 0 && c < demand.length && r.need.get(c)) {
        r.need.clear(c);
        r.chunksDone++;
        dropDemand(c);
      }
    }
  }

  /** A receiver reported its final result. */
  public void finished(int id, ControlMessage.Finished f, long now) {
    Receiver r = active(id);
    if (r == null) return;
    r.bytesWritten = f.bytesWritten();
    r.packets = f.packets();
    r.repairs = f.repairs();
    r.duplicates = f.duplicates();
    if (f.ok() && !r.need.isEmpty()) {
      end(
          r,
          ReceiverState.FAILED,
          "reported success with " + r.need.cardinality() + " chunks missing",
          now);
    } else {
      end(r, f.ok() ? ReceiverState.SUCCEEDED : ReceiverState.FAILED, f.reason(), now);
    }
  }

  /** A receiver's control connection closed before it finished. */
  public void disconnected(int id, long now) {
    Receiver r = active(id);
    if (r != null) drop(r, "control connection lost", now);
  }

  /** Ends a receiver for a reason of the sender's own (e.g. a protocol violation). */
  public void fail(int id, String reason, long now) {
    Receiver r = active(id);
    if (r != null) drop(r, reason, now);
  }

  /**
   * Ends a receiver that did not say how it ended: FAILED once it had received something, else
   * GONE.
   */
  private void drop(Receiver r, String reason, long now) {
    end(r, r.chunksDone > 0 ? ReceiverState.FAILED : ReceiverState.GONE, reason, now);
  }

  /** Drops receivers silent for longer than the timeout, or past their deadline; returns them. */
  public List<Receiver> expire(long now) {
    List<Receiver> dropped = new ArrayList<>();
    for (Receiver r : receivers.values()) {
      if (r.state != ReceiverState.ACTIVE) continue;
      if (now - r.lastHeardNanos > settings.receiverTimeoutNanos()) {
        drop(r, "silent for " + settings.receiverTimeoutNanos() / 1_000_000_000.0 + " s", now);
        dropped.add(r);
      } else if (started && now - deadlineBase(r) > settings.receiverDeadlineNanos()) {
        drop(
            r,
            "not finished within the receiver deadline of "
                + settings.receiverDeadlineNanos() / 1_000_000_000L
                + " s ("
                + r.chunksDone
                + " chunks done, "
                + r.need.cardinality()
                + " pending)",
            now);
        dropped.add(r);
      }
    }
    return dropped;
  }

  private long deadlineBase(Receiver r) {
    return Math.max(r.joinedNanos, startedNanos);
  }

  private void end(Receiver r, ReceiverState state, String reason, long now) {
    r.state = state;
    r.reason = reason;
    r.endedNanos = now;
    for (int c = r.need.nextSetBit(0); c >= 0; c = r.need.nextSetBit(c + 1)) dropDemand(c);
    r.need.clear();
  }

  private void dropDemand(int c) {
    if (--demand[c] == 0) {
      wanted.clear(c);
      repairs.remove(c);
      repairQueue.remove(c);
    }
  }

  private Receiver active(int id) {
    Receiver r = receivers.get(id);
    return r != null && r.state == ReceiverState.ACTIVE ? r : null;
  }

  public Collection<Receiver> receivers() {
    return Collections.unmodifiableCollection(receivers.values());
  }

  public Receiver receiver(int id) {
    return receivers.get(id);
  }

  // ---- feedback ----------------------------------------------------------------------------

  /**
   * A STATUS or NAK from {@code from}: counted only when it names an active receiver, comes from
   * the address it joined from (and the port of its first counted feedback) and, for a receiver
   * that seals, carries a valid seal with a counter above the last one counted. Anything else is
   * ignored and the verdict says why.
   */
  public Feedback feedback(McastPacket p, InetAddress fromAddress, int fromPort, long now) {
    int id;
    Optional<Seal> seal;
    McastPacket unsealed;
    if (p instanceof Status s) {
      id = s.receiverId();
      seal = s.seal();
      unsealed = s.withSeal(Optional.empty());
    } else if (p instanceof Nak n) {
      id = n.receiverId();
      seal = n.seal();
      unsealed = n.withSeal(Optional.empty());
    } else {
      throw new IllegalArgumentException("not feedback: " + p.getClass().getSimpleName());
    }
    Receiver r = active(id);
    if (r == null) return Feedback.UNKNOWN_RECEIVER;
    if (r.address != null && !r.address.equals(fromAddress)) return Feedback.WRONG_ADDRESS;
    if (r.port >= 0 && r.port != fromPort) return Feedback.WRONG_ADDRESS;
    if (r.key != null) {
      if (seal.isEmpty() || !McastAuth.verify(unsealed, seal.get(), r.key))
        return Feedback.BAD_SEAL;
      if (seal.get().counter() <= r.lastCounter) return Feedback.REPLAYED;
      r.lastCounter = seal.get().counter();
    }
    if (r.port < 0) r.port = fromPort;
    if (p instanceof Status s) {
      status(s, now);
    } else {
      nak((Nak) p, now);
    }
    return Feedback.ACCEPTED;
  }

  /** A heartbeat: liveness, progress and loss. Only after {@link #feedback} checked it. */
  void status(Status s, long now) {
    Receiver r = active(s.receiverId());
    if (r == null) return;
    r.lastHeardNanos = now;
    // A delta receiver still hashing its target only says it is alive: it receives nothing yet,
    // and its zeros must not weigh in the group's medians.
    if (!r.ready()) return;
    r.lossPermille = s.lossPermille();
    r.overflowPermille = s.overflowPermille();
    // Lagging is judged on loss smoothed over about a second: one CPU stall at a receiver is a
    // burst to repair, not a reason to stop repairing it.
    boolean first = r.lossSampleNanos == Long.MIN_VALUE;
    r.smoothedLossPermille =
        first ? s.lossPermille() : (r.smoothedLossPermille * 7 + s.lossPermille() * 3) / 10;
    r.smoothedOverflowPermille =
        first
            ? s.overflowPermille()
            : (r.smoothedOverflowPermille * 7 + s.overflowPermille() * 3) / 10;
    r.lossSampleNanos = now;
    r.bytesWritten = s.bytesWritten();
    r.delivery.onCount(s.received(), now);
    long sent = sourceSent + repairSent;
    if (s.received() != r.receivedCount) {
      r.receivedCount = s.received();
      r.sentAtLastReceive = sent;
    }
    r.deaf = sent - r.sentAtLastReceive >= DEAF_AFTER_PACKETS;
    int median = medianSmoothedOverflow(now);
    if (r.smoothedOverflowPermille > median + SLOW_OVERFLOW_MARGIN_PERMILLE) {
      r.slow = true;
    } else if (r.smoothedOverflowPermille <= median + SLOW_OVERFLOW_MARGIN_PERMILLE / 2) {
      r.slow = false;
    }
    if (r.slow) r.slowSamples++;
  }

  /**
   * Merges a loss report into the repair plan. Only after {@link #feedback} checked it. A
   * receiver's influence is bounded: in one pass of a chunk its NAKs add at most the chunk's source
   * symbols to what others asked for (it cannot plausibly lose more than the whole chunk), and in
   * all at most its needed symbols plus {@link #REPAIR_SLACK}; beyond that it is a slow receiver
   * and is served by the carousel like one.
   */
  void nak(Nak nak, long now) {
    Receiver r = active(nak.receiverId());
    if (r == null) return;
    r.lastHeardNanos = now;
    // A deaf receiver would not hear the repairs: every other receiver would pay for them.
    if (r.deaf || isLagging(r, now)) return;
    for (Nak.Entry e : nak.entries()) {
      int c = e.chunk();
      if (c >= demand.length || !r.need.get(c)) continue;
      SymbolLayout layout = layouts[c];
      long[] grant = r.repairGrants.computeIfAbsent(c, x -> new long[] {passOf[c], 0});
      if (grant[0] != passOf[c]) {
        grant[0] = passOf[c];
        grant[1] = 0;
      }
      long allowed =
          Math.min(
              layout.sourceCount() - grant[1], r.symbolsNeeded + REPAIR_SLACK - r.repairGranted);
      // Out of budget: its NAKs neither draw repairs nor hold the chunk back from the carousel.
      if (allowed <= 0) continue;
      lastNakNanos[c] = now;
      if (c == currentChunk) continue;
      if (e.stripes() != layout.stripes()) continue; // a confused receiver; its status will show it
      RepairState rs = repairs.computeIfAbsent(c, x -> new RepairState(layout.stripes()));
      for (int s = 0; s < e.stripes() && allowed > 0; s++) {
        int need =
            Math.min(e.need(s), layout.stripeSources(s)); // nobody lacks more than the stripe has
        if (need == 0) continue;
        int inFlight =
            now - rs.lastSentNanos[s] <= settings.repairWindowNanos()
                ? Math.max(0, rs.rowsSent[s] - e.rowsSeen(s))
                : 0;
        int added = (int) Math.min(allowed, Math.max(0, need - inFlight - rs.pending[s]));
        rs.pending[s] += added;
        allowed -= added;
        grant[1] += added;
        r.repairGranted += added;
      }
      if (rs.anyPending()) repairQueue.add(c);
    }
  }

  /** A receiver whose loss reports count in the medians and the pace: recent, and not deaf. */
  private boolean fresh(Receiver r, long now) {
    return r.state == ReceiverState.ACTIVE
        && !r.deaf
        && r.lossSampleNanos != Long.MIN_VALUE
        && now - r.lossSampleNanos <= 1_000_000_000L;
  }

  /** Median of the receivers' socket overflow smoothed over about a second, per mille. */
  private int medianSmoothedOverflow(long now) {
    int[] smoothed =
        receivers.values().stream()
            .filter(x -> fresh(x, now))
            .mapToInt(x -> x.smoothedOverflowPermille)
            .sorted()
            .toArray();
    return smoothed.length == 0 ? 0 : smoothed[(smoothed.length - 1) / 2];
  }

  /** Median of the receivers' loss smoothed over about a second, per mille. */
  private int medianSmoothedLoss(long now) {
    int[] smoothed =
        receivers.values().stream()
            .filter(x -> fresh(x, now))
            .mapToInt(x -> x.smoothedLossPermille)
            .sorted()
            .toArray();
    return smoothed.length == 0 ? 0 : smoothed[(smoothed.length - 1) / 2];
  }

  /**
   * The loss to pace by, per mille: the highest loss, smoothed over about a second, among receivers
   * that keep up. Not the median: on a crowded host receivers take turns falling behind, and a
   * median of four stays at zero while each loses a third in its turn. Receivers whose smoothed
   * loss is more than {@link #PACE_MARGIN_PERMILLE} above the median are left out, so one slow node
   * cannot set everyone's pace: were it counted until it lagged by the full lag margin, the group
   * would settle at the rate where the slow node loses just under that margin. Slow receivers
   * ({@link #isSlow}) are left out too.
   */
  public int pacingLossPermille(long now) {
    return kept(now).mapToInt(r -> r.smoothedLossPermille).max().orElse(0);
  }

  /**
   * The highest share of packets that a receiver keeping up dropped for want of socket buffer
   * space, per mille: unambiguous congestion, unlike loss on the path, which the sender cannot cure
   * by slowing down. Not smoothed: on a crowded host the smoothed signal lagged the cuts and
   * over-cut (McastSimulationTest, receivers taking turns: 0.61 of their capacity against 0.70); a
   * receiver short of CPU may so cut the rate once before it is told apart as slow.
   */
  public int pacingOverflowPermille(long now) {
    return kept(now).mapToInt(r -> r.overflowPermille).max().orElse(0);
  }

  /**
   * Packets per second that the slowest receiver keeping up reported as received over its last few
   * STATUS ({@link DeliveryRate}), or -1 while none is known: what the narrowest path to a receiver
   * that paces carries, for the {@link org.clonecast.protocol.pace.Pacer}. Receivers left out of
   * the pace (slow, lagging or deaf ones) are left out here too: a node short of CPU gets what it
   * can and the rest later, and must not set everyone's rate.
   */
  public double pacingDeliveredPacketsPerSecond(long now) {
    double[] rates =
        kept(now)
            .mapToDouble(r -> r.delivery.packetsPerSecond())
            .filter(x -> x >= 0)
            .sorted()
            .toArray();
    if (rates.length == 0) return -1;
    // One far below the group's median has a narrower path of its own (its port): as one whose
    // loss is far above the median, it does not set everyone's pace, and finishes from later
    // passes (McastLabIT.lossKillLateJoinAndASlowAgent: a 40 Mbit/s port among faster ones).
    double median = rates[(rates.length - 1) / 2];
    for (double r : rates) if (r >= median * PACE_DELIVERY_SHARE) return r;
    return median;
  }

  private Stream<Receiver> kept(long now) {
    int median = medianSmoothedLoss(now);
    return receivers.values().stream()
        .filter(
            r ->
                fresh(r, now)
                    && !r.slow
                    && r.smoothedLossPermille <= median + PACE_MARGIN_PERMILLE);
  }

  /**
   * True while this receiver is slow: its own kernel drops packets for want of socket buffer space
   * (its process is short of CPU, or its disk holds it up) far more than the group's median
   * receiver does. Overflow at one node is that node's shortage, not the wire's: slowing the group
   * would cost every other receiver and not cure it. So it does not pace the group; it takes what
   * it can, is repaired while its loss stays within the lag margin, and gets the rest from later
   * passes of the carousel. When it is the median itself (alone, or most receivers overflow alike:
   * the sender is too fast for them all) it is not slow and paces as any other.
   */
  public boolean isSlow(Receiver r) {
    return r.slow;
  }

  /**
   * True when this receiver's smoothed loss is far above the group's median: more than the lag
   * margin, or, for a slow receiver ({@link #isSlow}), more than {@link #PACE_MARGIN_PERMILLE}.
   * Repair rows go to every receiver before new data, so each one a receiver draws costs the others
   * a packet's time on the wire: a node short of CPU that loses a tenth would cost them a tenth.
   * Within the pace margin its repairs cost the others little and spare it a second pass.
   */
  public boolean isLagging(Receiver r, long now) {
    return r.smoothedLossPermille
        > medianSmoothedLoss(now) + (r.slow ? PACE_MARGIN_PERMILLE : settings.lagMarginPermille());
  }

  // ---- session -----------------------------------------------------------------------------

  /**
   * Expect at most {@code n} receivers: some that were waited for failed before they could join (a
   * session driver knows), so the start does not wait out maxWait for them.
   */
  public void lowerMinReceivers(int n) {
    minReceivers = Math.max(1, Math.min(minReceivers, n));
  }

  /**
   * Starts the transfer when the start rule is met; returns true once started. The rule: {@code
   * minReceivers} are ready (their needs known); or {@code maxWait} has passed since the first
   * joined; or, with a check grace, {@code minReceivers} have joined and the first was ready a
   * grace ago ({@link #quorumStartNanos}).
   */
  public boolean maybeStart(long now) {
    if (started) return true;
    long joined = receivers.values().stream().filter(r -> r.state == ReceiverState.ACTIVE).count();
    // Ready: its needs are known (a delta receiver's check is done). One that said it has ended
    // counts too, whether it needed nothing or failed before its check (it refused the image, its
    // disk is too small): it is no reason to wait out maxWait. One whose connection dropped
    // (GONE) is not: the session waits for others as long as it would have.
    long ready =
        receivers.values().stream()
            .filter(
                r ->
                    r.state == ReceiverState.SUCCEEDED
                        || r.state == ReceiverState.FAILED
                        || (r.state == ReceiverState.ACTIVE && r.ready()))
            .count();
    boolean enough = ready >= minReceivers;
    boolean waited =
        firstJoinNanos != Long.MIN_VALUE
            && now - firstJoinNanos >= settings.maxWaitNanos()
            && (joined > 0 || ready > 0);
    // Every awaited receiver is here and the first has been ready for the grace: the others' checks
    // are not waited out (what they need of the chunks sent meanwhile comes on a later pass).
    long arrived = receivers.values().stream().filter(r -> r.state != ReceiverState.GONE).count();
    boolean graced =
        settings.checkGraceNanos() > 0
            && arrived >= minReceivers
            && ready > 0
            && now >= quorumStartNanos();
    if (enough || waited || graced) {
      started = true;
      startedNanos = now;
    }
    return started;
  }

  public boolean started() {
    return started;
  }

  /**
   * When the check grace lets the transfer start, once every awaited receiver has joined: the first
   * receiver ready plus the longer of {@link Settings#checkGraceNanos} and its own check's time;
   * Long.MAX_VALUE when there is no such time (started, no grace, or nobody ready yet). A driver
   * wakes then to call {@link #maybeStart}.
   */
  public long quorumStartNanos() {
    if (started || settings.checkGraceNanos() == 0 || firstReadyNanos == Long.MIN_VALUE) {
      return Long.MAX_VALUE;
    }
    return firstReadyNanos + Math.max(settings.checkGraceNanos(), firstCheckNanos);
  }

  public long startedNanos() {
    return startedNanos;
  }

  /** True once the transfer started and every receiver has ended, one way or the other. */
  public boolean complete() {
    return started && receivers.values().stream().noneMatch(r -> r.state == ReceiverState.ACTIVE);
  }

  /**
   * True when the session is over: complete, or never started because every receiver that joined
   * has left again and {@code maxWait} has passed since the first joined (nobody is left to wait
   * for: waiting on would hang a sender whose only receivers failed before the start).
   */
  public boolean over(long now) {
    if (complete()) return true;
    return !started
        && firstJoinNanos != Long.MIN_VALUE
        && activeReceivers() == 0
        && now - firstJoinNanos >= settings.maxWaitNanos();
  }

  /** When {@link #over} may become true by time alone, or Long.MAX_VALUE. */
  public long overNanos() {
    return !started && firstJoinNanos != Long.MIN_VALUE
        ? firstJoinNanos + settings.maxWaitNanos()
        : Long.MAX_VALUE;
  }

  /**
   * The next packet to send, or null when nothing may be sent now (not started, nothing wanted, or
   * every wanted chunk is inside its resend holdoff: see {@link #nextWakeNanos}).
   */
  public Item next(long now) {
    if (!started) return null;
    Item repair = nextRepair(now);
    if (repair != null) return repair;
    if (currentChunk >= 0 && !wanted.get(currentChunk))
      currentChunk = -1; // nobody needs it any more
    if (currentChunk < 0 && !pickChunk(now)) return null;
    Item item = new Item(currentChunk, currentSymbol, -1);
    sourceSent++;
    if (++currentSymbol == layouts[currentChunk].sourceCount()) {
      lastPassNanos[currentChunk] = now;
      currentChunk = -1;
    }
    return item;
  }

  private Item nextRepair(long now) {
    Iterator<Integer> it = repairQueue.iterator();
    while (it.hasNext()) {
      int c = it.next();
      RepairState rs = repairs.get(c);
      for (int s = 0; rs != null && s < rs.pending.length; s++) {
        if (rs.pending[s] == 0) continue;
        if (rs.rowsSent[s] >= SymbolLayout.MAX_REPAIR_ROWS) {
          // Rows exhausted: the stripe lost more than the code can repair; send the chunk whole.
          rs.pending[s] = 0;
          if (!urgent.contains(c)) urgent.add(c);
          continue;
        }
        rs.pending[s]--;
        rs.lastSentNanos[s] = now;
        repairSent++;
        return new Item(c, s, rs.rowsSent[s]++);
      }
      it.remove();
    }
    return null;
  }

  /** When the last chunk only deaf receivers lacked was started. */
  private long lastDeafOnlyNanos = Long.MIN_VALUE;

  private boolean anyDeaf() {
    for (Receiver r : receivers.values())
      if (r.state == ReceiverState.ACTIVE && r.deaf) return true;
    return false;
  }

  /** Whether a receiver that hears the multicast still lacks chunk {@code c}. */
  private boolean heardDemand(int c) {
    for (Receiver r : receivers.values())
      if (r.state == ReceiverState.ACTIVE && !r.deaf && r.need.get(c)) return true;
    return false;
  }

  private boolean pickChunk(long now) {
    if (!anyDeaf()) return pickChunk(now, false);
    // Chunks a hearing receiver lacks first; one only deaf ones lack at most once per trickle.
    if (pickChunk(now, true)) return true;
    if (lastDeafOnlyNanos != Long.MIN_VALUE && now - lastDeafOnlyNanos < DEAF_TRICKLE_NANOS)
      return false;
    if (!pickChunk(now, false)) return false;
    lastDeafOnlyNanos = now;
    return true;
  }

  private boolean pickChunk(long now, boolean heardOnly) {
    while (!urgent.isEmpty()) {
      int c = urgent.poll();
      if (wanted.get(c)) {
        startChunk(c);
        return true;
      }
    }
    int n = demand.length;
    if (wanted.isEmpty()) return false;
    // Scan at most once around the carousel from the cursor for a chunk out of its holdoff.
    for (int c = wanted.nextSetBit(cursor), seen = 0; seen <= n; seen++) {
      if (c < 0) {
        c = wanted.nextSetBit(0);
        if (c < 0) return false;
      }
      // A chunk someone is still repairing by NAK is not sent whole: the repair is cheaper.
      if (now - lastPassNanos[c] >= settings.resendHoldoffNanos()
          && now - lastNakNanos[c] >= settings.resendHoldoffNanos()
          && (!heardOnly || heardDemand(c))) {
        if (c <= lastPicked) passes++; // wrapped around: a new pass of the carousel
        lastPicked = c;
        cursor = c + 1;
        startChunk(c);
        return true;
      }
      c = c + 1 >= n ? -1 : wanted.nextSetBit(c + 1);
    }
    return false;
  }

  private void startChunk(int c) {
    passOf[c]++;
    chunksSent++;
    everSent.set(c);
    currentChunk = c;
    currentSymbol = 0;
    RepairState rs = repairs.get(c);
    if (rs != null) Arrays.fill(rs.pending, 0); // the whole chunk is on its way again
    repairQueue.remove(c);
  }

  /** Earliest time a held-off chunk becomes sendable again, or Long.MAX_VALUE. */
  public long nextWakeNanos() {
    long wake = Long.MAX_VALUE;
    boolean deaf = anyDeaf();
    for (int c = wanted.nextSetBit(0); c >= 0; c = wanted.nextSetBit(c + 1)) {
      long at = Math.max(lastPassNanos[c], lastNakNanos[c]) + settings.resendHoldoffNanos();
      if (deaf && lastDeafOnlyNanos != Long.MIN_VALUE && !heardDemand(c))
        at = Math.max(at, lastDeafOnlyNanos + DEAF_TRICKLE_NANOS);
      wake = Math.min(wake, at);
    }
    return wake;
  }

  // ---- accounting --------------------------------------------------------------------------

  public long sourceSymbolsSent() {
    return sourceSent;
  }

  public long repairSymbolsSent() {
    return repairSent;
  }

  /**
   * Chunks started whole: one per chunk and pass (a delta session sends only the union of what
   * receivers lack).
   */
  public long chunksSent() {
    return chunksSent;
  }

  /**
   * Distinct chunks sent at least once: in a delta session, the union of what the receivers lacked.
   */
  public int distinctChunksSent() {
    return everSent.cardinality();
  }

  /** Completed carousel wrap-arounds. */
  public long passes() {
    return passes;
  }

  /** Chunks some active receiver still needs. */
  public int chunksWanted() {
    return wanted.cardinality();
  }

  public int activeReceivers() {
    return (int) receivers.values().stream().filter(r -> r.state == ReceiverState.ACTIVE).count();
  }
}

package org.clonecast.protocol.mcast;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.clonecast.protocol.image.Manifest;

/**
 * Decides what the sender multicasts next. Pure: no I/O, no clock; every input carries
 * {@code nowNanos}. Not thread-safe: drive it from one thread (the sender's event loop).
 *
 * <p>The plan (docs/protocol.md §4):
 * <ul>
 *   <li><b>Carousel.</b> Chunks that any active receiver still needs are sent in index order,
 *       wrapping around, so late joiners and receivers that fell behind catch up on a later
 *       pass. A chunk is not sent again within {@code resendHoldoff} of its last pass: losses in
 *       it are repaired by FEC on request, not by resending it whole.</li>
 *   <li><b>Repair.</b> NAKs say, per stripe, how many symbols a receiver still lacks and how many
 *       repair rows it has seen. Requests are merged: the sender sends the largest need of any
 *       receiver, less rows already on their way, as fresh Cauchy rows, so one repair packet fixes
 *       different losses at different receivers. Repairs go before new data.</li>
 *   <li><b>No receiver sets the pace.</b> Nobody is waited for. A receiver whose smoothed loss is
 *       far above the group's median is lagging: its NAKs do not trigger repairs and its loss does
 *       not pace the group while others are active; it catches up on later passes, when it is
 *       alone and the pacer slows to it.</li>
 *   <li><b>Dead receivers</b> are dropped after {@code receiverTimeout} of silence or when their
 *       control connection closes; their needs stop keeping chunks in the carousel.</li>
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
   */
  public record Settings(
      int symbolSize,
      int minReceivers,
      long maxWaitNanos,
      long receiverTimeoutNanos,
      long resendHoldoffNanos,
      long repairWindowNanos,
      int lagMarginPermille) {
    public Settings {
      if (symbolSize < SymbolLayout.MIN_SYMBOL_SIZE || symbolSize > SymbolLayout.MAX_SYMBOL_SIZE) {
        throw new IllegalArgumentException("symbol size " + symbolSize);
      }
      if (minReceivers < 1) throw new IllegalArgumentException("min receivers " + minReceivers + ", want >= 1");
      if (maxWaitNanos < 0 || receiverTimeoutNanos <= 0 || resendHoldoffNanos < 0 || repairWindowNanos < 0) {
        throw new IllegalArgumentException("negative duration in " + this);
      }
    }

    /** Defaults for a LAN: start on the first receiver, drop after 10 s of silence. */
    public static Settings defaults(int symbolSize) {
      return new Settings(symbolSize, 1, 10_000_000_000L, 10_000_000_000L, 300_000_000L, 30_000_000L, 200);
    }
  }

  /** Where a receiver stands. */
  public enum ReceiverState { ACTIVE, SUCCEEDED, FAILED }

  /** What the sender knows about one receiver. Read-only view for reports. */
  public static final class Receiver {
    final int id;
    final String name;
    final BitSet need = new BitSet();
    final long joinedNanos;
    long lastHeardNanos;
    long endedNanos;
    int lossPermille;
    int smoothedLossPermille;
    int overflowPermille;
    long lossSampleNanos = Long.MIN_VALUE;
    long symbolsNeeded;
    long chunksDone;
    long bytesWritten;
    long packets;
    long repairs;
    long duplicates;
    ReceiverState state = ReceiverState.ACTIVE;
    String reason = "";

    Receiver(int id, String name, long now) {
      this.id = id;
      this.name = name;
      this.joinedNanos = now;
      this.lastHeardNanos = now;
    }

    public int id() { return id; }
    public String name() { return name; }
    public ReceiverState state() { return state; }
    public String reason() { return reason; }
    public long joinedNanos() { return joinedNanos; }
    public long endedNanos() { return endedNanos; }
    public int lossPermille() { return lossPermille; }
    public int chunksPending() { return need.cardinality(); }
    public long chunksDone() { return chunksDone; }
    public long bytesWritten() { return bytesWritten; }
    public long packets() { return packets; }
    public long repairs() { return repairs; }
    public long duplicates() { return duplicates; }
    /** Source symbols of the chunks this receiver asked for: the lossless minimum it needed. */
    public long symbolsNeeded() { return symbolsNeeded; }
  }

  /** A receiver this far (per mille) above the median smoothed loss no longer paces the group. */
  public static final int PACE_MARGIN_PERMILLE = 50;

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
  private final Map<Integer, Receiver> receivers = new LinkedHashMap<>();
  /** Per chunk: rows sent so far and rows owed. Kept while the chunk is wanted, so rows are never reused. */
  private final Map<Integer, RepairState> repairs = new HashMap<>();
  /** Chunks with rows owed, in the order they were asked for. */
  private final LinkedHashSet<Integer> repairQueue = new LinkedHashSet<>();
  private final ArrayDeque<Integer> urgent = new ArrayDeque<>();
  private int nextReceiverId = 1;
  private long firstJoinNanos = Long.MIN_VALUE;
  private boolean started;
  private long startedNanos;
  private int cursor;
  private int lastPicked = -1;
  private int currentChunk = -1;
  private int currentSymbol;
  private long sourceSent;
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

  /** A receiver connected and said hello; returns its id. */
  public int join(String name, long now) {
    int id = nextReceiverId++;
    if (id > 0xFFFF) throw new IllegalStateException("receiver ids exhausted");
    receivers.put(id, new Receiver(id, name, now));
    if (firstJoinNanos == Long.MIN_VALUE) firstJoinNanos = now;
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
      end(r, ReceiverState.FAILED, "reported success with " + r.need.cardinality() + " chunks missing", now);
    } else {
      end(r, f.ok() ? ReceiverState.SUCCEEDED : ReceiverState.FAILED, f.reason(), now);
    }
  }

  /** A receiver's control connection closed before it finished. */
  public void disconnected(int id, long now) {
    Receiver r = active(id);
    if (r != null) end(r, ReceiverState.FAILED, "control connection lost", now);
  }

  /** Ends a receiver for a reason of the sender's own (e.g. a protocol violation). */
  public void fail(int id, String reason, long now) {
    Receiver r = active(id);
    if (r != null) end(r, ReceiverState.FAILED, reason, now);
  }

  /** Drops receivers silent for longer than the timeout; returns them. */
  public List<Receiver> expire(long now) {
    List<Receiver> dropped = new ArrayList<>();
    for (Receiver r : receivers.values()) {
      if (r.state == ReceiverState.ACTIVE && now - r.lastHeardNanos > settings.receiverTimeoutNanos()) {
        end(r, ReceiverState.FAILED, "silent for " + settings.receiverTimeoutNanos() / 1_000_000_000.0 + " s", now);
        dropped.add(r);
      }
    }
    return dropped;
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

  /** A heartbeat: liveness, progress and loss. */
  public void status(Status s, long now) {
    Receiver r = active(s.receiverId());
    if (r == null) return;
    r.lastHeardNanos = now;
    r.lossPermille = s.lossPermille();
    r.overflowPermille = s.overflowPermille();
    // Lagging is judged on loss smoothed over about a second: one CPU stall at a receiver is a
    // burst to repair, not a reason to stop repairing it.
    r.smoothedLossPermille = r.lossSampleNanos == Long.MIN_VALUE ? s.lossPermille() : (r.smoothedLossPermille * 7 + s.lossPermille() * 3) / 10;
    r.lossSampleNanos = now;
    r.bytesWritten = s.bytesWritten();
  }

  /** Merges a loss report into the repair plan. */
  public void nak(Nak nak, long now) {
    Receiver r = active(nak.receiverId());
    if (r == null) return;
    r.lastHeardNanos = now;
    if (isLagging(r, now)) return;
    for (Nak.Entry e : nak.entries()) {
      int c = e.chunk();
      if (c >= demand.length || !r.need.get(c)) continue;
      lastNakNanos[c] = now;
      if (c == currentChunk) continue;
      SymbolLayout layout = layouts[c];
      if (e.stripes() != layout.stripes()) continue; // a confused receiver; its status will show it
      RepairState rs = repairs.computeIfAbsent(c, x -> new RepairState(layout.stripes()));
      for (int s = 0; s < e.stripes(); s++) {
        int need = e.need(s);
        if (need == 0) continue;
        int inFlight = now - rs.lastSentNanos[s] <= settings.repairWindowNanos()
            ? Math.max(0, rs.rowsSent[s] - e.rowsSeen(s)) : 0;
        rs.pending[s] = Math.max(rs.pending[s], need - inFlight);
      }
      if (rs.anyPending()) repairQueue.add(c);
    }
  }

  private boolean fresh(Receiver r, long now) {
    return r.state == ReceiverState.ACTIVE && r.lossSampleNanos != Long.MIN_VALUE && now - r.lossSampleNanos <= 1_000_000_000L;
  }

  /** Median of the receivers' loss smoothed over about a second, per mille. */
  private int medianSmoothedLoss(long now) {
    int[] smoothed = receivers.values().stream().filter(x -> fresh(x, now)).mapToInt(x -> x.smoothedLossPermille).sorted().toArray();
    return smoothed.length == 0 ? 0 : smoothed[(smoothed.length - 1) / 2];
  }

  /**
   * The loss to pace by, per mille: the highest loss, smoothed over about a second, among
   * receivers that keep up. Not the median: on a crowded host receivers take turns falling behind,
   * and a median of four stays at zero while each loses a third in its turn. Receivers whose
   * smoothed loss is more than {@link #PACE_MARGIN_PERMILLE} above the median are left out, so
   * one slow node cannot set everyone's pace: were it counted until it lagged by the full lag
   * margin, the group would settle at the rate where the slow node loses just under that margin.
   */
  public int pacingLossPermille(long now) {
    return kept(now).mapToInt(r -> r.smoothedLossPermille).max().orElse(0);
  }

  /**
   * The highest share of packets that a receiver keeping up dropped for want of socket buffer
   * space, per mille: unambiguous congestion, unlike loss on the path, which the sender cannot
   * cure by slowing down.
   */
  public int pacingOverflowPermille(long now) {
    return kept(now).mapToInt(r -> r.overflowPermille).max().orElse(0);
  }

  private java.util.stream.Stream<Receiver> kept(long now) {
    int median = medianSmoothedLoss(now);
    return receivers.values().stream().filter(r -> fresh(r, now) && r.smoothedLossPermille <= median + PACE_MARGIN_PERMILLE);
  }

  /** True when this receiver's smoothed loss is far above the group's median. */
  public boolean isLagging(Receiver r, long now) {
    return r.smoothedLossPermille > medianSmoothedLoss(now) + settings.lagMarginPermille();
  }

  // ---- session -----------------------------------------------------------------------------

  /**
   * Expect at most {@code n} receivers: some that were waited for failed before they could join
   * (a session driver knows), so the start does not wait out maxWait for them.
   */
  public void lowerMinReceivers(int n) {
    minReceivers = Math.max(1, Math.min(minReceivers, n));
  }

  /** Starts the transfer when the start rule is met; returns true once started. */
  public boolean maybeStart(long now) {
    if (started) return true;
    long joined = receivers.values().stream().filter(r -> r.state == ReceiverState.ACTIVE).count();
    boolean enough = joined >= minReceivers;
    boolean waited = firstJoinNanos != Long.MIN_VALUE && now - firstJoinNanos >= settings.maxWaitNanos() && joined > 0;
    if (enough || waited) {
      started = true;
      startedNanos = now;
    }
    return started;
  }

  public boolean started() {
    return started;
  }

  public long startedNanos() {
    return startedNanos;
  }

  /** True once the transfer started and every receiver has ended, one way or the other. */
  public boolean complete() {
    return started && receivers.values().stream().noneMatch(r -> r.state == ReceiverState.ACTIVE);
  }

  /**
   * The next packet to send, or null when nothing may be sent now (not started, nothing
   * wanted, or every wanted chunk is inside its resend holdoff: see {@link #nextWakeNanos}).
   */
  public Item next(long now) {
    if (!started) return null;
    Item repair = nextRepair(now);
    if (repair != null) return repair;
    if (currentChunk >= 0 && !wanted.get(currentChunk)) currentChunk = -1; // nobody needs it any more
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

  private boolean pickChunk(long now) {
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
      if (now - lastPassNanos[c] >= settings.resendHoldoffNanos() && now - lastNakNanos[c] >= settings.resendHoldoffNanos()) {
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
    currentChunk = c;
    currentSymbol = 0;
    RepairState rs = repairs.get(c);
    if (rs != null) Arrays.fill(rs.pending, 0); // the whole chunk is on its way again
    repairQueue.remove(c);
  }

  /** Earliest time a held-off chunk becomes sendable again, or Long.MAX_VALUE. */
  public long nextWakeNanos() {
    long wake = Long.MAX_VALUE;
    for (int c = wanted.nextSetBit(0); c >= 0; c = wanted.nextSetBit(c + 1)) {
      wake = Math.min(wake, Math.max(lastPassNanos[c], lastNakNanos[c]) + settings.resendHoldoffNanos());
    }
    return wake;
  }

  /** Deadline by which {@link #expire} should run again. */
  public long nextExpiryNanos() {
    long t = Long.MAX_VALUE;
    for (Receiver r : receivers.values()) {
      if (r.state == ReceiverState.ACTIVE) t = Math.min(t, r.lastHeardNanos + settings.receiverTimeoutNanos() + 1);
    }
    return t;
  }

  // ---- accounting --------------------------------------------------------------------------

  public long sourceSymbolsSent() {
    return sourceSent;
  }

  public long repairSymbolsSent() {
    return repairSent;
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

package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.clonecast.protocol.image.Manifest;

/**
 * Collects the symbols of the chunks a receiver needs and decides when to ask for repairs. Pure: no
 * I/O, no clock; every input carries {@code nowNanos}. Not thread-safe: one thread (the receiver's
 * network event loop) drives it; completed chunks are handed off as {@link CompleteChunk} for
 * decoding and writing elsewhere.
 *
 * <p>A chunk is complete when each of its stripes holds as many symbols (sources plus repair rows)
 * as it has sources. A chunk that stopped receiving (the sender moved on, or all went quiet) with
 * symbols missing is reported in a {@link Nak} after {@code nakDelay}, then again with exponential
 * backoff while it stays incomplete. At most {@code maxInProgress} chunks are held; beyond that the
 * least recently fed one is dropped and waits for the next pass.
 */
public final class ReceiverMachine {

  /**
   * @param nakDelayNanos quiet time on a stalled chunk before the first NAK
   * @param nakRetryNanos first retry interval, doubled per retry up to {@code nakRetryMaxNanos}
   * @param idleNanos no packets at all for this long makes every partial chunk stalled
   */
  public record Settings(
      long nakDelayNanos,
      long nakRetryNanos,
      long nakRetryMaxNanos,
      long idleNanos,
      int maxInProgress) {
    public Settings {
      if (nakDelayNanos < 0
          || nakRetryNanos <= 0
          || nakRetryMaxNanos < nakRetryNanos
          || idleNanos <= 0) {
        throw new IllegalArgumentException("bad timings " + this);
      }
      if (maxInProgress < 1) throw new IllegalArgumentException("max in progress " + maxInProgress);
    }

    public static Settings defaults() {
      return new Settings(3_000_000L, 40_000_000L, 400_000_000L, 100_000_000L, 192);
    }
  }

  /**
   * A chunk with enough symbols to rebuild its stored bytes (see {@link ChunkRebuilder}).
   *
   * @param data the source symbols at their places ({@code symbol * symbolSize}), zero where
   *     missing; {@code sourceCount * symbolSize} long
   * @param present which source symbols arrived
   */
  public record CompleteChunk(
      int chunk,
      SymbolLayout layout,
      byte[] data,
      boolean[] present,
      byte[][][] repairs,
      int[][] repairRows) {
    /** True when every source symbol arrived: the stored bytes are {@code data} as it is. */
    public boolean intact() {
      for (boolean b : present) if (!b) return false;
      return true;
    }
  }

  private static final class Partial {
    final SymbolLayout layout;
    final byte[] data;
    final boolean[] present;
    final int[] have;
    final int[] repairCount;
    final byte[][][] repairs;
    final int[][] rows;
    final int[] rowsSeen;
    long lastPacketNanos;
    long nakDueNanos;
    int naks;

    Partial(SymbolLayout layout, long now) {
      this.layout = layout;
      int stripes = layout.stripes();
      data = new byte[layout.sourceCount() * layout.symbolSize()];
      present = new boolean[layout.sourceCount()];
      have = new int[stripes];
      repairCount = new int[stripes];
      repairs = new byte[stripes][][];
      rows = new int[stripes][];
      rowsSeen = new int[stripes];
      lastPacketNanos = now;
    }

    /** A useful symbol arrived: the chunk is being served, so start the NAK backoff over. */
    void progress(long now, Settings settings) {
      if (naks > 0) {
        naks = 0;
        nakDueNanos = now + settings.nakRetryNanos();
      }
    }

    boolean complete() {
      for (int s = 0; s < have.length; s++) {
        if (have[s] + repairCount[s] < layout.stripeSources(s)) return false;
      }
      return true;
    }
  }

  private final Settings settings;
  private final int sessionId;
  private final int receiverId;
  private final int symbolSize;
  private final SymbolLayout[] layouts;
  private final BitSet needed;
  private final BitSet finished = new BitSet();
  private final BitSet handedOff = new BitSet();

  /** A chunk that fails its check this many times is not a transmission error. */
  public static final int MAX_CHUNK_FAILURES = 5;

  /**
   * Chunks waiting to be rebuilt and written at which the receiver takes no more ({@link #take}):
   * later passes bring them again.
   */
  public static final int MAX_PENDING_WRITES = 96;

  /**
   * Chunks waiting to be written from which a chunk taken counts as overflow ({@link #take}): the
   * writes are falling behind the wire, and the sender hears of it before anything is dropped.
   */
  public static final int BEHIND_PENDING_WRITES = 32;

  private final Map<Integer, Integer> failures = new HashMap<>();
  private final Map<Integer, Partial> partials = new LinkedHashMap<>(16, 0.75f, true);
  private int lastChunkSeen = -1;
  private long lastAnyPacketNanos;
  private boolean sawSeq;
  private int highestSeq;
  private long received;
  private long repairsReceived;
  private long duplicates;
  private long dropped;
  private long statusReceived;
  private long nakEntries;
  private long statusDrops;
  private long behind;
  private long statusBehind;
  private int statusSeq;

  /**
   * @param needed chunks to collect (ZERO and UNUSED chunks are never sent and must not be in it)
   */
  public ReceiverMachine(
      Manifest manifest,
      int sessionId,
      int receiverId,
      int symbolSize,
      BitSet needed,
      Settings settings) {
    this.settings = settings;
    this.sessionId = sessionId;
    this.receiverId = receiverId;
    this.symbolSize = symbolSize;
    this.needed = (BitSet) needed.clone();
    this.layouts = new SymbolLayout[manifest.chunkCount()];
    for (int c = needed.nextSetBit(0); c >= 0; c = needed.nextSetBit(c + 1)) {
      int len = manifest.chunks().get(c).storedLength();
      if (len == 0)
        throw new IllegalArgumentException(
            "chunk " + c + " stores nothing (ZERO or UNUSED) and cannot be needed");
      layouts[c] = new SymbolLayout(len, symbolSize);
    }
  }

  // ---- input -------------------------------------------------------------------------------

  /** Takes one source symbol; returns the chunk if it just became complete. */
  public CompleteChunk onData(DataPacket p, long now) {
    int c = p.chunk();
    if (c < layouts.length
        && layouts[c] != null
        && p.symbol() < layouts[c].sourceCount()
        && p.payload().readableBytes() != layouts[c].lengthOf(p.symbol())) {
      dropped++; // checked before accept() so a bad packet allocates nothing
      return null;
    }
    Partial part = accept(p.sessionId(), p.seq(), c, p.sourceCount(), now);
    if (part == null) return null;
    int j = p.symbol();
    if (part.present[j]) {
      duplicates++;
      return null;
    }
    // Straight to its place in the chunk; past the chunk's end the buffer stays zero, the padding
    // the code expects.
    p.payload()
        .getBytes(p.payload().readerIndex(), part.data, j * symbolSize, part.layout.lengthOf(j));
    part.present[j] = true;
    part.have[part.layout.stripeOf(j)]++;
    part.progress(now, settings);
    return maybeComplete(p.chunk(), part);
  }

  /** Takes one repair symbol; returns the chunk if it just became complete. */
  public CompleteChunk onRepair(RepairPacket p, long now) {
    int c = p.chunk();
    if (p.payload().readableBytes() != symbolSize
        || (c < layouts.length && layouts[c] != null && p.stripe() >= layouts[c].stripes())) {
      dropped++;
      return null;
    }
    Partial part = accept(p.sessionId(), p.seq(), c, p.sourceCount(), now);
    if (part == null) return null;
    int s = p.stripe();
    int n = part.repairCount[s];
    if (part.repairs[s] == null) {
      part.repairs[s] = new byte[4][];
      part.rows[s] = new int[4];
    }
    for (int i = 0; i < n; i++) {
      if (part.rows[s][i] == p.row()) {
        duplicates++;
        return null;
      }
    }
    part.rowsSeen[s] = Math.max(part.rowsSeen[s], p.row() + 1);
    if (part.have[s] + n >= part.layout.stripeSources(s)) {
      duplicates++; // stripe already decodable
      return null;
    }
    if (n == part.repairs[s].length) {
      part.repairs[s] = Arrays.copyOf(part.repairs[s], n * 2);
      part.rows[s] = Arrays.copyOf(part.rows[s], n * 2);
    }
    byte[] b = new byte[symbolSize];
    p.payload().getBytes(p.payload().readerIndex(), b);
    part.repairs[s][n] = b;
    part.rows[s][n] = p.row();
    part.repairCount[s] = n + 1;
    repairsReceived++;
    part.progress(now, settings);
    return maybeComplete(p.chunk(), part);
  }

  private Partial accept(int session, int seq, int chunk, int sourceCount, long now) {
    if (session != sessionId) {
      dropped++;
      return null;
    }
    received++;
    if (!sawSeq) {
      // Count gaps from the first packet seen: what went by before this receiver joined is not
      // loss.
      statusSeq = seq - 1;
      highestSeq = seq;
      sawSeq = true;
    } else if (seq - highestSeq > 0) {
      highestSeq = seq;
    }
    lastAnyPacketNanos = now;
    if (chunk >= layouts.length
        || !needed.get(chunk)
        || finished.get(chunk)
        || handedOff.get(chunk)) {
      duplicates++;
      return null;
    }
    SymbolLayout layout = layouts[chunk];
    if (layout.sourceCount() != sourceCount) {
      dropped++; // disagrees with the manifest: not our image
      return null;
    }
    lastChunkSeen = chunk;
    Partial part = partials.get(chunk);
    if (part == null) {
      if (partials.size() >= settings.maxInProgress()) {
        Iterator<Integer> eldest = partials.keySet().iterator();
        eldest.next();
        eldest.remove(); // the least recently fed chunk comes again on a later pass
      }
      part = new Partial(layout, now);
      partials.put(chunk, part);
    }
    part.lastPacketNanos = now;
    return part;
  }

  private CompleteChunk maybeComplete(int chunk, Partial part) {
    if (!part.complete()) return null;
    partials.remove(chunk);
    handedOff.set(chunk);
    int stripes = part.layout.stripes();
    byte[][][] reps = new byte[stripes][][];
    int[][] rows = new int[stripes][];
    for (int s = 0; s < stripes; s++) {
      int n = part.repairCount[s];
      reps[s] = n == 0 ? new byte[0][] : Arrays.copyOf(part.repairs[s], n);
      rows[s] = n == 0 ? new int[0] : Arrays.copyOf(part.rows[s], n);
    }
    return new CompleteChunk(chunk, part.layout, part.data, part.present, reps, rows);
  }

  /** The chunk was rebuilt, verified and written. */
  public void chunkWritten(int chunk) {
    handedOff.clear(chunk);
    finished.set(chunk);
  }

  /**
   * Takes {@code chunk} from another path (the agent's unicast fallback, docs/unicast.md): from now
   * on it is handed off as if it had been collected here, and what was collected of it is dropped
   * (no NAK asks for it any more). Returns false, taking nothing, when it is not needed, or already
   * collected, handed off or written. Give it back with {@link #chunkRejected} if the other path
   * fails; report it with {@link #chunkWritten} when written.
   */
  public boolean handOff(int chunk) {
    if (chunk < 0
        || chunk >= layouts.length
        || !needed.get(chunk)
        || finished.get(chunk)
        || handedOff.get(chunk)) return false;
    partials.remove(chunk);
    handedOff.set(chunk);
    return true;
  }

  /** Needed chunks neither written nor handed off: what another path may still fetch (a copy). */
  public BitSet missing() {
    BitSet m = (BitSet) needed.clone();
    m.andNot(finished);
    m.andNot(handedOff);
    return m;
  }

  /** The chunk could not be handled now: collect it again from a later pass. */
  public void chunkRejected(int chunk) {
    handedOff.clear(chunk);
  }

  /**
   * A chunk arrived whole while {@code pendingWrites} chunks wait to be rebuilt and written: true
   * if it is taken (to be written), false if the writes are too far behind ({@link
   * #MAX_PENDING_WRITES}) and it is to be collected again from a later pass.
   *
   * <p>From {@link #BEHIND_PENDING_WRITES} on, and when it is not taken, its packets count as
   * overflow in the next STATUS, as packets the socket had no room for do: the receiver takes the
   * wire's packets faster than it can write what they carry, so it is sent too much. Without it a
   * receiver short of CPU for its writes (a VM under emulation) reported no loss and no overflow,
   * the sender kept its pace, and the receiver dropped half of what it got and took it from later
   * passes: 26 passes for three such nodes (docs/protocol.md §6).
   */
  public boolean take(int chunk, int pendingWrites) {
    if (pendingWrites >= BEHIND_PENDING_WRITES
        && chunk >= 0
        && chunk < layouts.length
        && layouts[chunk] != null) behind += layouts[chunk].sourceCount();
    if (pendingWrites < MAX_PENDING_WRITES) return true;
    chunkRejected(chunk);
    return false;
  }

  /**
   * The chunk failed verification after rebuilding: collect it again from a later pass. Returns how
   * often it has failed; at {@link #MAX_CHUNK_FAILURES} the sender's copy is damaged, not the
   * transmission, and the receive should fail naming the chunk rather than take it again for ever.
   */
  public int chunkFailed(int chunk) {
    chunkRejected(chunk);
    return failures.merge(chunk, 1, Integer::sum);
  }

  // ---- output ------------------------------------------------------------------------------

  /** NAKs due now (possibly none). */
  public List<Nak> poll(long now) {
    boolean idle = now - lastAnyPacketNanos >= settings.idleNanos();
    List<Nak> out = new ArrayList<>();
    List<Nak.Entry> entries = new ArrayList<>();
    int bytes = 12;
    for (Map.Entry<Integer, Partial> e : partials.entrySet()) {
      int chunk = e.getKey();
      Partial p = e.getValue();
      boolean stalled = idle || chunk != lastChunkSeen;
      if (!stalled || now - p.lastPacketNanos < settings.nakDelayNanos() || now < p.nakDueNanos)
        continue;
      int stripes = p.layout.stripes();
      byte[] need = new byte[stripes];
      byte[] seen = new byte[stripes];
      for (int s = 0; s < stripes; s++) {
        need[s] = (byte) Math.max(0, p.layout.stripeSources(s) - p.have[s] - p.repairCount[s]);
        seen[s] = (byte) p.rowsSeen[s];
      }
      long backoff =
          Math.min(settings.nakRetryMaxNanos(), settings.nakRetryNanos() << Math.min(p.naks, 20));
      p.nakDueNanos = now + backoff;
      p.naks++;
      if (bytes + Nak.entryBytes(stripes) > 1400 || entries.size() == Nak.MAX_ENTRIES) {
        out.add(new Nak(sessionId, receiverId, entries));
        entries = new ArrayList<>();
        bytes = 12;
      }
      entries.add(new Nak.Entry(chunk, need, seen));
      nakEntries++;
      bytes += Nak.entryBytes(stripes);
    }
    if (!entries.isEmpty()) out.add(new Nak(sessionId, receiverId, entries));
    return out;
  }

  /** A heartbeat carrying progress and the loss since the previous one. */
  public Status status(long bytesWritten) {
    return status(bytesWritten, statusDrops);
  }

  /**
   * A heartbeat carrying progress, the loss since the previous one, and how much of it the socket
   * itself dropped for want of buffer space.
   *
   * @param socketDrops the receive socket's cumulative drop counter (kernel), or any constant if
   *     unknown
   */
  public Status status(long bytesWritten, long socketDrops) {
    int expected = sawSeq ? highestSeq - statusSeq : 0;
    long got = received - statusReceived;
    int loss = expected <= 0 ? 0 : (int) Math.max(0, Math.min(1000, 1000 - got * 1000 / expected));
    long drops = Math.max(0, socketDrops - statusDrops) + behind - statusBehind;
    int overflow = expected <= 0 ? 0 : (int) Math.min(1000, drops * 1000 / expected);
    statusSeq = highestSeq;
    statusReceived = received;
    statusDrops = socketDrops;
    statusBehind = behind;
    return new Status(
        sessionId,
        receiverId,
        loss,
        received,
        Integer.toUnsignedLong(highestSeq),
        finished.cardinality(),
        needed.cardinality(),
        bytesWritten,
        overflow);
  }

  /** Earliest time {@link #poll} may have something to say. */
  public long nextDeadlineNanos(long now) {
    long t = now + settings.idleNanos();
    for (Partial p : partials.values()) {
      t = Math.min(t, Math.max(p.nakDueNanos, p.lastPacketNanos + settings.nakDelayNanos()));
    }
    return t;
  }

  // ---- state -------------------------------------------------------------------------------

  /** True once every needed chunk is written. */
  public boolean allWritten() {
    return finished.cardinality() == needed.cardinality();
  }

  public int chunksWritten() {
    return finished.cardinality();
  }

  public int chunksNeeded() {
    return needed.cardinality();
  }

  public int inProgress() {
    return partials.size();
  }

  public long received() {
    return received;
  }

  /**
   * Repair symbols that were put to use (not those that arrived for an already decodable stripe).
   */
  public long repairsReceived() {
    return repairsReceived;
  }

  public long duplicates() {
    return duplicates;
  }

  /** Chunk entries sent in NAKs so far. */
  public long nakEntries() {
    return nakEntries;
  }

  /** Packets dropped because they did not fit the session or the manifest. */
  public long dropped() {
    return dropped;
  }

  /**
   * Whether a packet buffer is worth decoding: a cheap filter before {@link McastPacket#decode}.
   */
  public static boolean looksLikeOurs(ByteBuf buf) {
    return buf.readableBytes() >= McastPacket.HEADER_BYTES
        && buf.getUnsignedShort(buf.readerIndex()) == McastPacket.MAGIC;
  }
}

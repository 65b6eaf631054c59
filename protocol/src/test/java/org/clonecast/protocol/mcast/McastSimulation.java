package org.clonecast.protocol.mcast;

import io.netty.buffer.Unpooled;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.pace.Pacer;

/**
 * A whole session in memory: one {@link SenderMachine}, several {@link ReceiverMachine}s, a seeded
 * lossy channel per receiver and a virtual clock. Packets go through the real encoders, decoders
 * and the FEC code, so what the receivers rebuild is compared byte for byte.
 *
 * <p>{@link #runPaced} adds the sender's {@link Pacer} and a wire of a fixed rate, and a receiver
 * may have a limited capacity ({@link Sim#limit}): a socket buffer of so many packets that its
 * process drains at so many packets per second, the rest overflowing as on a node short of CPU.
 */
final class McastSimulation {
  static final int SYMBOL = 1000;
  static final long PACKET_NANOS = 100_000; // 10k packets per virtual second

  final Manifest manifest;
  final byte[][] stored;
  final SenderMachine sender;
  final List<Sim> receivers = new ArrayList<>();
  final Random random;
  long now = 1_000_000_000L;
  long sent;

  /** A receiver in the simulation. */
  final class Sim {
    final String name;
    final double loss;
    final long joinAt;
    final long dieAt;
    int id = -1;
    ReceiverMachine machine;
    boolean finished;
    long rebuiltOk;
    long lastStatus;

    /**
     * Packets per virtual second this receiver processes; infinite unless {@link #limit} was
     * called.
     */
    double capacityPps = Double.POSITIVE_INFINITY;

    int bufferPackets;
    double queued;
    long drainedAt;
    long socketDrops;

    /**
     * False when the limit is a switch port's (drops are loss on the path, not socket overflow).
     */
    boolean ownSocket = true;

    /**
     * With a turn: the process runs only one 50 ms slot in {@code turns}, starting at slot {@code
     * turn}.
     */
    int turns = 1;

    int turn;

    /** The sender's packet count when this receiver finished. */
    long finishedAtPacket = -1;

    /** Packets each loss event drops back to back ({@link #bursts}); 1 is independent loss. */
    int burst = 1;

    int burstLeft;

    /** Until this virtual time the process runs at {@link #coldShare} of its capacity. */
    long coldUntil = Long.MIN_VALUE;

    double coldShare = 1;

    /** True when its socket hands packets over as its process drains them, not at once. */
    boolean delays;

    /**
     * A delta receiver ({@link #checks}): how long its check of its target takes after it joined,
     * and the chunks it then needs; -1: a first-version receiver that needs every stored chunk.
     */
    long checkNanos = -1;

    BitSet checkNeeds;

    /** The sender's packet count when its CHECKED went out; -1 before. */
    long checkedAtPacket = -1;

    /** Virtual nanoseconds its writes take per chunk ({@link #writes}); 0: written at once. */
    long writeNanos;

    /** Chunks taken and not yet written: {chunk, the virtual time it is written}, in order. */
    final ArrayDeque<long[]> writing = new ArrayDeque<>();

    Sim(String name, double loss, long joinAt, long dieAt) {
      this.name = name;
      this.loss = loss;
      this.joinAt = joinAt;
      this.dieAt = dieAt;
    }

    /** Joined and past its check, if it checks: it receives (a checking one ignores the data). */
    boolean alive() {
      return id >= 0 && machine != null && now < dieAt && !finished;
    }

    /**
     * Checks its target first: {@code checkAfterNanos} after it joined it sends CHECKED naming
     * {@code needs} (stored chunks only), and receives only from then on.
     */
    Sim checks(long checkAfterNanos, BitSet needs) {
      checkNanos = checkAfterNanos;
      checkNeeds = (BitSet) needs.clone();
      checkNeeds.and(storedChunks());
      return this;
    }

    /**
     * Processes at most {@code packetsPerSecond}, with a socket buffer of {@code buffer} packets.
     */
    Sim limit(double packetsPerSecond, int buffer) {
      capacityPps = packetsPerSecond;
      bufferPackets = buffer;
      return this;
    }

    /**
     * Writes {@code chunksPerSecond}, one chunk after the other, as the agent's pipeline does: a
     * chunk that arrives whole waits for those before it, and the receiver takes it or not as
     * {@link ReceiverMachine#take} says for the chunks waiting. DONE goes out when it is taken,
     * FINISHED once the last is written.
     */
    Sim writes(double chunksPerSecond) {
      writeNanos = (long) (1e9 / chunksPerSecond);
      return this;
    }

    /**
     * Shares a host's CPU: runs at {@code packetsPerSecond} in one 50 ms slot of every {@code
     * turns}, starting at {@code turn}.
     */
    Sim takesTurns(double packetsPerSecond, int buffer, int turns, int turn) {
      limit(packetsPerSecond, buffer);
      this.turns = turns;
      this.turn = turn;
      return this;
    }

    /**
     * Behind a switch port of {@code packetsPerSecond} with a queue of {@code queue} packets (tc
     * tbf).
     */
    Sim port(double packetsPerSecond, int queue) {
      limit(packetsPerSecond, queue);
      ownSocket = false;
      return this;
    }

    /**
     * Loses its share in runs of {@code packets} back to back, as the lab's nftables rule does when
     * it drops a whole GSO batch: a STATUS then says 0 or several percent, never the mean.
     */
    Sim bursts(int packets) {
      burst = packets;
      return this;
    }

    /**
     * A process that has just started: for {@code nanos} after it joins it drains its socket at
     * {@code share} of its capacity (a JVM still interpreting its receive path).
     */
    Sim cold(long nanos, double share) {
      coldUntil = joinAt + nanos;
      coldShare = share;
      delays = true;
      return this;
    }

    /** True when the path loses the next packet. */
    boolean lost() {
      if (burstLeft > 0) {
        burstLeft--;
        return true;
      }
      if (random.nextDouble() < loss / burst) {
        burstLeft = burst - 1;
        return true;
      }
      return false;
    }

    /** Packets in its port's queue, with the virtual time each leaves it. */
    final ArrayDeque<Queued> portQueue = new ArrayDeque<>();

    /** True when the packet fits in its socket buffer (or port queue); false is a drop. */
    boolean admit() {
      if (capacityPps == Double.POSITIVE_INFINITY) return true;
      boolean running = (now / 50_000_000L + turn) % turns == 0;
      double pps = now < coldUntil ? capacityPps * coldShare : capacityPps;
      queued = Math.max(0, queued - (running ? (now - drainedAt) * pps / 1e9 : 0));
      drainedAt = now;
      if (queued + 1 > bufferPackets) {
        if (ownSocket) socketDrops++;
        return false;
      }
      queued++;
      return true;
    }

    /**
     * When a packet admitted now leaves its port: once the queue before it has gone out at the
     * port's rate. A socket buffer hands packets over at once (the process is what drains it).
     */
    long leavesAt() {
      if (ownSocket && !delays) return now;
      double pps = now < coldUntil ? capacityPps * coldShare : capacityPps;
      return now + (long) (queued * 1e9 / pps);
    }
  }

  /** A packet in a port's queue. */
  record Queued(long at, McastPacket packet) {}

  McastSimulation(long seed, int chunks, SenderMachine.Settings settings) {
    random = new Random(seed);
    stored = new byte[chunks][];
    List<ChunkEntry> entries = new ArrayList<>();
    int chunkSize = 256 * 1024; // up to 262 symbols: one to three stripes, as with real chunks
    long offset = 64;
    for (int c = 0; c < chunks; c++) {
      boolean zero = c % 7 == 3;
      if (zero) {
        entries.add(ChunkEntry.zero(c, ChunkCodec.zeroHash(chunkSize)));
        continue;
      }
      int len =
          1
              + random.nextInt(
                  chunkSize - 1); // stored bytes of any length, as compression leaves them
      stored[c] = new byte[len];
      random.nextBytes(stored[c]);
      entries.add(new ChunkEntry(c, ChunkKind.ZSTD, offset, len, Sha256.of(new byte[32])));
      offset += len;
    }
    manifest =
        new Manifest(
            UUID.randomUUID(),
            (long) chunks * chunkSize,
            chunkSize,
            entries,
            Sha256.of(new byte[32]));
    sender = new SenderMachine(manifest, settings);
  }

  static SenderMachine.Settings settings(int minReceivers) {
    return settings(minReceivers, 0);
  }

  /** With a check grace ({@link SenderMachine.Settings#checkGraceNanos}). */
  static SenderMachine.Settings settings(int minReceivers, long checkGraceNanos) {
    return new SenderMachine.Settings(
        SYMBOL,
        minReceivers,
        5_000_000_000L,
        2_000_000_000L,
        300_000_000L,
        30_000_000L,
        200,
        SenderMachine.Settings.DEFAULT_RECEIVER_DEADLINE_NANOS,
        checkGraceNanos);
  }

  Sim add(String name, double loss, long joinAfterNanos, long dieAfterNanos) {
    Sim s =
        new Sim(
            name,
            loss,
            now + joinAfterNanos,
            dieAfterNanos == Long.MAX_VALUE ? Long.MAX_VALUE : now + dieAfterNanos);
    receivers.add(s);
    return s;
  }

  BitSet storedChunks() {
    BitSet b = new BitSet();
    for (int c = 0; c < stored.length; c++) if (stored[c] != null) b.set(c);
    return b;
  }

  /** The pacer of {@link #runPaced}, and its rate every 100 ms of virtual time. */
  Pacer pacer;

  final List<Long> rates = new ArrayList<>();

  /**
   * As {@link #run}, with the sender's pacer (capped at {@code wireBytesPerSecond}, fed the
   * machine's pacing loss, overflow and delivery rate every 100 ms as the real sender does) and a
   * wire of that rate: each packet takes its bytes / rate, so a receiver that keeps up with the
   * wire loses nothing and a slower one overflows.
   */
  boolean runPaced(long maxSteps, long wireBytesPerSecond) {
    int packetBytes = DataPacket.HEADER_BYTES + SYMBOL;
    long packetNanos = packetBytes * 1_000_000_000L / wireBytesPerSecond;
    pacer = new Pacer(Pacer.Settings.adaptiveWithDelivery(wireBytesPerSecond), now);
    long lastTick = now;
    long bytesAtTick = 0;
    for (long step = 0; step < maxSteps; step++) {
      joinDue();
      sender.expire(now);
      sender.maybeStart(now);
      if (sender.complete()) return true;
      if (now - lastTick >= 100_000_000L) {
        if (sender.started()) {
          pacer.onLoss(
              sender.pacingOverflowPermille(now),
              sender.pacingLossPermille(now),
              sent * packetBytes - bytesAtTick,
              delivered(packetBytes),
              now);
          rates.add(pacer.rateBytesPerSecond());
        }
        bytesAtTick = sent * packetBytes;
        lastTick = now;
      }
      releaseDue();
      long wait = pacer.nanosUntil(packetBytes, now);
      SenderMachine.Item item = wait == 0 ? sender.next(now) : null;
      if (item != null) {
        pacer.consume(packetBytes);
        deliver(item);
        now += packetNanos;
      } else {
        now += wait > 0 ? Math.min(wait, 1_000_000) : 1_000_000;
      }
      feedback();
    }
    return false;
  }

  private long delivered(int packetBytes) {
    double pps = sender.pacingDeliveredPacketsPerSecond(now);
    return pps < 0 ? -1 : (long) (pps * packetBytes);
  }

  /** Runs until the sender is complete or the step bound is hit; returns true if complete. */
  boolean run(long maxSteps) {
    for (long step = 0; step < maxSteps; step++) {
      joinDue();
      sender.expire(now);
      sender.maybeStart(now);
      if (sender.complete()) return true;
      releaseDue();
      SenderMachine.Item item = sender.next(now);
      if (item != null) {
        deliver(item);
        now += PACKET_NANOS;
      } else {
        now += 1_000_000; // idle: a millisecond
      }
      feedback();
    }
    return false;
  }

  private void joinDue() {
    for (Sim s : receivers) {
      if (s.checkNanos >= 0) {
        if (s.id < 0 && now >= s.joinAt) s.id = sender.join(s.name, null, null, true, now);
        if (s.id >= 0 && s.machine == null && now >= s.joinAt + s.checkNanos && now < s.dieAt) {
          check(s);
        }
        continue;
      }
      if (s.id < 0 && now >= s.joinAt) {
        s.id = sender.join(s.name, now);
        BitSet need = storedChunks();
        s.machine =
            new ReceiverMachine(
                manifest, 7, s.id, SYMBOL, need, ReceiverMachine.Settings.defaults());
        sender.need(s.id, need, now);
      }
    }
  }

  /** A delta receiver's check is done: CHECKED with its needs; one that needs nothing is done. */
  private void check(Sim s) {
    BitSet need = s.checkNeeds;
    s.machine =
        new ReceiverMachine(manifest, 7, s.id, SYMBOL, need, ReceiverMachine.Settings.defaults());
    sender.checked(
        s.id, ControlMessage.Checked.of(stored.length - need.cardinality(), 0, need), now);
    s.checkedAtPacket = sent;
    if (need.isEmpty()) {
      sender.finished(s.id, new ControlMessage.Finished(true, "ok", 0, 0, 0, 0), now);
      s.finished = true;
      s.finishedAtPacket = sent;
    }
  }

  private void deliver(SenderMachine.Item item) {
    sent++;
    int c = item.chunk();
    SymbolLayout layout = sender.layout(c);
    McastPacket p;
    if (!item.repair()) {
      int j = item.symbolOrStripe();
      p =
          new DataPacket(
              7,
              (int) sent,
              c,
              j,
              layout.sourceCount(),
              Unpooled.wrappedBuffer(stored[c], layout.offsetOf(j), layout.lengthOf(j)));
    } else {
      byte[] out = new byte[SYMBOL];
      ChunkRebuilder.encodeRepair(stored[c], layout, item.symbolOrStripe(), item.row(), out);
      p =
          new RepairPacket(
              7,
              (int) sent,
              c,
              item.symbolOrStripe(),
              item.row(),
              layout.sourceCount(),
              Unpooled.wrappedBuffer(out));
    }
    var wire = Unpooled.buffer();
    p.encode(wire);
    for (Sim s : receivers) {
      if (!s.alive() || s.lost() || !s.admit()) continue;
      McastPacket got = McastPacket.decode(wire.duplicate());
      long at = s.leavesAt();
      if (at > now || !s.portQueue.isEmpty()) {
        s.portQueue.addLast(new Queued(at, got));
      } else {
        receive(s, got);
      }
    }
  }

  /**
   * Hands the packets that have left their ports by now to their receivers, and ends the writes
   * due.
   */
  private void releaseDue() {
    for (Sim s : receivers) {
      while (s.alive() && !s.writing.isEmpty() && s.writing.peekFirst()[1] <= now) {
        written(s, (int) s.writing.removeFirst()[0]);
      }
      while (!s.portQueue.isEmpty() && s.portQueue.peekFirst().at() <= now) {
        McastPacket got = s.portQueue.removeFirst().packet();
        if (s.alive()) receive(s, got);
      }
    }
  }

  private void receive(Sim s, McastPacket got) {
    ReceiverMachine.CompleteChunk cc =
        got instanceof DataPacket d
            ? s.machine.onData(d, now)
            : s.machine.onRepair((RepairPacket) got, now);
    if (cc != null) {
      byte[] rebuilt = Arrays.copyOf(ChunkRebuilder.rebuild(cc), stored[cc.chunk()].length);
      if (!Arrays.equals(rebuilt, stored[cc.chunk()]))
        throw new AssertionError(s.name + " rebuilt chunk " + cc.chunk() + " wrong");
      if (s.writeNanos > 0 && !s.machine.take(cc.chunk(), s.writing.size())) return;
      s.rebuiltOk++;
      sender.done(s.id, new int[] {cc.chunk()}, now);
      if (s.writeNanos > 0) {
        long from = s.writing.isEmpty() ? now : Math.max(now, s.writing.peekLast()[1]);
        s.writing.addLast(new long[] {cc.chunk(), from + s.writeNanos});
      } else {
        written(s, cc.chunk());
      }
    }
  }

  private void written(Sim s, int chunk) {
    s.machine.chunkWritten(chunk);
    if (s.machine.allWritten()) {
      sender.finished(
          s.id,
          new ControlMessage.Finished(
              true,
              "ok",
              0,
              s.machine.received(),
              s.machine.repairsReceived(),
              s.machine.duplicates()),
          now);
      s.finished = true;
      s.finishedAtPacket = sent;
    }
  }

  private void feedback() {
    for (Sim s : receivers) {
      if (s.id >= 0 && s.machine == null && now < s.dieAt && now - s.lastStatus >= 100_000_000L) {
        // Still checking: its heartbeat says only that it is alive.
        s.lastStatus = now;
        sender.status(new Status(7, s.id, 0, 0, 0, 0, 0, 0, 0), now);
      }
      if (!s.alive()) continue;
      for (Nak n : s.machine.poll(now)) {
        var b = Unpooled.buffer();
        n.encode(b);
        sender.nak((Nak) McastPacket.decode(b), now);
      }
      if (now - s.lastStatus >= 100_000_000L) {
        s.lastStatus = now;
        sender.status(s.machine.status(0, s.socketDrops), now);
      }
    }
  }

  long sourceSymbolsOfOnePass() {
    long n = 0;
    for (int c = 0; c < stored.length; c++)
      if (stored[c] != null) n += new SymbolLayout(stored[c].length, SYMBOL).sourceCount();
    return n;
  }
}

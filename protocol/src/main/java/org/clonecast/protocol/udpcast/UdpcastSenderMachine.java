package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.CAPS_DEFAULT;
import static org.clonecast.protocol.udpcast.Udpcast.MAX_CLIENTS;
import static org.clonecast.protocol.udpcast.Udpcast.MAX_SLICE_BLOCKS;

import java.net.Inet4Address;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.clonecast.protocol.image.Sha256;

/**
 * The sending side of a udpcast 20120424 session (docs/ref/udpcast-protocol.md §1.4–§1.9, checklist
 * §3.1), so that stock {@code udp-receiver}s can be fed. Pure: the driver passes in what arrived
 * and the time, and asks what to send next; no sockets, threads or clock.
 *
 * <ul>
 *   <li>HELLO goes to the broadcast address every {@code helloIntervalNanos} until the start (stock
 *       sends it once, and a receiver whose CONNECT_REQ is lost waits for ever).
 *   <li>Every CONNECT_REQ gets a CONNECT_REPLY; an IP keeps its receiver number.
 *   <li>The start rules are acted on as soon as they hold (stock polls them every 2 s), after one
 *       more HELLO and a short settle time, so a receiver whose CONNECT_REPLY was lost asks again.
 *   <li>Slices of {@code sliceBlocks} full blocks, only the last data slice short, then an empty
 *       slice whose REQACK ends the session. At most two slices in flight: slice n+2 is not begun
 *       before every receiver has acknowledged slice n.
 *   <li>A receiver that owes an answer and stays silent for {@code receiverTimeoutNanos} is dropped
 *       (stock: 200 rounds, measured 191.7 s). DISCONNECT is honoured at any time.
 *   <li>Before the first block of slice n+2 the REQACK of slice n+1 is repeated, so a stock
 *       receiver that lost all of n+1 learns of it before it sees n+2 (it aborts otherwise, §1.7).
 * </ul>
 *
 * <p>With FEC ({@code --fec SxR/Z}) each slice's first transmission is followed by S×R FEC blocks
 * that the driver computes ({@link Block#fec()}); retransmissions are data blocks, as stock does.
 * In async mode ({@code --async}) receivers are passive: HELLO carries the async capability, no
 * CONNECT_REQ is answered, the session starts {@code maxWaitNanos} after creation, slices follow
 * each other without acknowledgement, and the end is the empty slice's FEC blocks (or its REQACK
 * without FEC), sent {@link #END_MARKER_REPEATS} times since nobody can ask for it again.
 *
 * <p>clonecast's extension ({@link Udpcast#CAP_CLONECAST}): a receiver that sets the bit in its
 * CONNECT_REQ gets it back in its CONNECT_REPLY, then an {@link ImageInfo} with the image length,
 * and before every REQACK of the empty end slice an {@link ImageInfo} with the SHA-256 the driver
 * computed while reading ({@link #imageHash}), so it can verify what it wrote before it says OK.
 * Stock receivers never set the bit and never see either.
 *
 * <p>Pacing is the driver's (a token bucket fed with {@link #blocksResent()} against {@link
 * #blocksSent()}; a fixed rate in async mode); the machine only decides order and gating.
 *
 * <p>Not thread-safe: one driver thread (event loop) owns it.
 */
public final class UdpcastSenderMachine {

  /**
   * @param blocksize payload bytes per DATA block (stock 1456)
   * @param sliceBlocks blocks per full slice, 1…1024 (stock full duplex: 112)
   * @param minReceivers start as soon as this many receivers are connected
   * @param maxWaitNanos start this long after the first connection even with fewer
   * @param receiverTimeoutNanos drop a receiver that owes an answer and is silent this long
   * @param helloIntervalNanos HELLO repeat interval before the start
   * @param settleNanos pause between the last CONNECT_REPLY and the first DATA, for the receiver's
   *     IGMP join
   * @param pointToPoint whether exactly one receiver gets its data unicast (stock default; never in
   *     async mode)
   * @param fec FEC blocks after each slice, if any; {@code sliceBlocks} must fit S×Z
   * @param async passive receivers, no acknowledgements; the start is {@code maxWaitNanos} after
   *     creation
   */
  public record Settings(
      int blocksize,
      int sliceBlocks,
      int minReceivers,
      long maxWaitNanos,
      long receiverTimeoutNanos,
      long helloIntervalNanos,
      long settleNanos,
      boolean pointToPoint,
      Optional<UdpcastFecSpec> fec,
      boolean async) {
    /** Validates the ranges. */
    public Settings {
      if (blocksize < 4 || blocksize > 0xFFFF) {
        throw new IllegalArgumentException("blocksize " + blocksize + " outside 4..65535");
      }
      if (sliceBlocks < 1 || sliceBlocks > MAX_SLICE_BLOCKS) {
        throw new IllegalArgumentException(
            "slice size " + sliceBlocks + " blocks outside 1.." + MAX_SLICE_BLOCKS);
      }
      if (minReceivers < 1 || minReceivers > MAX_CLIENTS) {
        throw new IllegalArgumentException(
            "min receivers " + minReceivers + " outside 1.." + MAX_CLIENTS);
      }
      if (maxWaitNanos < 0
          || receiverTimeoutNanos <= 0
          || helloIntervalNanos <= 0
          || settleNanos < 0) {
        throw new IllegalArgumentException("negative or zero time in sender settings");
      }
      fec.ifPresent(
          f -> {
            if (sliceBlocks > f.sliceBlocks()) {
              throw new IllegalArgumentException(
                  "slice size "
                      + sliceBlocks
                      + " blocks exceeds FEC "
                      + f
                      + " ("
                      + f.sliceBlocks()
                      + ")");
            }
          });
    }

    /**
     * Stock sizes (1456-byte blocks, 112-block slices), 1 s HELLO, 20 ms settle, point-to-point on.
     */
    public static Settings stock(int minReceivers, long maxWaitNanos, long receiverTimeoutNanos) {
      return new Settings(
          Udpcast.DEFAULT_BLOCKSIZE,
          112,
          minReceivers,
          maxWaitNanos,
          receiverTimeoutNanos,
          1_000_000_000L,
          20_000_000L,
          true,
          Optional.empty(),
          false);
    }
  }

  /** Where a control message goes. */
  public enum To {
    /** The interface's subnet broadcast address, receiver port. */
    BROADCAST,
    /** The data address: the group, or the single receiver in point-to-point mode. */
    DATA,
    /** One receiver, {@link Send#ip()}, receiver port. */
    RECEIVER
  }

  /**
   * A control message to send. @param ip the receiver's address bits when {@code to} is RECEIVER,
   * else 0
   */
  public record Send(To to, int ip, UdpcastMessage message) {}

  /**
   * A block to send to the data address. DATA: the driver reads {@code length} bytes at file offset
   * {@code offset} and sends them after the header {@code (sliceNo, blockNo, sliceBytes)}. FEC
   * ({@code fec}): {@code blockNo} is the FEC block index, {@code offset} the slice's file offset
   * and {@code length} the block size; the driver computes the repair block over the slice's {@code
   * sliceBytes} (zero-padded) with {@link UdpcastFecLayout} of {@code stripes}.
   */
  public record Block(
      int sliceNo,
      int blockNo,
      int sliceBytes,
      long offset,
      int length,
      boolean resend,
      boolean fec,
      int stripes) {}

  /** What became of a receiver. */
  public enum State {
    CONNECTED,
    DONE,
    DISCONNECTED,
    DROPPED
  }

  /** One receiver, identified by its IPv4 address (§1.5). */
  public static final class Receiver {
    private final int ip;
    private final int clNr;
    private State state = State.CONNECTED;
    private String reason = "";
    private long lastHeardNanos;
    private long doneNanos;
    private int retransmitRequests;
    private boolean extensions;

    Receiver(int ip, int clNr, long now) {
      this.ip = ip;
      this.clNr = clNr;
      this.lastHeardNanos = now;
    }

    public int ip() {
      return ip;
    }

    public int clNr() {
      return clNr;
    }

    public State state() {
      return state;
    }

    public String reason() {
      return reason;
    }

    public long doneNanos() {
      return doneNanos;
    }

    public int retransmitRequests() {
      return retransmitRequests;
    }

    boolean active() {
      return state == State.CONNECTED;
    }

    /** Whether it speaks clonecast's extension ({@link Udpcast#CAP_CLONECAST}). */
    public boolean extensions() {
      return extensions;
    }
  }

  /** One slice in flight. */
  private static final class Slice {
    final int no;
    final long offset;
    final int bytes;
    final int blocks;
    final int fecBlocks;
    int nextFresh;
    final BitSet resend = new BitSet();
    final BitSet missing = new BitSet();
    final BitSet ready = new BitSet();
    final BitSet answered = new BitSet();
    int rxmit;
    boolean reqAckDue;
    boolean reqAckRepeated;
    long reqAckSentNanos = -1;
    long firstReqAckNanos = -1;

    Slice(int no, long offset, int bytes, int blocksize, int fecBlocks) {
      this.no = no;
      this.offset = offset;
      this.bytes = bytes;
      this.blocks = (int) ((bytes + (long) blocksize - 1) / blocksize);
      this.fecBlocks = fecBlocks;
    }

    boolean freshDone() {
      return nextFresh >= blocks + fecBlocks;
    }
  }

  private final Settings settings;
  private final long totalBytes;
  private final McastAddr group;
  private final Map<Integer, Receiver> byIp = new LinkedHashMap<>();
  private final Map<Integer, Integer> clNrByIp = new HashMap<>();
  private final ArrayDeque<Send> control = new ArrayDeque<>();

  /** In-flight slices, oldest first; at most two. The oldest is the one being acknowledged. */
  private final ArrayDeque<Slice> inflight = new ArrayDeque<>(2);

  /** How often async mode sends the end marker. */
  public static final int END_MARKER_REPEATS = 3;

  private final long createdNanos;
  private int endMarkersSent;
  private int nextClNr;
  private boolean started;
  private boolean confirmHelloSent;
  private boolean complete;
  private int pointToPointIp;
  private long startedNanos;
  private long firstConnectNanos = -1;
  private long lastReplyNanos;
  private long nextHelloNanos;
  private int nextSliceNo;
  private long nextSliceOffset;
  private boolean endSliceCreated;
  private long blocksSent;
  private long blocksResent;
  private long reqAcks;
  private long ignored;
  private double answerLatencyNanos = 10_000_000;
  private Sha256 imageHash;

  /**
   * @param settings sizes and rules
   * @param totalBytes the image length; it is not on the wire (receivers learn the end from the
   *     empty slice)
   * @param dataGroup the multicast data group announced in HELLO and CONNECT_REPLY
   * @param nowNanos the current time
   */
  public UdpcastSenderMachine(
      Settings settings, long totalBytes, Inet4Address dataGroup, long nowNanos) {
    if (totalBytes < 0) {
      throw new IllegalArgumentException("image length " + totalBytes);
    }
    this.settings = settings;
    this.totalBytes = totalBytes;
    this.group = McastAddr.ofIpv4(dataGroup);
    this.nextHelloNanos = nowNanos;
    this.createdNanos = nowNanos;
  }

  // ---- input ------------------------------------------------------------------------------

  /**
   * Takes one message from a receiver. The driver has already dropped datagrams from source ports
   * other than the receiver port (as stock does).
   *
   * @param ip the sender's IPv4 address bits
   */
  public void receive(int ip, UdpcastMessage message, long nowNanos) {
    if (settings.async()) {
      ignored++; // passive receivers: a stock async sender answers nobody either
      return;
    }
    Receiver r = byIp.get(ip);
    if (r != null && r.active()) {
      r.lastHeardNanos = nowNanos;
    }
    boolean member = r != null && r.active();
    if (message instanceof ConnectReq req) {
      connect(ip, r, (req.capabilities() & Udpcast.CAP_CLONECAST) != 0, nowNanos);
    } else if (message instanceof Go && member && !started) {
      start(nowNanos);
    } else if (message instanceof Disconnect && member) {
      end(
          r,
          State.DISCONNECTED,
          started ? "disconnected during the transfer" : "disconnected before the start",
          nowNanos);
    } else if (message instanceof Ok ok && member) {
      ok(r, ok.sliceNo(), nowNanos);
    } else if (message instanceof Retransmit rt && member) {
      retransmit(r, rt, nowNanos);
    } else {
      ignored++;
    }
    settle(nowNanos);
  }

  private void connect(int ip, Receiver known, boolean extensions, long now) {
    if (started) {
      // A stock receiver expects slice 0, so it cannot join a running session (§3.1.3). A
      // member whose reply was lost just before the start gets it again.
      if (known != null && known.active()) {
        replyTo(known);
      } else {
        ignored++;
      }
      return;
    }
    Receiver r = known;
    if (r == null || !r.active()) {
      Integer nr = clNrByIp.get(ip);
      if (nr == null) {
        if (nextClNr >= MAX_CLIENTS) {
          control.add(new Send(To.RECEIVER, ip, reply(ConnectReply.CLNR_REFUSED, 0)));
          return;
        }
        nr = nextClNr++;
        clNrByIp.put(ip, nr);
      }
      r = new Receiver(ip, nr, now);
      byIp.put(ip, r);
      if (firstConnectNanos < 0) {
        firstConnectNanos = now;
      }
    }
    r.extensions = extensions;
    lastReplyNanos = now;
    replyTo(r);
  }

  /** CONNECT_REPLY, and for a receiver with our extension the image length right after it. */
  private void replyTo(Receiver r) {
    control.add(
        new Send(To.RECEIVER, r.ip, reply(r.clNr, r.extensions ? Udpcast.CAP_CLONECAST : 0)));
    if (r.extensions) {
      control.add(new Send(To.RECEIVER, r.ip, new ImageInfo(totalBytes, Optional.empty())));
    }
  }

  private ConnectReply reply(int clNr, int extraCapabilities) {
    return new ConnectReply(clNr, settings.blocksize(), CAPS_DEFAULT | extraCapabilities, group);
  }

  private void ok(Receiver r, int sliceNo, long now) {
    Slice s = acking();
    if (s == null || s.no != sliceNo) {
      ignored++; // a late or duplicate OK for a finished slice
      return;
    }
    noteLatency(s, now);
    s.ready.set(r.clNr);
    s.answered.set(r.clNr);
    if (s.bytes == 0) {
      r.state = State.DONE;
      r.doneNanos = now;
    }
  }

  private void retransmit(Receiver r, Retransmit rt, long now) {
    Slice s = acking();
    if (s == null || s.no != rt.sliceNo() || s.ready.get(r.clNr)) {
      ignored++;
      return;
    }
    r.retransmitRequests++;
    BitSet have = rt.map().toBitSet();
    for (int b = have.nextClearBit(0); b < s.blocks; b = have.nextClearBit(b + 1)) {
      s.missing.set(b);
    }
    // An echo of an older round still names blocks that are missing, but does not answer this
    // round.
    if (rt.rxmit() == s.rxmit) {
      noteLatency(s, now);
      s.answered.set(r.clNr);
    }
  }

  private void noteLatency(Slice s, long now) {
    if (s.reqAckSentNanos >= 0) {
      answerLatencyNanos = 0.9 * answerLatencyNanos + 0.1 * Math.max(0, now - s.reqAckSentNanos);
    }
  }

  private void end(Receiver r, State state, String reason, long now) {
    r.state = state;
    r.reason = reason;
    r.doneNanos = now;
  }

  // ---- time -------------------------------------------------------------------------------

  /** Runs timers: HELLO, the start rules, REQACK timeouts and drops. */
  public void tick(long nowNanos) {
    if (complete) {
      return;
    }
    if (!started) {
      if (nowNanos - nextHelloNanos >= 0) {
        control.add(new Send(To.BROADCAST, 0, hello()));
        nextHelloNanos = nowNanos + settings.helloIntervalNanos();
      }
      if (settings.async()) {
        if (nowNanos - createdNanos >= settings.maxWaitNanos()) start(nowNanos);
      } else {
        maybeStart(nowNanos);
      }
      return;
    }
    if (settings.async()) {
      return; // nothing to time: no answers are awaited
    }
    Slice s = acking();
    if (s != null && s.firstReqAckNanos >= 0) {
      for (Receiver r : byIp.values()) {
        if (r.active()
            && !s.ready.get(r.clNr)
            && nowNanos - Math.max(r.lastHeardNanos, s.firstReqAckNanos)
                >= settings.receiverTimeoutNanos()) {
          end(
              r,
              State.DROPPED,
              "silent for " + settings.receiverTimeoutNanos() / 1_000_000 + " ms",
              nowNanos);
        }
      }
      // Settle first: a drop may have completed the slice, and a timeout must not hide that.
      settle(nowNanos);
      s = acking();
      if (complete || s == null || s.reqAckSentNanos < 0) {
        return;
      }
      if (!s.reqAckDue
          && s.reqAckSentNanos >= 0
          && nowNanos - s.reqAckSentNanos >= reqAckTimeout(s)) {
        nextRound(s);
      }
    }
    settle(nowNanos);
  }

  /** 1.5 × the answer latency, at least 5 ms; after ten unanswered rounds, a tenth of a second. */
  private long reqAckTimeout(Slice s) {
    long t = Math.max(5_000_000L, (long) (1.5 * answerLatencyNanos) + 2_000_000L);
    return s.rxmit > 10 ? Math.max(t, 100_000_000L) : Math.min(t, 100_000_000L);
  }

  private void maybeStart(long now) {
    int n = activeReceivers();
    if (n == 0 || now - lastReplyNanos < settings.settleNanos()) {
      return;
    }
    if (n >= settings.minReceivers() || now - firstConnectNanos >= settings.maxWaitNanos()) {
      if (!confirmHelloSent) {
        // One last HELLO: a receiver whose CONNECT_REPLY was lost answers it with another
        // CONNECT_REQ (it waits for ever otherwise); its new reply restarts the settle time.
        confirmHelloSent = true;
        lastReplyNanos = now;
        control.add(new Send(To.BROADCAST, 0, hello()));
        return;
      }
      start(now);
    }
  }

  private Hello hello() {
    Hello h = Hello.of(group.ipv4(), settings.blocksize());
    return settings.async()
        ? new Hello(h.opcode(), h.capabilities() | Udpcast.CAP_ASYNC, h.mcastAddr(), h.blocksize())
        : h;
  }

  private void start(long now) {
    started = true;
    startedNanos = now;
    List<Receiver> active = activeList();
    if (settings.pointToPoint() && !settings.async() && active.size() == 1) {
      pointToPointIp = active.get(0).ip;
    }
  }

  /** The earliest time {@link #tick} has something to do, or {@code Long.MAX_VALUE}. */
  public long nextDeadlineNanos(long nowNanos) {
    if (complete) {
      return Long.MAX_VALUE;
    }
    if (!started) {
      long d = nextHelloNanos;
      if (settings.async()) {
        d = Math.min(d, createdNanos + settings.maxWaitNanos());
      } else if (activeReceivers() > 0) {
        d =
            Math.min(
                d,
                Math.max(
                    lastReplyNanos + settings.settleNanos(),
                    firstConnectNanos + settings.maxWaitNanos()));
        if (activeReceivers() >= settings.minReceivers()) {
          d = Math.min(d, lastReplyNanos + settings.settleNanos());
        }
      }
      return d;
    }
    Slice s = acking();
    if (settings.async() || s == null || s.reqAckSentNanos < 0) {
      return nowNanos + 100_000_000L;
    }
    return Math.min(s.reqAckSentNanos + reqAckTimeout(s), nowNanos + 100_000_000L);
  }

  // ---- output -----------------------------------------------------------------------------

  /**
   * @return whether control messages are queued
   */
  public boolean hasControl() {
    return !control.isEmpty();
  }

  /**
   * @return the control messages queued since the last call, in order
   */
  public List<Send> drainControl() {
    if (control.isEmpty()) {
      return List.of();
    }
    List<Send> out = new ArrayList<>(control);
    control.clear();
    return out;
  }

  /**
   * The next DATA block to send, or null when the window is closed (waiting for answers) or the
   * session is over. May queue a REQACK as a side effect: call {@link #drainControl} after it and
   * send those first, they belong before the next block.
   */
  public Block nextBlock(long nowNanos) {
    if (!started || complete) {
      return null;
    }
    if (settings.async()) {
      return nextAsyncBlock();
    }
    Slice a = acking();
    if (a != null && a.freshDone()) {
      int b = a.resend.nextSetBit(0);
      if (b >= 0) {
        a.resend.clear(b);
        blocksResent++;
        return block(a, b, true);
      }
      if (a.reqAckDue) {
        sendReqAck(a, nowNanos);
        return null; // the caller drains control, then asks again
      }
    }
    Slice x = transmitting();
    if (x == null) {
      return null;
    }
    if (x.nextFresh == 0 && inflight.size() == 2 && !a.reqAckRepeated && a.reqAckSentNanos >= 0) {
      a.reqAckRepeated = true;
      control.add(new Send(To.DATA, 0, reqAck(a)));
    }
    int b = x.nextFresh++;
    if (x.freshDone() && x == inflight.peekFirst()) {
      x.reqAckDue = true;
    }
    blocksSent++;
    return block(x, b, false);
  }

  /** Async: every slice once, data then FEC, no window; then the end marker, repeated. */
  private Block nextAsyncBlock() {
    Slice x = inflight.peekFirst();
    if (x != null && x.bytes == 0) {
      return endMarker(x);
    }
    if (x == null || x.freshDone()) {
      inflight.clear();
      x = transmitting();
      if (x == null) {
        return endMarker(inflight.peekFirst()); // transmitting() just created the empty end slice
      }
    }
    int b = x.nextFresh++;
    blocksSent++;
    return block(x, b, false);
  }

  private Block endMarker(Slice end) {
    if (end.fecBlocks == 0) {
      // Without FEC the end is the empty slice's REQACK, as a stock async sender does.
      control.add(new Send(To.DATA, 0, reqAck(end)));
      endMarkerSent(end);
      return null;
    }
    int b = end.nextFresh++;
    if (end.freshDone()) {
      endMarkerSent(end);
    }
    return block(end, b, false);
  }

  private void endMarkerSent(Slice end) {
    if (++endMarkersSent >= END_MARKER_REPEATS) {
      inflight.clear();
      complete = true;
    } else {
      end.nextFresh = 0; // once more: nobody can ask for it
    }
  }

  private Block block(Slice s, int b, boolean resend) {
    if (b >= s.blocks) {
      return new Block(
          s.no,
          b - s.blocks,
          s.bytes,
          s.offset,
          settings.blocksize(),
          resend,
          true,
          settings.fec().orElseThrow().stripes());
    }
    long off = (long) b * settings.blocksize();
    int len = (int) Math.min(settings.blocksize(), s.bytes - off);
    return new Block(s.no, b, s.bytes, s.offset + off, len, resend, false, 0);
  }

  /**
   * The slice that is being (or will next be) sent for the first time, creating it if the window
   * allows.
   */
  private Slice transmitting() {
    Slice last = inflight.peekLast();
    if (last != null && !last.freshDone()) {
      return last;
    }
    if (inflight.size() >= 2 || endSliceCreated) {
      return null;
    }
    long left = totalBytes - nextSliceOffset;
    int bytes = (int) Math.min(left, (long) settings.sliceBlocks() * settings.blocksize());
    // FEC follows every data slice; in async mode the empty end slice is FEC blocks too (§1.10).
    int fecBlocks =
        settings.fec().map(f -> bytes > 0 || settings.async() ? f.fecBlocks() : 0).orElse(0);
    Slice s = new Slice(nextSliceNo++, nextSliceOffset, bytes, settings.blocksize(), fecBlocks);
    nextSliceOffset += bytes;
    inflight.addLast(s);
    if (bytes == 0) {
      endSliceCreated = true;
      if (s == inflight.peekFirst()) {
        s.reqAckDue = true;
      }
      return null;
    }
    return s;
  }

  private Slice acking() {
    return inflight.peekFirst();
  }

  private void sendReqAck(Slice s, long now) {
    s.reqAckDue = false;
    s.reqAckSentNanos = now;
    if (s.firstReqAckNanos < 0) {
      s.firstReqAckNanos = now;
    }
    s.answered.clear();
    reqAcks++;
    if (s.bytes == 0) {
      // Before each REQACK of the end: the hash, to each receiver with our extension that
      // has not said OK yet (it holds its OK until it has verified).
      for (Receiver r : byIp.values()) {
        if (r.active() && r.extensions && !s.ready.get(r.clNr)) {
          control.add(
              new Send(
                  To.RECEIVER, r.ip, new ImageInfo(totalBytes, Optional.ofNullable(imageHash))));
        }
      }
    }
    control.add(new Send(To.DATA, 0, reqAck(s)));
  }

  private ReqAck reqAck(Slice s) {
    return new ReqAck(s.no, s.bytes, s.rxmit, Bitmap1024.fromBitSet(s.ready));
  }

  /**
   * Every receiver answered, or the wait timed out: resend the union of missing blocks, then ask
   * again.
   */
  private void nextRound(Slice s) {
    s.rxmit++;
    s.resend.or(s.missing);
    s.missing.clear();
    s.reqAckDue = true;
  }

  /**
   * Retires the acknowledged slice, moves the next one up, and ends the session when nobody is
   * left.
   */
  private void settle(long now) {
    if (!started || complete || settings.async()) {
      return;
    }
    if (activeReceivers() == 0) {
      complete = true;
      return;
    }
    Slice s = acking();
    if (s == null || !s.freshDone() || s.reqAckSentNanos < 0) {
      return;
    }
    // Everyone still in has it: done, even with a repeat pending (a drop or DISCONNECT may have
    // removed the last receiver that lacked blocks).
    if (allActive(s.ready)) {
      inflight.removeFirst();
      if (s.bytes == 0) {
        complete = true;
        return;
      }
      Slice next = acking();
      if (next != null && next.freshDone()) {
        next.reqAckDue = true;
      }
    } else if (!s.reqAckDue && allActive(s.answered)) {
      nextRound(s);
    }
  }

  private boolean allActive(BitSet set) {
    for (Receiver r : byIp.values()) {
      if (r.active() && !set.get(r.clNr)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The SHA-256 of the whole image, from the driver once it has read every byte (it reads the first
   * transmission in order); sent to receivers with our extension before the end.
   */
  public void imageHash(Sha256 sha256) {
    this.imageHash = sha256;
  }

  // ---- state ------------------------------------------------------------------------------

  public boolean started() {
    return started;
  }

  /** True once every receiver has acknowledged the empty end slice, or none is left. */
  public boolean complete() {
    return complete;
  }

  public long startedNanos() {
    return startedNanos;
  }

  /**
   * @return the single receiver's address bits in point-to-point mode, or 0 for the group
   */
  public int pointToPointIp() {
    return pointToPointIp;
  }

  public int activeReceivers() {
    int n = 0;
    for (Receiver r : byIp.values()) {
      if (r.active()) {
        n++;
      }
    }
    return n;
  }

  private List<Receiver> activeList() {
    List<Receiver> out = new ArrayList<>();
    for (Receiver r : byIp.values()) {
      if (r.active()) {
        out.add(r);
      }
    }
    return out;
  }

  /**
   * @return every receiver that ever connected, in connection order
   */
  public List<Receiver> receivers() {
    return Collections.unmodifiableList(new ArrayList<>(byIp.values()));
  }

  /** Blocks sent the first time. */
  public long blocksSent() {
    return blocksSent;
  }

  /** Blocks sent again after a RETRANSMIT or timeout. */
  public long blocksResent() {
    return blocksResent;
  }

  public long reqAcks() {
    return reqAcks;
  }

  /** Messages that arrived from unknown or finished receivers, or out of turn. */
  public long ignored() {
    return ignored;
  }

  /** Bytes of the image acknowledged by every active receiver. */
  public long bytesAcknowledged() {
    Slice s = acking();
    return s == null ? (endSliceCreated ? totalBytes : nextSliceOffset) : s.offset;
  }

  public long totalBytes() {
    return totalBytes;
  }

  /** One line on the acknowledgement state, for debug logs. */
  public String describe() {
    Slice s = acking();
    if (s == null) {
      return "no slice in flight, " + activeReceivers() + " active";
    }
    return "slice "
        + s.no
        + " of "
        + inflight.size()
        + " in flight: sent "
        + s.nextFresh
        + "/"
        + s.blocks
        + ", round "
        + s.rxmit
        + ", ready "
        + s.ready.cardinality()
        + ", answered "
        + s.answered.cardinality()
        + ", resend "
        + s.resend.cardinality()
        + (s.reqAckDue ? ", REQACK due" : "")
        + ", "
        + activeReceivers()
        + " active";
  }
}

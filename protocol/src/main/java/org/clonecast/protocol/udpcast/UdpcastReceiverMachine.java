package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.CAPS_DEFAULT;
import static org.clonecast.protocol.udpcast.Udpcast.MAX_SLICE_BLOCKS;

import java.net.Inet4Address;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.clonecast.protocol.fec.CauchyCode;
import org.clonecast.protocol.image.Sha256;

/**
 * The receiving side of a udpcast 20120424 session (docs/ref/udpcast-protocol.md §1.4–§1.9,
 * checklist §3.2), so that a stock {@code udp-sender} can feed us. Pure: the driver passes in what
 * arrived and the time, and drains {@link Action}s (messages to send, bytes to write, the group to
 * join).
 *
 * <p>Differences from the stock receiver, all deliberate:
 *
 * <ul>
 *   <li>CONNECT_REQ is re-sent until a CONNECT_REPLY comes, not only after a HELLO (stock senders
 *       send HELLO once, so a lost CONNECT_REQ would wait for ever): after {@code
 *       connectRetryNanos}, then at doubling intervals up to {@link #MAX_CONNECT_RETRY_NANOS}, each
 *       jittered by ±25 %. A stock sender repeats its HELLO (and counts towards {@code
 *       --autostart}) only after a full HELLO interval without any datagram from a receiver, so
 *       retries at a fixed 1 s from a few receivers kept an async stock sender from ever starting.
 *   <li>A gap never aborts: a slice first seen through a later slice's data or a REQACK is simply
 *       created, and a REQACK for it is answered with RETRANSMIT (stock exits "Dropped by server").
 *   <li>A slice's file offset is the sum of the previous slices' sizes; a complete slice whose
 *       offset is not known yet (an earlier slice never seen) waits in memory until it is.
 *   <li>FEC (§1.10): repair blocks of a stripe are kept until, with the data blocks present, they
 *       cover the stripe; then the missing data blocks are decoded ({@link CauchyCode}) and count
 *       as received. A HELLO with CAP_ASYNC makes us passive (§1.11): no CONNECT_REQ, no answers,
 *       locked to the HELLO's source; the end is a zero-byte FEC packet or REQACK.
 *   <li>clonecast's extension ({@link Udpcast#CAP_CLONECAST}): our CONNECT_REQ sets the bit. A
 *       sender that answers with it sends {@link ImageInfo}: the image length, then the SHA-256
 *       before each REQACK of the end. We hash what we hand out for writing, in file order, and say
 *       OK to the end only once the hash has come and matches; a mismatch fails with DISCONNECT. A
 *       stock sender never sets the bit, and nothing changes with it.
 * </ul>
 *
 * <p>An OK is only sent while fewer than {@code maxBacklogBytes} of completed slices wait for the
 * disk ({@link #written}); otherwise the sender's REQACK goes unanswered and it asks again, which
 * is the only back-pressure the protocol has.
 *
 * <p>Not thread-safe: one driver thread (event loop) owns it.
 */
public final class UdpcastReceiverMachine {

  /**
   * @param portbase receiver port; the sender uses portbase+1
   * @param rcvbuf our SO_RCVBUF, announced in CONNECT_REQ (stock senders ignore it)
   * @param connectRetryNanos CONNECT_REQ repeat interval until connected
   * @param idleTimeoutNanos give up when the sender is silent this long once data has flowed
   * @param lingerNanos after the end OK, keep answering repeats this long, then DISCONNECT (stock:
   *     500 ms)
   * @param maxBacklogBytes completed bytes waiting for the disk above which OKs are held back
   */
  public record Settings(
      int portbase,
      int rcvbuf,
      long connectRetryNanos,
      long idleTimeoutNanos,
      long lingerNanos,
      long maxBacklogBytes) {
    /** Validates the ranges. */
    public Settings {
      if (portbase < 1 || portbase > 65534) {
        throw new IllegalArgumentException("portbase " + portbase + " outside 1..65534");
      }
      if (connectRetryNanos <= 0
          || idleTimeoutNanos <= 0
          || lingerNanos < 0
          || maxBacklogBytes <= 0) {
        throw new IllegalArgumentException("negative or zero time or size in receiver settings");
      }
    }

    /** 1 s CONNECT_REQ retry, 30 s idle timeout, 500 ms linger, 64 MiB backlog. */
    public static Settings defaults(int portbase, int rcvbuf) {
      return new Settings(
          portbase, rcvbuf, 1_000_000_000L, 30_000_000_000L, 500_000_000L, 64L << 20);
    }
  }

  /** Something for the driver to do. */
  public sealed interface Action permits Send, Write, Join {}

  /**
   * Send a message from the receiver port. @param ip the destination's address bits, or 0 for the
   * subnet broadcast address; @param port the destination port
   */
  public record Send(int ip, int port, UdpcastMessage message) implements Action {}

  /** Write {@code data} at {@code offset}, then call {@link #written} with the slice number. */
  public record Write(int sliceNo, long offset, byte[] data) implements Action {}

  /** Join the multicast data group on the imaging interface. */
  public record Join(Inet4Address group) implements Action {}

  /** Where the session is. */
  public enum State {
    CONNECTING,
    CONNECTED,
    LINGERING,
    DONE,
    FAILED
  }

  /** One slice that is not finished yet, or finished but not yet written. */
  private static final class Slice {
    final int no;
    int bytes = -1;
    int blocks;
    byte[] buf;
    final BitSet have = new BitSet();
    boolean queued;
    UdpcastFecLayout layout;
    Map<Integer, List<Repair>> repairs;

    Slice(int no) {
      this.no = no;
    }

    boolean known() {
      return bytes >= 0;
    }

    boolean complete() {
      return known() && have.cardinality() == blocks;
    }
  }

  /** One received FEC block: repair {@code row} of its stripe. */
  private record Repair(int row, byte[] block) {}

  private final Settings settings;
  private final List<Action> actions = new ArrayList<>();
  private final TreeMap<Integer, Slice> slices = new TreeMap<>();
  private State state = State.CONNECTING;
  private String reason = "";
  private int senderIp;
  private int senderPort;
  private int clNr = -1;
  private boolean passive;

  /** The sender answered with {@link Udpcast#CAP_CLONECAST}: it will send {@link ImageInfo}. */
  private boolean extensions;

  private long expectedBytes = -1;
  private Sha256 expectedSha256;
  private boolean verified;

  /** The end slice whose REQACK came before its hash, or -1. */
  private int pendingEnd = -1;

  private final MessageDigest digest = Sha256.newDigest();
  private int blocksize;
  private long nextConnectNanos;
  private long connectRetryNanos;
  private final SplittableRandom jitter;
  private long lastFromSenderNanos;
  private boolean dataSeen;
  private long lingerUntilNanos;
  private int endSlice = -1;

  /**
   * Every slice below this one has been handed to the driver for writing; its offset is {@link
   * #frontierOffset}.
   */
  private int frontier;

  private long frontierOffset;
  private long backlogBytes;
  private long bytesQueued;
  private long dataPackets;
  private long duplicates;
  private long rogue;
  private long inconsistent;
  private long oks;
  private long retransmits;
  private long fecRecovered;

  /** The longest wait between two CONNECT_REQs while no sender has answered. */
  public static final long MAX_CONNECT_RETRY_NANOS = 16_000_000_000L;

  public UdpcastReceiverMachine(Settings settings, long nowNanos) {
    this(settings, nowNanos, 0);
  }

  /**
   * @param jitterSeed seeds the CONNECT_REQ retry jitter; receivers that boot together should pass
   *     different seeds (their address, say) so that their retries spread out
   */
  public UdpcastReceiverMachine(Settings settings, long nowNanos, long jitterSeed) {
    this.settings = settings;
    this.nextConnectNanos = nowNanos;
    this.connectRetryNanos = settings.connectRetryNanos();
    this.jitter = new SplittableRandom(jitterSeed);
  }

  // ---- input ------------------------------------------------------------------------------

  /**
   * Takes one datagram's message.
   *
   * @param ip the source address bits
   * @param port the source port
   */
  public void receive(int ip, int port, UdpcastMessage message, long nowNanos) {
    if (state == State.DONE || state == State.FAILED) {
      return;
    }
    if (state == State.CONNECTING) {
      connecting(ip, port, message, nowNanos);
      return;
    }
    if (ip != senderIp || port != senderPort) {
      rogue++; // stock: "Rogue packet received"; we only count it
      return;
    }
    lastFromSenderNanos = nowNanos;
    if (message instanceof Data d) {
      data(d);
    } else if (message instanceof Fec f) {
      fec(f, nowNanos);
    } else if (message instanceof ReqAck ra) {
      reqAck(ra, nowNanos);
    } else if (message instanceof ImageInfo info && extensions) {
      imageInfo(info, nowNanos);
    } else if (message instanceof Hello || message instanceof ConnectReply) {
      duplicates++; // a repeat of the rendezvous: we are in already
    } else {
      inconsistent++; // something a sender does not send
    }
  }

  private void connecting(int ip, int port, UdpcastMessage message, long now) {
    if (port != settings.portbase() + 1) {
      rogue++;
      return;
    }
    if (message instanceof Hello h && (h.capabilities() & Udpcast.CAP_ASYNC) != 0) {
      // An async sender takes no registrations: follow it passively, as stock receivers do.
      if (h.blocksize() <= 0) {
        inconsistent++;
        return;
      }
      passive = true;
      lock(ip, port, -1, h.blocksize(), now);
      actions.add(new Join(h.mcastAddr().ipv4()));
    } else if (message instanceof Hello) {
      // Answer at once, unicast to the HELLO's source (§1.4 step 3).
      actions.add(new Send(ip, port, connectReq()));
    } else if (message instanceof ConnectReply reply) {
      if (reply.clNr() == ConnectReply.CLNR_REFUSED) {
        fail("the sender refused us: too many receivers", false);
        return;
      }
      if (reply.blocksize() <= 0 || reply.blocksize() > 0xFFFF) {
        inconsistent++;
        return;
      }
      lock(ip, port, reply.clNr(), reply.blocksize(), now);
      extensions = (reply.capabilities() & Udpcast.CAP_CLONECAST) != 0;
      actions.add(new Join(reply.mcastAddr().ipv4()));
    } else {
      rogue++;
    }
  }

  private void lock(int ip, int port, int nr, int bs, long now) {
    state = State.CONNECTED;
    senderIp = ip;
    senderPort = port;
    clNr = nr;
    blocksize = bs;
    lastFromSenderNanos = now;
  }

  private ConnectReq connectReq() {
    return new ConnectReq(
        CAPS_DEFAULT | Udpcast.CAP_CLONECAST, Integer.toUnsignedLong(settings.rcvbuf()));
  }

  private void data(Data d) {
    dataPackets++;
    dataSeen = true;
    if (d.sliceNo() < frontier) {
      duplicates++;
      return;
    }
    Slice s = slice(d.sliceNo());
    if (s == null || !learn(s, d.bytes())) {
      return;
    }
    int off = d.blockNo() * blocksize;
    int len = d.payload().readableBytes();
    if (d.blockNo() >= s.blocks || len != Math.min(blocksize, s.bytes - off)) {
      inconsistent++;
      return;
    }
    if (s.have.get(d.blockNo()) || s.queued) {
      duplicates++;
      return;
    }
    if (s.buf == null) {
      s.buf = new byte[s.bytes];
    }
    d.payload().getBytes(d.payload().readerIndex(), s.buf, off, len);
    s.have.set(d.blockNo());
    if (s.repairs != null) {
      decode(s, s.layout.stripeOfData(d.blockNo()));
    }
    advance();
  }

  private void fec(Fec f, long now) {
    dataSeen = true;
    if (f.bytes() == 0) {
      end(f.sliceNo(), now); // async + FEC: zero-byte FEC packets end the transfer
      return;
    }
    if (f.sliceNo() < frontier) {
      duplicates++;
      return;
    }
    Slice s = slice(f.sliceNo());
    if (s == null || !learn(s, f.bytes()) || f.payload().readableBytes() < blocksize) {
      if (s != null) {
        inconsistent++;
      }
      return;
    }
    if (s.layout == null) {
      s.layout = new UdpcastFecLayout(f.stripes());
      s.repairs = new HashMap<>();
    } else if (s.layout.stripes() != f.stripes()) {
      inconsistent++;
      return;
    }
    int stripe = s.layout.stripeOfFec(f.blockNo());
    int row = s.layout.rowOfFec(f.blockNo());
    if (row >= CauchyCode.MAX_REPAIR) {
      inconsistent++;
      return;
    }
    List<Repair> reps = s.repairs.computeIfAbsent(stripe, k -> new ArrayList<>());
    for (Repair r : reps) {
      if (r.row() == row) {
        duplicates++;
        return;
      }
    }
    byte[] block = new byte[blocksize];
    f.payload().getBytes(f.payload().readerIndex(), block);
    reps.add(new Repair(row, block));
    decode(s, stripe);
    advance();
  }

  /** Recovers the stripe's missing data blocks once enough repair blocks are in (§1.10). */
  private void decode(Slice s, int stripe) {
    List<Repair> reps = s.repairs.get(stripe);
    if (reps == null || reps.isEmpty()) {
      return;
    }
    int k;
    try {
      k = s.layout.sourcesInStripe(s.blocks, stripe);
    } catch (IllegalArgumentException e) {
      inconsistent++;
      s.repairs.remove(stripe);
      return;
    }
    boolean[] present = new boolean[k];
    int missing = 0;
    for (int j = 0; j < k; j++) {
      present[j] = s.have.get(s.layout.dataBlockNo(stripe, j));
      missing += present[j] ? 0 : 1;
    }
    if (missing == 0 || reps.size() < missing) {
      if (missing == 0) {
        s.repairs.remove(stripe);
      }
      return;
    }
    if (s.buf == null) {
      s.buf = new byte[s.bytes];
    }
    byte[][] sources = new byte[k][];
    for (int j = 0; j < k; j++) {
      if (present[j]) {
        int b = s.layout.dataBlockNo(stripe, j);
        int off = b * blocksize;
        sources[j] = Arrays.copyOfRange(s.buf, off, off + Math.min(blocksize, s.bytes - off));
      }
    }
    byte[][] repairs = new byte[missing][];
    int[] rows = new int[missing];
    for (int i = 0; i < missing; i++) {
      repairs[i] = reps.get(i).block();
      rows[i] = reps.get(i).row();
    }
    CauchyCode.decode(sources, present, k, repairs, rows, blocksize);
    for (int j = 0; j < k; j++) {
      if (!present[j]) {
        int b = s.layout.dataBlockNo(stripe, j);
        int off = b * blocksize;
        System.arraycopy(sources[j], 0, s.buf, off, Math.min(blocksize, s.bytes - off));
        s.have.set(b);
        fecRecovered++;
      }
    }
    s.repairs.remove(stripe);
  }

  private void reqAck(ReqAck ra, long now) {
    int n = ra.sliceNo();
    if (ra.bytes() == 0) {
      end(n, now);
      return;
    }
    if (passive) {
      return; // a passive receiver never answers (§1.11)
    }
    if (n < frontier) {
      answerOk(ra);
      return;
    }
    Slice s = slice(n);
    if (s == null || !learn(s, ra.bytes())) {
      return;
    }
    advance();
    if (ra.readySet().get(clNr)) {
      return; // the sender has our OK already
    }
    if (n < frontier || s.complete()) {
      answerOk(ra);
    } else {
      retransmits++;
      actions.add(
          new Send(
              senderIp, senderPort, new Retransmit(n, ra.rxmit(), Bitmap1024.fromBitSet(s.have))));
    }
  }

  private void answerOk(ReqAck ra) {
    if (ra.readySet().get(clNr)) {
      return;
    }
    if (backlogBytes > settings.maxBacklogBytes()) {
      return; // the disk is behind: let the sender ask again
    }
    oks++;
    actions.add(new Send(senderIp, senderPort, new Ok(ra.sliceNo())));
  }

  private void imageInfo(ImageInfo info, long now) {
    if (expectedBytes >= 0 && expectedBytes != info.totalBytes()) {
      fail(
          "the sender changed the image length from "
              + expectedBytes
              + " to "
              + info.totalBytes()
              + " bytes",
          true);
      return;
    }
    expectedBytes = info.totalBytes();
    info.sha256().ifPresent(h -> expectedSha256 = h);
    if (expectedSha256 != null && pendingEnd >= 0) {
      int n = pendingEnd;
      pendingEnd = -1;
      end(n, now); // the REQACK of the end came first; now it can be answered
    }
  }

  /** REQACK(bytes = 0): the end, once everything before it is ours (§1.9). */
  private void end(int n, long now) {
    if (state == State.LINGERING) {
      if (!passive) {
        actions.add(new Send(senderIp, senderPort, new Ok(n)));
      }
      return;
    }
    slices.computeIfAbsent(n, Slice::new).bytes = 0;
    advance();
    if (frontier < n) {
      if (passive) {
        // Nobody will resend in async mode: what FEC could not recover is lost.
        fail(
            "the async sender ended but slice "
                + frontier
                + " is incomplete (lost data FEC could not recover)",
            false);
        return;
      }
      // The sender only ends after every receiver acknowledged every slice, so this means
      // we were dropped; stay silent and let the idle timeout or the operator decide.
      inconsistent++;
      return;
    }
    if (extensions && !verified) {
      if (expectedSha256 == null) {
        pendingEnd = n; // its hash comes before every REQACK of the end: wait for it
        return;
      }
      Sha256 ours = Sha256.finish(digest);
      if (!ours.equals(expectedSha256) || frontierOffset != expectedBytes) {
        fail(
            "the image differs from the sender's: "
                + frontierOffset
                + " bytes with SHA-256 "
                + ours.hex()
                + ", the sender has "
                + expectedBytes
                + " bytes with "
                + expectedSha256.hex(),
            true);
        return;
      }
      verified = true;
    }
    endSlice = n;
    state = State.LINGERING;
    lingerUntilNanos = now + settings.lingerNanos();
    if (!passive) {
      oks++;
      actions.add(new Send(senderIp, senderPort, new Ok(n)));
    }
  }

  /** The slice, created on first sight; null if it is absurdly far ahead. */
  private Slice slice(int n) {
    Slice s = slices.get(n);
    if (s == null) {
      if (n - frontier > 64) {
        inconsistent++; // a sender keeps at most two slices in flight
        return null;
      }
      s = new Slice(n);
      slices.put(n, s);
    }
    return s;
  }

  /** Records a slice's byte count; false (and counted) if it contradicts what we know. */
  private boolean learn(Slice s, int bytes) {
    if (s.known()) {
      if (s.bytes != bytes) {
        inconsistent++;
        return false;
      }
      return true;
    }
    if (bytes > MAX_SLICE_BLOCKS * blocksize) {
      inconsistent++;
      return false;
    }
    s.bytes = bytes;
    s.blocks = (bytes + blocksize - 1) / blocksize;
    return true;
  }

  /** Hands complete slices whose offset is known to the driver, in order. */
  private void advance() {
    while (true) {
      Slice s = slices.get(frontier);
      if (s == null || !s.complete() || s.bytes == 0) {
        return;
      }
      slices.remove(frontier);
      s.queued = true;
      backlogBytes += s.bytes;
      bytesQueued += s.bytes;
      byte[] data = s.buf != null ? s.buf : new byte[0];
      if (extensions) {
        digest.update(data);
      }
      actions.add(new Write(s.no, frontierOffset, data));
      frontierOffset += s.bytes;
      frontier++;
    }
  }

  /** The driver wrote the slice of a {@link Write}; its bytes no longer count as backlog. */
  public void written(Write w) {
    backlogBytes -= w.data().length;
  }

  /** Ends the session from our side (operator, error): DISCONNECT if the sender knows us. */
  public void abort(String why) {
    if (state == State.DONE || state == State.FAILED) {
      return;
    }
    fail(why, state != State.CONNECTING && !passive);
  }

  private void fail(String why, boolean disconnect) {
    state = State.FAILED;
    reason = why;
    if (disconnect) {
      actions.add(new Send(senderIp, senderPort, new Disconnect()));
    }
  }

  // ---- time -------------------------------------------------------------------------------

  /** Runs timers: CONNECT_REQ retries, the idle timeout, the end of the linger. */
  public void tick(long nowNanos) {
    switch (state) {
      case CONNECTING -> {
        if (nowNanos - nextConnectNanos >= 0) {
          actions.add(new Send(0, settings.portbase() + 1, connectReq()));
          long wait = connectRetryNanos;
          nextConnectNanos = nowNanos + wait - wait / 4 + jitter.nextLong(wait / 2 + 1);
          connectRetryNanos =
              Math.min(MAX_CONNECT_RETRY_NANOS, Math.max(connectRetryNanos, wait * 2));
        }
      }
      case CONNECTED -> {
        if (dataSeen && nowNanos - lastFromSenderNanos >= settings.idleTimeoutNanos()) {
          fail(
              "the sender has been silent for "
                  + settings.idleTimeoutNanos() / 1_000_000_000L
                  + " s",
              !passive);
        }
      }
      case LINGERING -> {
        if (nowNanos - lingerUntilNanos >= 0) {
          state = State.DONE;
          if (!passive) {
            actions.add(new Send(senderIp, senderPort, new Disconnect()));
          }
        }
      }
      default -> {}
    }
  }

  /** The earliest time {@link #tick} has something to do, or {@code Long.MAX_VALUE}. */
  public long nextDeadlineNanos() {
    return switch (state) {
      case CONNECTING -> nextConnectNanos;
      case CONNECTED ->
          dataSeen ? lastFromSenderNanos + settings.idleTimeoutNanos() : Long.MAX_VALUE;
      case LINGERING -> lingerUntilNanos;
      default -> Long.MAX_VALUE;
    };
  }

  // ---- output and state -------------------------------------------------------------------

  /**
   * @return the actions queued since the last call, in order
   */
  public List<Action> drain() {
    if (actions.isEmpty()) {
      return List.of();
    }
    List<Action> out = new ArrayList<>(actions);
    actions.clear();
    return out;
  }

  public State state() {
    return state;
  }

  public String reason() {
    return reason;
  }

  public int clNr() {
    return clNr;
  }

  public int senderIp() {
    return senderIp;
  }

  /** Bytes handed to the driver for writing; at the end, the image length. */
  public long bytesQueued() {
    return bytesQueued;
  }

  public long dataPackets() {
    return dataPackets;
  }

  public long duplicates() {
    return duplicates;
  }

  /** Packets from a host or port other than our sender's, dropped. */
  public long rogue() {
    return rogue;
  }

  /** Packets that contradicted the session (sizes, block numbers, unsupported opcodes), dropped. */
  public long inconsistent() {
    return inconsistent;
  }

  public long oks() {
    return oks;
  }

  public long retransmitRequests() {
    return retransmits;
  }

  /** Data blocks recovered from FEC blocks instead of being received. */
  public long fecRecovered() {
    return fecRecovered;
  }

  /** The image length the sender announced (clonecast's extension), or -1 if unknown. */
  public long expectedBytes() {
    return expectedBytes;
  }

  /** True once what we wrote was checked against the sender's SHA-256 (clonecast's extension). */
  public boolean verified() {
    return verified;
  }

  /** True when following an async sender without a return channel. */
  public boolean passive() {
    return passive;
  }

  /** The end slice's number, or −1 before the end. */
  public int endSlice() {
    return endSlice;
  }
}

package org.clonecast.protocol.tftp;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * One read transfer from the server's side (RFC 1350, RFC 2347-2349, RFC 7440), as a pure machine:
 * packets from the client and the time go in, packets to send and the next deadline come out. No
 * I/O: DATA is emitted as {@link SendData} (block number, file offset, length) and the caller reads
 * those bytes from the file, so nothing is buffered here.
 *
 * <ul>
 *   <li>Negotiation: {@code blksize} (8..65464, capped at the server's maximum), {@code tsize}
 *       (answered with the file size), {@code timeout} (1..255 s, echoed), {@code windowsize}
 *       (capped at the server's maximum). Unknown or invalid options are ignored and not
 *       acknowledged; an OACK is sent only when an option was accepted, otherwise DATA 1 at once.
 *   <li>The EDK2 size probe: OACK with tsize, then the client's ERROR 8. It ends as {@link
 *       State#PROBE}, not as a failure.
 *   <li>Windowed sending: up to windowsize blocks are unacknowledged at once. An ACK inside the
 *       window slides it (ACKs are cumulative) and, as RFC 7440 §4 wants, the window is then sent
 *       from the block after it, so a gap the client reports is filled at once. Stale, duplicate
 *       and future ACKs are ignored, which also prevents the Sorcerer's Apprentice syndrome. On
 *       timeout the window is resent from the first unacknowledged block, with exponential backoff
 *       and a retry limit.
 *   <li>Block numbers roll over from 65535 to 0, as tftp-hpa, atftp and iPXE expect, so files of
 *       more than 65535 blocks work. A file whose size is a multiple of blksize ends with an empty
 *       block.
 * </ul>
 *
 * <p>Not thread-safe: drive one transfer from one thread (its event loop).
 */
public final class TftpTransfer {
  /** {@link Step#deadlineNanos()} of a finished transfer. */
  public static final long NO_DEADLINE = Long.MAX_VALUE;

  /**
   * The server's side of the negotiation and its retransmission policy. Immutable.
   *
   * @param maxBlksize the largest blksize granted, 8..65464; interface MTU − 32 keeps DATA
   *     unfragmented
   * @param maxWindowsize the largest windowsize granted, 1..32768 (so an ACK number always names
   *     one block of the window, across rollover)
   * @param timeout wait for an ACK before the first retransmission, unless the client asks for its
   *     own
   * @param maxRetries retransmissions of one window (or OACK) before the transfer fails
   */
  public record Settings(int maxBlksize, int maxWindowsize, Duration timeout, int maxRetries) {
    /** Largest {@link #maxWindowsize}: half the block-number space. */
    public static final int WINDOWSIZE_LIMIT = 1 << 15;

    /** Validates the fields. */
    public Settings {
      if (maxBlksize < Tftp.MIN_BLKSIZE || maxBlksize > Tftp.MAX_BLKSIZE) {
        throw new IllegalArgumentException("maxBlksize " + maxBlksize + " outside 8-65464");
      }
      if (maxWindowsize < 1 || maxWindowsize > WINDOWSIZE_LIMIT) {
        throw new IllegalArgumentException(
            "maxWindowsize " + maxWindowsize + " outside 1-" + WINDOWSIZE_LIMIT);
      }
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout " + timeout + " not positive");
      }
      if (maxRetries < 0) {
        throw new IllegalArgumentException("maxRetries " + maxRetries + " negative");
      }
    }
  }

  /** Where a transfer is. The last three are final. */
  public enum State {
    /** OACK sent, waiting for ACK 0. */
    NEGOTIATING,
    /** Sending DATA. */
    SENDING,
    /** The last block was acknowledged. */
    DONE,
    /** The client asked for tsize and aborted after the OACK (EDK2's size probe): not an error. */
    PROBE,
    /** The client sent an ERROR or stopped answering; see {@link #failure()}. */
    FAILED;

    /**
     * @return whether the transfer is over
     */
    public boolean finished() {
      return this == DONE || this == PROBE || this == FAILED;
    }
  }

  /** Something to send to the client. */
  public sealed interface Output permits Send, SendData {}

  /**
   * A complete packet (OACK).
   *
   * @param packet what to send
   */
  public record Send(TftpPacket packet) implements Output {}

  /**
   * A DATA packet whose payload the caller reads from the file.
   *
   * @param block the u16 block number on the wire
   * @param offset where in the file the payload starts
   * @param length payload bytes, 0..blksize
   * @param retransmit whether this block was sent before
   */
  public record SendData(int block, long offset, int length, boolean retransmit)
      implements Output {}

  /**
   * What a call produced.
   *
   * @param send packets to send now, in order
   * @param deadlineNanos when to call {@link #onTimeout} next ({@link #NO_DEADLINE} once finished)
   * @param state the state after the call
   */
  public record Step(List<Output> send, long deadlineNanos, State state) {
    /** Copies the list. */
    public Step {
      send = List.copyOf(send);
    }
  }

  private final Settings settings;
  private final long fileSize;
  private final TftpOptions accepted;
  private final int blksize;
  private final int windowsize;
  private final long timeoutNanos;
  private final long unansweredTimeoutNanos;
  private final boolean tsizeAccepted;
  private final long lastBlock;

  private State state;
  private long acked;
  private long sentUpTo;
  private int retries;
  private boolean answered;
  private long deadline = NO_DEADLINE;
  private long retransmits;
  private long ignored;
  private String failure = "";

  private TftpTransfer(TftpReadRequest rrq, long fileSize, Settings settings) {
    if (fileSize < 0) {
      throw new IllegalArgumentException("fileSize " + fileSize + " negative");
    }
    this.settings = settings;
    this.fileSize = fileSize;
    int blk = Tftp.DEFAULT_BLKSIZE;
    int win = 1;
    long timeout = settings.timeout().toNanos();
    boolean tsize = false;
    List<TftpOption> acc = new ArrayList<>();
    for (TftpOption o : rrq.options().list()) {
      Optional<Long> v = number(o.value());
      switch (o.name().toLowerCase(Locale.ROOT)) {
        case Tftp.OPT_BLKSIZE -> {
          // RFC 2348: below 8 is invalid (ignored); above the maximum the server answers less.
          if (v.isPresent() && v.get() >= Tftp.MIN_BLKSIZE) {
            blk = (int) Math.min(v.get(), settings.maxBlksize());
            acc.add(new TftpOption(Tftp.OPT_BLKSIZE, Integer.toString(blk)));
          }
        }
        case Tftp.OPT_TSIZE -> {
          // RFC 2349: a read request carries 0; any number is taken as the question.
          if (v.isPresent()) {
            tsize = true;
            acc.add(new TftpOption(Tftp.OPT_TSIZE, Long.toString(fileSize)));
          }
        }
        case Tftp.OPT_TIMEOUT -> {
          // RFC 2349: the server may only accept or ignore, never change the value.
          if (v.isPresent() && v.get() >= Tftp.MIN_TIMEOUT && v.get() <= Tftp.MAX_TIMEOUT) {
            timeout = Duration.ofSeconds(v.get()).toNanos();
            acc.add(new TftpOption(Tftp.OPT_TIMEOUT, Long.toString(v.get())));
          }
        }
        case Tftp.OPT_WINDOWSIZE -> {
          if (v.isPresent() && v.get() >= 1) {
            win = (int) Math.min(v.get(), settings.maxWindowsize());
            acc.add(new TftpOption(Tftp.OPT_WINDOWSIZE, Integer.toString(win)));
          }
        }
        default -> {
          // RFC 2347: options the server does not support are left out of the OACK.
        }
      }
    }
    this.accepted = new TftpOptions(acc);
    this.blksize = blk;
    this.windowsize = win;
    this.timeoutNanos = timeout;
    // Deliberate deviation from RFC 2349: until the client's first ACK the server's own timeout
    // paces the resends, whatever timeout it asked for. A request from a client that never
    // answers (a flood of forged RRQs with timeout=255) so holds its transfer slot for the
    // server's retransmission bound (31 s by default), not 255 times that; resending an OACK
    // sooner than a real client asked is harmless, it ignores the duplicate.
    this.unansweredTimeoutNanos = Math.min(timeout, settings.timeout().toNanos());
    this.tsizeAccepted = tsize;
    this.lastBlock = fileSize / blk + 1;
  }

  /**
   * Why a read request cannot be served whatever the file: its mode. Only octet is served: netascii
   * would change the file's length and block offsets, and boot loaders never use it.
   *
   * @return the ERROR to answer with, or empty when the request can go on
   */
  public static Optional<TftpError> refusal(TftpReadRequest rrq) {
    return switch (rrq.mode()) {
      case OCTET -> Optional.empty();
      case NETASCII ->
          Optional.of(
              new TftpError(
                  Tftp.ERR_NOT_DEFINED, "netascii mode not supported; use octet (binary) mode"));
      case MAIL ->
          Optional.of(new TftpError(Tftp.ERR_ILLEGAL_OPERATION, "mail mode is for WRQ only"));
    };
  }

  /**
   * Negotiates the options of {@code rrq} for a file of {@code fileSize} bytes. Call {@link #begin}
   * next.
   */
  public static TftpTransfer create(TftpReadRequest rrq, long fileSize, Settings settings) {
    return new TftpTransfer(
        Objects.requireNonNull(rrq, "rrq"), fileSize, Objects.requireNonNull(settings, "settings"));
  }

  /** The first packets: the OACK if an option was accepted, else the first window of DATA. */
  public Step begin(long nowNanos) {
    if (state != null) {
      throw new IllegalStateException("begin called twice");
    }
    List<Output> out = new ArrayList<>();
    if (accepted.isEmpty()) {
      state = State.SENDING;
      sendWindow(out, false);
    } else {
      state = State.NEGOTIATING;
      out.add(new Send(new TftpOptionAck(accepted)));
    }
    deadline = nowNanos + unansweredTimeoutNanos;
    return step(out);
  }

  /** A packet from the client's TID. */
  public Step onPacket(TftpPacket packet, long nowNanos) {
    requireBegun();
    List<Output> out = new ArrayList<>();
    if (state.finished()) {
      ignored++;
      return step(out);
    }
    if (packet instanceof TftpError e) {
      if (state == State.NEGOTIATING && tsizeAccepted && e.code() == Tftp.ERR_OPTION_REFUSED) {
        finish(State.PROBE, "");
      } else {
        finish(
            State.FAILED,
            "client sent ERROR "
                + e.code()
                + " ("
                + e.message()
                + ")"
                + (state == State.NEGOTIATING ? " to the OACK" : " at block " + (acked + 1)));
      }
    } else if (packet instanceof TftpAck a) {
      onAck(a.block(), nowNanos, out);
    } else {
      // RFC 1350 lets the server end the transfer with ERROR 4 here; a stray packet is cheaper
      // to ignore than a broken boot.
      ignored++;
    }
    return step(out);
  }

  private void onAck(int block, long nowNanos, List<Output> out) {
    if (state == State.NEGOTIATING) {
      if (block != 0) {
        ignored++;
        return;
      }
      state = State.SENDING;
    } else {
      // The only block in (acked, sentUpTo] with this u16 number; the window is at most half
      // the number space, so across rollover there is never more than one.
      long delta = (block - acked) & (Tftp.BLOCK_MODULUS - 1);
      if (delta == 0 || acked + delta > sentUpTo) {
        ignored++;
        return;
      }
      acked += delta;
      if (acked == lastBlock) {
        finish(State.DONE, "");
        return;
      }
    }
    retries = 0;
    answered = true;
    // RFC 7440 §4: a receiver that sees a gap ACKs the last block it has in order, so an ACK
    // below the last block sent means the rest of that window was lost: resend from the block
    // after it at once (go-back-N) instead of waiting for the timeout. Clients ACK only at
    // window ends otherwise, so in a clean transfer nothing is sent twice.
    sendWindow(out, acked < sentUpTo);
    deadline = nowNanos + timeoutNanos;
  }

  /** The deadline passed (an early call does nothing). */
  public Step onTimeout(long nowNanos) {
    requireBegun();
    List<Output> out = new ArrayList<>();
    if (state.finished() || nowNanos - deadline < 0) {
      return step(out);
    }
    if (retries >= settings.maxRetries()) {
      finish(
          State.FAILED,
          "no ACK "
              + (state == State.NEGOTIATING ? "to the OACK" : "for block " + (acked + 1))
              + " after "
              + retries
              + " retransmissions");
      return step(out);
    }
    retries++;
    if (state == State.NEGOTIATING) {
      retransmits++;
      out.add(new Send(new TftpOptionAck(accepted)));
    } else {
      sendWindow(out, true);
    }
    // Exponential backoff, doubling up to 8 times the base timeout.
    deadline =
        nowNanos + ((answered ? timeoutNanos : unansweredTimeoutNanos) << Math.min(retries, 3));
    return step(out);
  }

  /**
   * Appends DATA from the first unacknowledged block (resend) or after the last sent one (new
   * blocks only).
   */
  private void sendWindow(List<Output> out, boolean resend) {
    long from = resend ? acked + 1 : sentUpTo + 1;
    long to = Math.min(acked + windowsize, lastBlock);
    for (long k = from; k <= to; k++) {
      long offset = (k - 1) * blksize;
      boolean again = k <= sentUpTo;
      if (again) {
        retransmits++;
      }
      out.add(
          new SendData(
              (int) (k & (Tftp.BLOCK_MODULUS - 1)),
              offset,
              (int) Math.min(blksize, fileSize - offset),
              again));
    }
    sentUpTo = Math.max(sentUpTo, to);
  }

  private void finish(State end, String why) {
    state = end;
    failure = why;
    deadline = NO_DEADLINE;
  }

  private Step step(List<Output> out) {
    return new Step(out, deadline, state);
  }

  private void requireBegun() {
    if (state == null) {
      throw new IllegalStateException("call begin first");
    }
  }

  /** A decimal option value: digits only, at most 18 of them. */
  private static Optional<Long> number(String s) {
    if (s.isEmpty() || s.length() > 18) {
      return Optional.empty();
    }
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return Optional.empty();
      }
    }
    return Optional.of(Long.parseLong(s));
  }

  /**
   * @return the options granted (what the OACK carries), empty for a plain RFC 1350 transfer
   */
  public TftpOptions accepted() {
    return accepted;
  }

  public int blksize() {
    return blksize;
  }

  public int windowsize() {
    return windowsize;
  }

  public long fileSize() {
    return fileSize;
  }

  public State state() {
    return state;
  }

  /**
   * @return why the transfer failed, empty unless {@link State#FAILED}
   */
  public String failure() {
    return failure;
  }

  /**
   * @return payload bytes the client has acknowledged
   */
  public long bytesAcked() {
    return Math.min(acked * blksize, fileSize);
  }

  /**
   * @return packets sent again (OACK or DATA)
   */
  public long retransmits() {
    return retransmits;
  }

  /**
   * @return client packets that changed nothing (stale or duplicate ACKs, stray packets)
   */
  public long ignored() {
    return ignored;
  }

  /**
   * @return DATA packets in the whole transfer, including a final empty one
   */
  public long blocks() {
    return lastBlock;
  }
}

package org.clonecast.agent.mcast;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.clonecast.agent.disk.DiskFit;
import org.clonecast.agent.disk.Target;
import org.clonecast.agent.disk.TargetCheck;
import org.clonecast.agent.disk.TargetException;
import org.clonecast.agent.receive.SocketDrops;
import org.clonecast.agent.receive.WritePipeline;
import org.clonecast.agent.unicast.UnicastFallback;
import org.clonecast.common.net.ControlCodec;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.PeerPackets;
import org.clonecast.common.net.Transport;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.mcast.Announce;
import org.clonecast.protocol.mcast.ChunkRebuilder;
import org.clonecast.protocol.mcast.ControlMessage;
import org.clonecast.protocol.mcast.DataPacket;
import org.clonecast.protocol.mcast.McastAuth;
import org.clonecast.protocol.mcast.McastPacket;
import org.clonecast.protocol.mcast.Nak;
import org.clonecast.protocol.mcast.ReceiverMachine;
import org.clonecast.protocol.mcast.RepairPacket;
import org.clonecast.protocol.mcast.Status;
import org.clonecast.protocol.pace.DeliveryRate;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Receives one image: finds the sender (its announcements, or a given address), joins over TCP,
 * collects chunks from the multicast group, and hands complete chunks to worker threads that
 * rebuild, decompress, verify and write them. The network event loop only copies packets into chunk
 * buffers, so disk and CPU work never block receiving.
 */
public final class McastReceiver {
  private static final Logger log = LoggerFactory.getLogger(McastReceiver.class);
  private static final int MAX_DATAGRAM = 9216;
  // The sender reads delivery rates assuming heartbeats no closer than this.
  private static final long STATUS_NANOS = DeliveryRate.HEARTBEAT_NANOS;

  /** Progress callbacks, on the receiver's event loop. */
  public interface Listener {
    default void joined(Manifest manifest, int chunksNeeded) {}

    default void progress(long bytesWritten, long dataBytes, int chunksWritten, int chunksNeeded) {}

    /**
     * Why this node must not take the offered image (another than it was assigned); empty: it may.
     * Asked before the target is opened, read or written.
     */
    default Optional<String> refusal(Manifest manifest) {
      return Optional.empty();
    }

    /** The target was checked (a delta receive): what it already held, before {@link #joined}. */
    default void checked(TargetCheck.Result check) {}
  }

  /** CHECKING: joined, hashing what the target holds before saying what it needs. */
  private enum Phase {
    DISCOVERING,
    CONNECTING,
    CHECKING,
    RECEIVING,
    FINISHING,
    DONE
  }

  private final ReceiveSettings settings;
  private final NetInterface nif;
  private final Listener listener;
  private final CompletableFuture<ReceiveResult> result = new CompletableFuture<>();
  private final AtomicLong malformed = new AtomicLong();
  private final List<Integer> doneBatch = new ArrayList<>();
  private final SocketDrops socketDrops;

  /** The socket's drop counter once bound (-1: unreadable): the summary says what it lost. */
  private long dropsAtBind = -1;

  private long joinedNanos;

  /**
   * When this receiver first connected to a sender (at once with a given sender, else when an
   * announcement found one), 0 before: the time before it was spent waiting for a sender, not
   * starting up.
   */
  private long foundNanos;

  private long firstPacketNanos;
  private EventLoopGroup group;
  private EventLoop loop;

  /** Rebuilds, decompresses, verifies and writes complete chunks on worker threads. */
  private WritePipeline pipeline;

  private DatagramChannel udp;
  private Channel control;
  private Phase phase = Phase.DISCOVERING;
  private ReceiverMachine machine;
  private Manifest manifest;
  private int receiverId;
  private int symbolSize;

  /** The sender echoed {@link McastPacket#CAP_DELTA}: it takes CHECKED. */
  private boolean senderTakesChecked;

  private ScheduledFuture<?> checkHeartbeat;

  /**
   * ZERO chunks to zero on the target, found by the check (or all, on a device that was not
   * checked).
   */
  private List<Integer> zeros = List.of();

  /**
   * A disk smaller than the image whose partition check (on chunk 0) has not passed yet: nothing is
   * written.
   */
  private volatile boolean fitPending;

  private BitSet neededAtStart = new BitSet();
  private Target target;
  private int sessionId = -1;
  private InetSocketAddress feedback;
  private long dataBytes;
  private long startNanos;
  private long lastStatusNanos;
  private long rejected;
  private long overflow;
  private int lastQuarterLogged;
  private ScheduledFuture<?> timer;
  private ScheduledFuture<?> joinDeadline;
  private ScheduledFuture<?> rejoinTimer;
  private long rejoins;

  /** The session's keys from WELCOME, when the sender seals. */
  private Optional<ControlMessage.Keys> keys = Optional.empty();

  private long feedbackCounter;
  private long lastAnnounceCounter = -1;

  /**
   * Last sign of life of the sender: a control frame or a sealed announcement (or, unsealed, any of
   * its announcements).
   */
  private long lastFromSenderNanos;

  private ScheduledFuture<?> watchdog;

  /**
   * Sessions found by announcement whose image this node refused: not joined again (the newest
   * 1024).
   */
  private final Set<Integer> refusedSessions = new LinkedHashSet<>();

  private String lastRefusal;
  private final ThreadLocal<byte[]> scratch;

  /** The unicast fallback, if the node has one (docs/unicast.md); its hooks are below. */
  private UnicastFallback unicast;

  /** When the last data or repair packet of the session arrived; read by the fallback. */
  private volatile long lastDataNanos;

  /** When multicast last completed a chunk this node lacked (unicast fallback: a lag). */
  private volatile long lastProgressNanos;

  /** Chunks handed to the workers from the fallback, not the multicast (on the loop). */
  private final BitSet viaUnicast = new BitSet();

  public McastReceiver(ReceiveSettings settings, NetInterface nif, Listener listener) {
    this.settings = settings;
    this.nif = nif;
    this.listener = listener;
    this.socketDrops = new SocketDrops(settings.port());
    this.scratch = ThreadLocal.withInitial(() -> new byte[manifest.chunkSize()]);
  }

  /**
   * Lets this receive fetch by unicast what multicast does not bring (docs/unicast.md); call before
   * {@link #start}.
   *
   * @return this
   */
  public McastReceiver unicastFallback(UnicastFallback fallback) {
    this.unicast = fallback;
    return this;
  }

  /** Starts listening; the future completes with the outcome (never exceptionally). */
  public CompletableFuture<ReceiveResult> start() {
    group = Transport.group(1, "mcast-recv");
    loop = group.next();
    pipeline = new WritePipeline(settings.workers(), "chunk-writer", loop);
    startNanos = System.nanoTime();
    Optional<String> zstd = ChunkCodec.nativeLibraryProblem();
    if (zstd.isPresent()) {
      return fail(
          zstd.get()); // before joining: no sender should wait for a node that cannot decode
    }
    Bootstrap b =
        new Bootstrap()
            .group(loop)
            .channel(Transport.datagram())
            .option(ChannelOption.SO_REUSEADDR, true)
            .option(ChannelOption.SO_BROADCAST, true)
            .option(ChannelOption.SO_RCVBUF, 8 << 20)
            .option(ChannelOption.IP_MULTICAST_IF, nif.nif())
            .option(
                ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(MAX_DATAGRAM * 16))
            .handler(new DataHandler());
    if (Transport.epoll()) b.option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, MAX_DATAGRAM);
    try {
      udp = (DatagramChannel) b.bind(new InetSocketAddress(settings.port())).sync().channel();
    } catch (Exception e) {
      return fail(
          "cannot listen on UDP port "
              + settings.port()
              + ": "
              + e.getMessage()
              + " (is another receiver running? choose one with --port)");
    }
    dropsAtBind = socketDrops.read();
    log.info("mcast receiver listening on {} port {}", nif.name(), settings.port());
    watchdog = loop.scheduleAtFixedRate(this::watch, 1, 1, TimeUnit.SECONDS);
    loop.execute(
        () -> {
          if (settings.server() != null) {
            connect(settings.server());
          }
          if (!settings.joinTimeout().isZero()) {
            joinDeadline =
                loop.schedule(
                    () -> {
                      if (phase == Phase.DISCOVERING || phase == Phase.CONNECTING) {
                        fail(
                            "no sender found on "
                                + nif.name()
                                + " within "
                                + settings.joinTimeout().toSeconds()
                                + " s"
                                + (lastRefusal == null ? "" : "; " + lastRefusal));
                      }
                    },
                    settings.joinTimeout().toMillis(),
                    TimeUnit.MILLISECONDS);
          }
        });
    return result;
  }

  // ---- joining -----------------------------------------------------------------------------

  private void onAnnounce(Announce a, InetSocketAddress from) {
    // With a given sender (--server, or the session's control address in auto mode) announcements
    // never start a connection: one that arrived before the start task ran made a second one, so
    // the sender counted this node twice and the second WELCOME failed it.
    if (phase == Phase.DISCOVERING
        && settings.server() == null
        && a.state() != Announce.State.ENDED
        && nif.onLink(from.getAddress())
        && !refusedSessions.contains(a.sessionId())) {
      log.info(
          "mcast found session {} from {} (image {}, {} bytes)",
          Integer.toHexString(a.sessionId()),
          from.getAddress().getHostAddress(),
          a.imageId(),
          a.logicalSize());
      connect(new InetSocketAddress(from.getAddress(), a.controlPort()));
    } else if (a.sessionId() == sessionId
        && (phase == Phase.RECEIVING || phase == Phase.CHECKING)
        && fromSender(a, from)) {
      // A sign of life only. Its state never ends this receiver: the end comes over the control
      // connection (END, or the connection closing), which no other host can forge; an ENDED
      // announcement is for receivers still looking for a session (docs/protocol.md §5).
      lastFromSenderNanos = System.nanoTime();
    }
  }

  /**
   * True for an announcement the joined sender made: sealed under the session key with a new
   * counter.
   */
  private boolean fromSender(Announce a, InetSocketAddress from) {
    if (keys.isEmpty())
      return from.getAddress()
          .equals(feedback.getAddress()); // a first-version sender seals nothing
    if (a.seal().isEmpty()
        || a.seal().get().counter() <= lastAnnounceCounter
        || !McastAuth.verify(
            a.withSeal(Optional.empty()), a.seal().get(), keys.get().sessionKey())) {
      return false;
    }
    lastAnnounceCounter = a.seal().get().counter();
    return true;
  }

  /**
   * Every second: a joined receiver fails when its sender has gone silent (its host cut off, the
   * TCP connection still open).
   */
  private void watch() {
    if (phase != Phase.RECEIVING && phase != Phase.CONNECTING && phase != Phase.CHECKING) return;
    if (phase == Phase.CONNECTING && control == null) return; // the connect itself times out
    long silent = System.nanoTime() - lastFromSenderNanos;
    if (silent > settings.senderTimeout().toNanos()) {
      String why =
          "the sender has been silent for "
              + settings.senderTimeout().toSeconds()
              + " s (no control frame, no "
              + (keys.isPresent() ? "sealed " : "")
              + "announcement); its host may be cut off";
      if (phase == Phase.CONNECTING && settings.server() == null) {
        log.warn("mcast {}; looking for another session", why);
        control.close();
        phase = Phase.DISCOVERING;
        return;
      }
      fail(why);
    }
  }

  private void connect(InetSocketAddress server) {
    phase = Phase.CONNECTING;
    if (foundNanos == 0) foundNanos = System.nanoTime();
    Bootstrap b =
        new Bootstrap()
            .group(loop)
            .channel(Transport.socket())
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
            .handler(ControlCodec.initializer(ControlHandler::new));
    ChannelFuture f = b.connect(server);
    f.addListener(
        x -> {
          if (x.isSuccess()) {
            control = f.channel();
            lastFromSenderNanos = System.nanoTime();
            int caps = McastPacket.CAP_SEALED | (settings.check() ? McastPacket.CAP_DELTA : 0);
            control.writeAndFlush(
                settings.joinProof().isPresent()
                    ? new ControlMessage.Hello(
                        McastPacket.VERSION,
                        caps | McastPacket.CAP_NODE_PROOF,
                        settings.name(),
                        settings.joinProof())
                    : new ControlMessage.Hello(McastPacket.VERSION, caps, settings.name()));
          } else if (settings.server() != null) {
            fail("cannot connect to sender " + server + ": " + x.cause().getMessage());
          } else {
            log.warn(
                "mcast cannot connect to {}: {}; waiting for the next announcement",
                server,
                x.cause().getMessage());
            phase = Phase.DISCOVERING;
          }
        });
  }

  private void welcome(ControlMessage.Welcome w) {
    if (phase != Phase.CONNECTING) {
      fail("unexpected WELCOME from the sender");
      return;
    }
    // Before anything is opened or written: the image must be signed by a key this node trusts.
    Optional<String> refusal = settings.trust().refusal(w.manifest(), w.signatures());
    if (refusal.isPresent()) {
      refuse(w, refusal.get());
      return;
    }
    if (settings.trust() instanceof ImageTrust.InsecureUnsigned) {
      log.warn(
          "mcast image {} NOT VERIFIED: --insecure-unsigned takes any image, signed or not, from whoever answers",
          w.manifest().imageId());
    } else {
      log.info("mcast image {} signed by a trusted key", w.manifest().imageId());
    }
    Optional<String> notAssigned = listener.refusal(w.manifest());
    if (notAssigned.isPresent()) {
      control.writeAndFlush(new ControlMessage.Finished(false, notAssigned.get(), 0, 0, 0, 0));
      fail(notAssigned.get());
      return;
    }
    if (joinDeadline != null) joinDeadline.cancel(false);
    manifest = w.manifest();
    sessionId = w.sessionId();
    keys = w.keys();
    InetSocketAddress remote = (InetSocketAddress) control.remoteAddress();
    feedback = new InetSocketAddress(remote.getAddress(), w.dataPort());
    dataBytes = manifest.dataBytes();
    try {
      // A smaller device is opened too: its partition check comes before the first write (below).
      target =
          Target.open(settings.output(), manifest.logicalSize(), dataBytes, settings.check(), true);
    } catch (TargetException e) {
      control.writeAndFlush(new ControlMessage.Finished(false, e.getMessage(), 0, 0, 0, 0));
      fail(e.getMessage());
      return;
    }
    receiverId = w.receiverId();
    symbolSize = w.symbolSize();
    senderTakesChecked = (w.capabilities() & McastPacket.CAP_DELTA) != 0;
    log.info(
        "mcast joined session {} as receiver {}, group {}",
        Integer.toHexString(sessionId),
        w.receiverId(),
        Ipv4.fromInt(w.group()).getHostAddress());
    InetSocketAddress groupAddress = new InetSocketAddress(Ipv4.fromInt(w.group()), w.dataPort());
    udp.joinGroup(groupAddress, nif.nif())
        .addListener(
            f -> {
              if (!f.isSuccess())
                fail(
                    "cannot join multicast group "
                        + Ipv4.fromInt(w.group()).getHostAddress()
                        + " on "
                        + nif.name()
                        + ": "
                        + f.cause().getMessage());
            });
    long every = settings.igmpRejoin().toMillis();
    if (every > 0)
      rejoinTimer =
          loop.scheduleAtFixedRate(() -> rejoin(groupAddress), every, every, TimeUnit.MILLISECONDS);
    joinedNanos = System.nanoTime();
    if (!settings.check() || !target.holdsData()) {
      // Stored chunks are received; ZERO chunks are zeros to write over their used blocks on a
      // device (a new file reads as zeros already); UNUSED chunks are neither sent nor written.
      receive(TargetCheck.nothingHeld(manifest, target.blockDevice()), false);
      return;
    }
    // A delta receive: hash what the target holds first, off the event loop. The sender hears a
    // heartbeat meanwhile (a check of a large disk outlasts its receiver timeout).
    phase = Phase.CHECKING;
    log.info(
        "mcast checking what {} already holds of the image ({} bytes to read)",
        settings.output(),
        manifest.usedBytes());
    checkHeartbeat =
        loop.scheduleAtFixedRate(
            () -> {
              if (phase == Phase.CHECKING)
                sendFeedback(new Status(sessionId, receiverId, 0, 0, 0, 0, 0, 0, 0));
            },
            0,
            1,
            TimeUnit.SECONDS);
    pipeline.run(
        () -> {
          try {
            TargetCheck.Result r = TargetCheck.run(target, manifest, settings.workers());
            loop.execute(() -> receive(r, true));
          } catch (IOException e) {
            loop.execute(
                () -> {
                  String reason =
                      "checking what " + settings.output() + " holds failed: " + e.getMessage();
                  if (control != null && control.isActive())
                    control.writeAndFlush(new ControlMessage.Finished(false, reason, 0, 0, 0, 0));
                  fail(reason);
                });
          }
        });
  }

  /** Fails before anything was written, telling the sender why. */
  private void abortBeforeWriting(String reason) {
    if (control != null && control.isActive())
      control.writeAndFlush(new ControlMessage.Finished(false, reason, 0, 0, 0, 0));
    fail(reason);
  }

  /** The image's partitions fit the smaller disk: now ask for the rest, and zero what must be. */
  private void fitPassed() {
    if (phase != Phase.RECEIVING) return;
    fitPending = false;
    BitSet rest = (BitSet) neededAtStart.clone();
    rest.clear(0);
    log.info(
        "mcast the image's partitions fit {}; receiving the other {} chunks",
        settings.output(),
        rest.cardinality());
    control.writeAndFlush(new ControlMessage.Need(rest));
    if (!zeros.isEmpty()) zeroFill(zeros);
  }

  /** Says what this receiver needs and starts collecting it. */
  private void receive(TargetCheck.Result check, boolean checked) {
    if (phase != Phase.CONNECTING && phase != Phase.CHECKING) return; // failed meanwhile
    if (checkHeartbeat != null) checkHeartbeat.cancel(false);
    BitSet needed = check.needed();
    // Progress counts what this node writes: after a check, only the chunks it lacks.
    if (checked) dataBytes = needed.stream().mapToLong(manifest::usedBytes).sum();
    machine =
        new ReceiverMachine(
            manifest,
            sessionId,
            receiverId,
            symbolSize,
            needed,
            ReceiverMachine.Settings.defaults());
    phase = Phase.RECEIVING;
    if (checked) {
      // Already right: as verified as a chunk received, by the manifest's SHA-256
      // (docs/reimaging.md).
      log.info(
          "mcast target check: {} of {} chunks already right ({} bytes), {} to receive, {} to zero; {} bytes read in {} s",
          check.chunksRight(),
          manifest.chunkCount(),
          check.bytesRight(),
          needed.cardinality(),
          check.zeros().size(),
          check.bytesRead(),
          secs(check.nanos()));
      listener.checked(check);
    }
    log.info("mcast receiving {} chunks of {}", needed.cardinality(), manifest.chunkCount());
    zeros = check.zeros();
    neededAtStart = needed;
    BitSet asked = needed;
    if (target.size() < manifest.logicalSize()) {
      // A disk smaller than the image: nothing is written before its partition table says the
      // image fits. Chunk 0 holds it: from the disk when it is already right there, else received
      // first.
      if (!needed.get(0)) {
        byte[] head = new byte[manifest.logicalLength(0)];
        try {
          target.read(0, head, head.length);
        } catch (IOException e) {
          abortBeforeWriting("reading " + settings.output() + " failed: " + e.getMessage());
          return;
        }
        Optional<String> no =
            DiskFit.refusal(head, manifest.logicalSize(), target.size(), settings.output());
        if (no.isPresent()) {
          abortBeforeWriting(no.get());
          return;
        }
      } else {
        fitPending = true;
        asked = new BitSet();
        asked.set(0);
        log.info(
            "mcast {} is smaller than the image ({} < {} bytes): its partition table first",
            settings.output(),
            target.size(),
            manifest.logicalSize());
      }
    }
    control.writeAndFlush(
        senderTakesChecked
            ? ControlMessage.Checked.of(check.chunksRight(), check.bytesRight(), asked)
            : new ControlMessage.Need(
                asked)); // a first-version sender: NEED with what differs works the same
    listener.joined(manifest, needed.cardinality());
    if (!fitPending && !zeros.isEmpty()) zeroFill(zeros);
    timer = loop.scheduleAtFixedRate(this::onTimer, 5, 5, TimeUnit.MILLISECONDS);
    if (unicast != null) unicast.start(new UnicastPort(), manifest);
    maybeFinish();
  }

  /**
   * An image this node must not write: nothing has been opened. With a given sender (--server, or
   * the daemon's assignment) the receive fails naming why; a session found by its announcements is
   * skipped (a rogue announcing its own session must not stop the node from finding the real one),
   * and the join timeout's failure names the refusal.
   */
  private void refuse(ControlMessage.Welcome w, String why) {
    String from = ((InetSocketAddress) control.remoteAddress()).getAddress().getHostAddress();
    String reason = "refused the image " + w.manifest().imageId() + " from " + from + ": " + why;
    control.writeAndFlush(new ControlMessage.Finished(false, reason, 0, 0, 0, 0));
    if (settings.server() != null) {
      fail(reason);
      return;
    }
    log.warn("mcast {}; looking for another session", reason);
    lastRefusal = reason;
    refusedSessions.add(w.sessionId());
    if (refusedSessions.size() > 1024) refusedSessions.remove(refusedSessions.iterator().next());
    control.close();
    control = null;
    phase = Phase.DISCOVERING;
  }

  /**
   * Leaves and at once re-joins the data group: the kernel then sends a fresh membership report,
   * which a snooping switch takes as a refresh even when no querier ever asks for one. Leaving
   * first is the only way to make it report from user space (a second join of the same group only
   * counts a reference). The gap is one system call; NAKs cover anything lost in it.
   */
  private void rejoin(InetSocketAddress groupAddress) {
    if (phase != Phase.RECEIVING) return;
    rejoins++;
    udp.leaveGroup(groupAddress, nif.nif())
        .addListener(
            left ->
                udp.joinGroup(groupAddress, nif.nif())
                    .addListener(
                        f -> {
                          if (!f.isSuccess()) {
                            fail(
                                "cannot re-join multicast group "
                                    + groupAddress.getAddress().getHostAddress()
                                    + " on "
                                    + nif.name()
                                    + ": "
                                    + f.cause().getMessage());
                          }
                        }));
  }

  /**
   * A block device (or a kept file) holds old data where the image has zero chunks: overwrite their
   * used blocks (unused blocks are free space the image does not carry: left as they are).
   */
  private void zeroFill(List<Integer> zeros) {
    pipeline.submit(
        new WritePipeline.Piece<Void>() {
          @Override
          public Void decode() {
            return null;
          }

          @Override
          public long write(Void nothing) throws IOException {
            byte[] z = new byte[manifest.chunkSize()];
            for (int c : zeros)
              target.writeUsed(
                  manifest.logicalOffset(c),
                  z,
                  manifest.logicalLength(c),
                  manifest.chunk(c).used());
            return 0; // no image data: progress counts what was received
          }

          @Override
          public void written(long bytes) {
            maybeFinish();
          }

          @Override
          public void failed(Throwable cause) {
            if (cause instanceof IOException e) writeFailed(e);
            else abortWriting("zeroing " + settings.output() + " failed: " + cause);
          }
        });
  }

  // ---- receiving ---------------------------------------------------------------------------

  private void onChunk(ReceiverMachine.CompleteChunk cc) {
    if (fitPending && cc.chunk() != 0) {
      machine.chunkRejected(
          cc.chunk()); // nothing is written before the partition check: take it from a later pass
      return;
    }
    if (!machine.take(cc.chunk(), pipeline.pending())) {
      overflow++; // the writes are behind: take it from a later pass
      return;
    }
    // Tell the sender now, not after the write: a busy disk must not make it send the chunk again.
    // Should the chunk fail its check, it is asked for again (retake).
    doneBatch.add(cc.chunk());
    if (doneBatch.size() >= 32) flushDone();
    pipeline.submit(new ChunkPiece(cc.chunk(), () -> ChunkRebuilder.rebuild(cc)));
  }

  /**
   * A chunk that failed after being reported: collect it again, until {@link
   * ReceiverMachine#MAX_CHUNK_FAILURES}.
   */
  private void retake(int chunk, String why) {
    rejected++;
    viaUnicast.clear(chunk);
    if (phase != Phase.RECEIVING) return;
    int n = machine.chunkFailed(chunk);
    if (n >= ReceiverMachine.MAX_CHUNK_FAILURES) {
      // Not loss: the sender's copy is damaged, and taking it again would loop for ever.
      String reason =
          "chunk "
              + chunk
              + " "
              + why
              + " "
              + n
              + " times; the sender's image is damaged (verify it with"
              + " 'clonecast image verify')";
      control.writeAndFlush(failed(reason));
      fail(reason);
      return;
    }
    log.warn(
        "mcast chunk {} {}; taking it again ({} of {})",
        chunk,
        why,
        n,
        ReceiverMachine.MAX_CHUNK_FAILURES - 1);
    doneBatch.remove(Integer.valueOf(chunk));
    BitSet again = new BitSet();
    again.set(chunk);
    control.writeAndFlush(new ControlMessage.Need(again));
  }

  /**
   * A complete chunk: its stored bytes rebuilt (multicast) or taken as fetched (unicast),
   * decompressed and verified, then its used blocks written.
   */
  private final class ChunkPiece implements WritePipeline.Piece<byte[]> {
    private final int c;
    private final Supplier<byte[]> source;

    ChunkPiece(int c, Supplier<byte[]> source) {
      this.c = c;
      this.source = source;
    }

    @Override
    public byte[] decode() {
      byte[] stored = source.get();
      // A RAW chunk is checked and written from the received bytes as they are: one copy fewer.
      return ChunkCodec.decodeInPlace(
          manifest.chunk(c), stored, scratch.get(), manifest.logicalLength(c));
    }

    @Override
    public long write(byte[] out) throws IOException {
      int len = manifest.logicalLength(c);
      if (c == 0 && fitPending) {
        // The partition table, verified, before the first write: does the image fit the smaller
        // disk?
        Optional<String> no =
            DiskFit.refusal(
                Arrays.copyOf(out, len), manifest.logicalSize(), target.size(), settings.output());
        if (no.isPresent()) throw new WritePipeline.Refused(no.get());
      }
      return target.writeUsed(manifest.logicalOffset(c), out, len, manifest.chunk(c).used());
    }

    @Override
    public void written(long bytes) {
      if (c == 0 && fitPending) fitPassed();
      McastReceiver.this.written(c, bytes);
    }

    @Override
    public void failed(Throwable e) {
      if (e instanceof ChunkVerificationException) {
        retake(c, "failed verification: " + e.getMessage());
      } else if (e instanceof WritePipeline.Refused) {
        abortBeforeWriting(e.getMessage());
      } else if (e instanceof IOException io) {
        writeFailed(io);
      } else if (e instanceof RuntimeException) {
        retake(c, "could not be rebuilt: " + e);
      } else {
        // Every chunk would fail alike (a native library gone, memory exhausted): end the receive
        // now.
        abortWriting("chunk " + c + " could not be decoded: " + e);
      }
    }
  }

  private void written(int chunk, long bytes) {
    if (phase != Phase.RECEIVING) return;
    machine.chunkWritten(chunk);
    if (viaUnicast.get(chunk)) unicast.written(bytes);
    int quarter = machine.chunksWritten() * 4 / Math.max(1, machine.chunksNeeded());
    if (quarter > lastQuarterLogged && quarter < 4) {
      lastQuarterLogged = quarter;
      log.info(
          "mcast progress {}%: {} of {} chunks written",
          quarter * 25, machine.chunksWritten(), machine.chunksNeeded());
    }
    maybeFinish();
  }

  /** The FINISHED that tells the sender this receive failed, with what was done so far. */
  private ControlMessage.Finished failed(String reason) {
    return new ControlMessage.Finished(
        false,
        reason,
        pipeline.bytesWritten(),
        machine.received(),
        machine.repairsReceived(),
        machine.duplicates());
  }

  private void writeFailed(IOException e) {
    abortWriting("writing " + settings.output() + " failed: " + e.getMessage());
  }

  /** A worker could not write a chunk and no other could: tell the sender and fail. */
  private void abortWriting(String reason) {
    if (control != null && control.isActive()) {
      control.writeAndFlush(failed(reason));
    }
    fail(reason);
  }

  private void flushDone() {
    if (doneBatch.isEmpty() || control == null) return;
    int[] c = doneBatch.stream().mapToInt(Integer::intValue).toArray();
    doneBatch.clear();
    control.writeAndFlush(new ControlMessage.Done(c));
  }

  private void onTimer() {
    if (phase != Phase.RECEIVING) return;
    long now = System.nanoTime();
    for (Nak n : machine.poll(now)) {
      // While the fallback fetches, the multicast does not reach this node: NAKs would only draw
      // repairs the others do not need.
      if (unicast == null || !unicast.fetching()) sendFeedback(n);
    }
    if (now - lastStatusNanos >= STATUS_NANOS) {
      lastStatusNanos = now;
      flushDone();
      long drops = socketDrops.read();
      sendFeedback(
          drops < 0
              ? machine.status(pipeline.bytesWritten())
              : machine.status(pipeline.bytesWritten(), drops));
      listener.progress(
          pipeline.bytesWritten(), dataBytes, machine.chunksWritten(), machine.chunksNeeded());
    }
    udp.flush();
  }

  private void sendFeedback(McastPacket p) {
    if (keys.isPresent()) {
      // Sealed with this receiver's own key: the sender counts nothing else under its id.
      byte[] k = keys.get().receiverKey();
      p =
          p instanceof Nak n
              ? McastAuth.seal(n, k, ++feedbackCounter)
              : McastAuth.seal((Status) p, k, ++feedbackCounter);
    }
    ByteBuf b = udp.alloc().buffer(256);
    p.encode(b);
    udp.write(new DatagramPacket(b, feedback));
  }

  // ---- finishing ---------------------------------------------------------------------------

  private void maybeFinish() {
    if (phase != Phase.RECEIVING || !machine.allWritten() || pipeline.pending() > 0) return;
    phase = Phase.FINISHING;
    flushDone();
    sendFeedback(machine.status(pipeline.bytesWritten()));
    udp.flush();
    listener.progress(
        pipeline.bytesWritten(), dataBytes, machine.chunksWritten(), machine.chunksNeeded());
    pipeline.sync(
        target,
        error -> {
          if (error.isPresent()) writeFailed(error.get());
          else finished();
        });
  }

  private void finished() {
    ReceiveResult r =
        new ReceiveResult(
            true,
            "ok",
            manifest.logicalSize(),
            System.nanoTime() - startNanos,
            machine.received(),
            machine.repairsReceived(),
            machine.duplicates(),
            rejected);
    log.info(
        "mcast receive complete: {} bytes, {} packets ({} repair, {} duplicate), {} NAK entries sent, {} chunks retaken, {} dropped for a slow disk, {} dropped by the socket (receive buffer full), {} IGMP re-joins",
        r.bytesWritten(),
        r.packets(),
        r.repairs(),
        r.duplicates(),
        machine.nakEntries(),
        rejected,
        overflow,
        SocketDrops.since(socketDrops, dropsAtBind),
        rejoins);
    // What bounded this receiver: the start (JVM, discovery, join), the wire (receiving), or its
    // workers' CPU (rebuild, decompress, hash) or disk (write, sync); the workers overlap
    // receiving.
    long now = System.nanoTime();
    long waited = foundNanos - startNanos;
    log.info(
        "mcast receive time: {} s waiting for a sender, {} s to join, {} s to the first packet, {} s"
            + " from it to the end; {}",
        secs(waited),
        secs(joinedNanos - foundNanos),
        secs(firstPacketNanos - joinedNanos),
        secs(now - firstPacketNanos),
        pipeline.describeTimes(waited));
    if (control != null && control.isActive()) {
      control
          .writeAndFlush(
              new ControlMessage.Finished(
                  true, "ok", r.bytesWritten(), r.packets(), r.repairs(), r.duplicates()))
          .addListener(f -> complete(r));
    } else {
      complete(r);
    }
  }

  private static String secs(long nanos) {
    return WritePipeline.secs(nanos);
  }

  private CompletableFuture<ReceiveResult> fail(String reason) {
    long packets = machine == null ? 0 : machine.received();
    long repairs = machine == null ? 0 : machine.repairsReceived();
    long dups = machine == null ? 0 : machine.duplicates();
    complete(
        new ReceiveResult(
            false,
            reason,
            pipeline.bytesWritten(),
            System.nanoTime() - startNanos,
            packets,
            repairs,
            dups,
            rejected));
    return result;
  }

  private void complete(ReceiveResult r) {
    if (phase == Phase.DONE) return;
    phase = Phase.DONE;
    if (timer != null) timer.cancel(false);
    if (checkHeartbeat != null) checkHeartbeat.cancel(false);
    if (watchdog != null) watchdog.cancel(false);
    if (rejoinTimer != null) rejoinTimer.cancel(false);
    if (unicast != null) unicast.stop();
    if (control != null) control.close();
    if (udp != null) udp.close();
    pipeline.close();
    try {
      if (target != null) target.close();
    } catch (IOException e) {
      log.warn("closing {}: {}", settings.output(), e.toString());
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    result.complete(r);
  }

  /** Stops now (operator interrupt): the sender is told through the closed connection. */
  public void stop(String reason) {
    if (loop != null) loop.execute(() -> fail(reason));
  }

  public long malformed() {
    return malformed.get();
  }

  // ---- unicast fallback --------------------------------------------------------------------

  /** The receive as {@link UnicastFallback} sees it: every call goes through the event loop. */
  private final class UnicastPort implements UnicastFallback.Receiver {
    @Override
    public CompletableFuture<Integer> claim() {
      CompletableFuture<Integer> f = new CompletableFuture<>();
      loop.execute(
          () -> {
            if (phase != Phase.RECEIVING) {
              f.complete(phase == Phase.FINISHING ? -1 : -2);
              return;
            }
            BitSet missing = machine.missing();
            // A smaller disk writes nothing before chunk 0 has shown its partitions fit.
            if (fitPending) missing.clear(1, Math.max(1, missing.length()));
            for (int c = missing.nextSetBit(0); c >= 0; c = missing.nextSetBit(c + 1)) {
              if (machine.handOff(c)) {
                f.complete(c);
                return;
              }
            }
            f.complete(-1);
          });
      return f;
    }

    @Override
    public void giveBack(int chunk) {
      loop.execute(
          () -> {
            if (phase == Phase.RECEIVING) machine.chunkRejected(chunk);
          });
    }

    @Override
    public void deliver(int chunk, byte[] stored) {
      loop.execute(
          () -> {
            if (phase != Phase.RECEIVING) return;
            if (pipeline.pending() >= ReceiverMachine.MAX_PENDING_WRITES) {
              overflow++;
              machine.chunkRejected(chunk); // the disk is behind: fetched or sent again later
              return;
            }
            viaUnicast.set(chunk);
            doneBatch.add(chunk); // the sender stops sending it to this node
            if (doneBatch.size() >= 32) flushDone();
            pipeline.submit(new ChunkPiece(chunk, () -> stored));
          });
    }

    @Override
    public long lastMulticastNanos() {
      return lastDataNanos;
    }

    @Override
    public long lastProgressNanos() {
      return lastProgressNanos;
    }

    @Override
    public void senderAlive() {
      // The daemon answered for the running session: its sender lives, though its announcements do
      // not reach this node.
      loop.execute(() -> lastFromSenderNanos = System.nanoTime());
    }
  }

  // ---- handlers ----------------------------------------------------------------------------

  private final class DataHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
      ByteBuf buf = p.content();
      if (!ReceiverMachine.looksLikeOurs(buf)) {
        malformed.incrementAndGet();
        return;
      }
      McastPacket m = PeerPackets.decode(p, McastPacket::decode, malformed, log, "mcast");
      if (m == null) return;
      if (m instanceof Announce a) {
        onAnnounce(a, p.sender());
        return;
      }
      if (phase != Phase.RECEIVING) return;
      long now = System.nanoTime();
      if (firstPacketNanos == 0) firstPacketNanos = now;
      lastDataNanos = now;
      ReceiverMachine.CompleteChunk cc = null;
      if (m instanceof DataPacket d) {
        cc = machine.onData(d, now);
      } else if (m instanceof RepairPacket r) {
        cc = machine.onRepair(r, now);
      }
      if (cc != null) {
        lastProgressNanos = now;
        onChunk(cc);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.warn("mcast data socket error: {}", cause.toString());
    }
  }

  private final class ControlHandler extends ControlCodec.Handler {
    @Override
    protected void malformed(ChannelHandlerContext ctx, MalformedPacketException e) {
      malformed.incrementAndGet();
      fail("the sender sent a malformed control frame: " + e.getMessage());
    }

    @Override
    protected void message(ChannelHandlerContext ctx, ControlMessage msg) {
      lastFromSenderNanos = System.nanoTime();
      if (msg instanceof ControlMessage.Welcome w) {
        welcome(w);
      } else if (msg instanceof ControlMessage.End e) {
        if (phase == Phase.FINISHING) return; // our FINISHED crossed the sender's END
        fail("the sender ended this receive: " + e.reason());
      } else {
        fail("unexpected " + msg.getClass().getSimpleName() + " from the sender");
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (phase == Phase.CONNECTING && settings.server() == null) {
        phase = Phase.DISCOVERING; // try the next announcement
      } else if (phase == Phase.RECEIVING || phase == Phase.CONNECTING || phase == Phase.CHECKING) {
        fail("the control connection to the sender closed before the image was complete");
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("mcast control: {}", cause.toString());
      ctx.close();
    }
  }
}

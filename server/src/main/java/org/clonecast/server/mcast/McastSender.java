package org.clonecast.server.mcast;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.net.ControlCodec;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.PeerPackets;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.mcast.Announce;
import org.clonecast.protocol.mcast.ChunkRebuilder;
import org.clonecast.protocol.mcast.ControlMessage;
import org.clonecast.protocol.mcast.DataPacket;
import org.clonecast.protocol.mcast.McastAuth;
import org.clonecast.protocol.mcast.McastPacket;
import org.clonecast.protocol.mcast.Nak;
import org.clonecast.protocol.mcast.RepairPacket;
import org.clonecast.protocol.mcast.SenderMachine;
import org.clonecast.protocol.mcast.Status;
import org.clonecast.protocol.mcast.SymbolLayout;
import org.clonecast.protocol.pace.Pacer;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.clonecast.server.send.DatagramBatcher;
import org.clonecast.server.send.SendDriver;
import org.clonecast.server.send.SendTimes.Wait;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one multicast session: announces it, accepts receivers on the TCP control port, and
 * multicasts what the {@link SenderMachine} picks at the pace the {@link Pacer} allows. Every piece
 * of session state lives on one event loop; nothing here blocks that loop except reading a chunk
 * from the page cache.
 */
public final class McastSender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(McastSender.class);

  /** Packets per GSO send: 32 × 1472 B stays under the 64 KiB a UDP datagram may carry. */
  private static final int MAX_BATCH = 32;

  private static final int CHUNK_CACHE = 48;

  /**
   * Counters for reports and metrics: the driver's (packets and bytes sent, malformed, ignored,
   * where the time went) and this protocol's. Thread-safe.
   */
  public static final class Counters extends SendDriver.Counters {
    public final AtomicLong naks = new AtomicLong();

    /**
     * Chunk indexes of CHECKED frames dropped: past the manifest, of chunks that store nothing, or
     * a second CHECKED.
     */
    public final AtomicLong rejectedNeeds = new AtomicLong();

    /**
     * STATUS and NAK packets not counted: unknown receiver, wrong address, bad seal or replayed.
     */
    public final AtomicLong rejectedFeedback = new AtomicLong();

    /** FEC repair packets among {@link #packetsSent}. */
    public final AtomicLong repairPacketsSent = new AtomicLong();
  }

  private final SendSettings settings;
  private final List<ManifestSignature> signatures;
  private final ChunkSource source;
  private final NetInterface nif;
  private final SecureRandom random = new SecureRandom();
  private final int sessionId = random.nextInt() & 0x7FFFFFFF;

  /** Seals this session's ANNOUNCEs; handed to each receiver in its WELCOME. */
  private final byte[] sessionKey = new byte[McastAuth.KEY_BYTES];

  private long announceCounter;

  /** Chunks whose stored bytes were checked against the manifest on their first read. */
  private final BitSet verified = new BitSet();

  private byte[] verifyScratch;
  private final Inet4Address group;
  private final InetSocketAddress groupAddr;
  private final InetSocketAddress broadcastAddr;
  private final SenderMachine machine;
  private final Counters counters = new Counters();
  private final SendDriver<SenderMachine> driver;
  private final Map<Integer, Channel> controls = new HashMap<>();
  private final Map<Integer, byte[]> cache =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, byte[]> e) {
          return size() > CHUNK_CACHE;
        }
      };
  private final Map<Long, byte[][]> stripeCache =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, byte[][]> e) {
          return size() > 256;
        }
      };
  private final SessionListener listener;
  private DatagramChannel udp;
  private int seq;
  private long lastAnnounceNanos = Long.MIN_VALUE / 2;
  private DatagramBatcher batcher;
  private final byte[] repairScratch;

  /** Events for progress output; called on the sender's event loop. */
  public interface SessionListener {
    default void started(SenderMachine m) {}

    default void tick(SenderMachine m, long rateBytesPerSecond) {}

    default void receiverEnded(SenderMachine.Receiver r) {}

    /**
     * A delta receiver checked its target: {@link SenderMachine.Receiver#chunksRight} and what it
     * needs are known.
     */
    default void receiverChecked(SenderMachine.Receiver r) {}

    /**
     * Why a receiver's HELLO, from {@code from}, must not join; empty: it may. A daemon session
     * takes only its nodes, each proving it holds its per-boot secret.
     */
    default Optional<String> refuseJoin(ControlMessage.Hello hello, InetAddress from) {
      return Optional.empty();
    }
  }

  public McastSender(
      SendSettings settings, ChunkSource source, NetInterface nif, SessionListener listener) {
    this(settings, source, nif, listener, List.of());
  }

  /**
   * @param signatures the manifest's signatures, handed to every receiver in its WELCOME (none: the
   *     image goes out unsigned, and receivers that trust keys refuse it)
   */
  public McastSender(
      SendSettings settings,
      ChunkSource source,
      NetInterface nif,
      SessionListener listener,
      List<ManifestSignature> signatures) {
    this.signatures = List.copyOf(signatures);
    if (this.signatures.size() > ControlMessage.Welcome.MAX_SIGNATURES) {
      throw new IllegalArgumentException(
          signatures.size() + " signatures, at most " + ControlMessage.Welcome.MAX_SIGNATURES);
    }
    this.settings = settings;
    this.source = source;
    this.nif = nif;
    this.listener = listener;
    this.group = settings.group() != null ? settings.group() : defaultGroup(nif.address());
    this.groupAddr = new InetSocketAddress(group, settings.port());
    this.broadcastAddr = new InetSocketAddress(nif.broadcast(), settings.port());
    long maxChunk = SymbolLayout.maxStoredLength(settings.symbolSize());
    if (source.manifest().chunkSize() > maxChunk) {
      throw new IllegalArgumentException(
          "chunk size "
              + source.manifest().chunkSize()
              + " too large for symbol size "
              + settings.symbolSize()
              + "; at most "
              + maxChunk
              + " bytes (use a larger MTU or a smaller chunk size)");
    }
    random.nextBytes(sessionKey);
    long storedBytes = source.manifest().chunks().stream().mapToLong(e -> e.storedLength()).sum();
    SenderMachine.Settings ms =
        new SenderMachine.Settings(
            settings.symbolSize(),
            settings.minReceivers(),
            settings.maxWait().toNanos(),
            settings.receiverTimeout().toNanos(),
            300_000_000L,
            30_000_000L,
            200,
            settings.receiverDeadline().orElse(SendSettings.defaultDeadline(storedBytes)).toNanos(),
            settings.checkGrace().toNanos());
    this.machine = new SenderMachine(source.manifest(), ms);
    this.repairScratch = new byte[settings.symbolSize()];
    this.driver = new SendDriver<>("mcast session " + Integer.toHexString(sessionId), counters);
  }

  /**
   * 239.255.x.y from the low 16 bits of the sender's address: organisation-local scope, outside
   * SSM's 232/8.
   */
  public static Inet4Address defaultGroup(Inet4Address a) {
    return Ipv4.fromInt(0xEFFF0000 | (Ipv4.toInt(a) & 0xFFFF));
  }

  public int sessionId() {
    return sessionId;
  }

  public Inet4Address group() {
    return group;
  }

  public Counters counters() {
    return counters;
  }

  /**
   * Binds the sockets and starts announcing; the returned future completes when the session ends.
   */
  public CompletableFuture<SenderMachine> start() throws InterruptedException {
    EventLoop loop = driver.open("mcast-send");
    Pacer pacer =
        new Pacer(
            Pacer.Settings.adaptiveWithDelivery(settings.rateBitsPerSecond() / 8),
            System.nanoTime());
    Bootstrap ub =
        Transport.multicastSender(new Bootstrap(), nif, settings.ttl())
            .group(loop)
            .channel(Transport.datagram())
            .option(ChannelOption.SO_BROADCAST, true)
            // A receiver on this host binds the same port on the wildcard address (it must, for the
            // group's data); without this the two cannot coexist. Two senders still cannot share a
            // port: the control channel's TCP listener below refuses the second. Feedback to this
            // address reaches this socket, being the more specific bind; group data does not.
            .option(ChannelOption.SO_REUSEADDR, true)
            .option(ChannelOption.SO_RCVBUF, 4 << 20)
            .handler(new FeedbackHandler());
    InetSocketAddress at = new InetSocketAddress(nif.address(), settings.port());
    udp =
        (DatagramChannel)
            driver.bind(ub, at, "UDP", " (another sender on this port? choose one with --port)");
    batcher =
        new DatagramBatcher(
            udp, DataPacket.HEADER_BYTES + settings.symbolSize(), MAX_BATCH, settings.gso());
    ServerBootstrap tb =
        new ServerBootstrap()
            .group(loop, loop)
            .channel(Transport.server())
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(ControlCodec.initializer(ControlHandler::new));
    driver.bind(tb, at, "TCP", "");
    log.info(
        "mcast session {} image {} group {}:{} on {} ({}), symbol {} B, gso {}",
        Integer.toHexString(sessionId),
        source.manifest().imageId(),
        group.getHostAddress(),
        settings.port(),
        nif.name(),
        nif.address().getHostAddress(),
        settings.symbolSize(),
        batcher.gso());
    return driver.start(new Pump(), pacer, udp, batcher);
  }

  // ---- the pump: pacing, announcing, timeouts -----------------------------------------------

  /** This protocol's part of the driver's pump. */
  private final class Pump implements SendDriver.Session<SenderMachine> {
    @Override
    public Optional<SendDriver.Loss> sample(long now) {
      for (SenderMachine.Receiver r : machine.expire(now)) {
        log.warn("mcast receiver {} ({}) dropped: {}", r.id(), r.name(), r.reason());
        closeControl(r.id(), "dropped: " + r.reason());
        listener.receiverEnded(r);
      }
      Optional<SendDriver.Loss> loss = Optional.empty();
      if (machine.started()) {
        loss =
            Optional.of(
                new SendDriver.Loss(
                    machine.pacingOverflowPermille(now),
                    machine.pacingLossPermille(now),
                    deliveredBytesPerSecond(now)));
        if (log.isDebugEnabled()) {
          log.debug(
              "mcast pace {} MB/s, loss {}‰, overflow {}‰, delivered {} kB/s, sent {} data + {} repair, {} chunks wanted, {} active",
              driver.pacer().rateBytesPerSecond() / 1_000_000,
              loss.get().lossPermille(),
              loss.get().overflowPermille(),
              loss.get().deliveredBytesPerSecond() / 1000,
              machine.sourceSymbolsSent(),
              machine.repairSymbolsSent(),
              machine.chunksWanted(),
              machine.activeReceivers());
        }
      }
      if (now - lastAnnounceNanos >= 500_000_000L) announce(now, false);
      listener.tick(machine, driver.pacer().rateBytesPerSecond());
      return loss;
    }

    /** What the slowest receiver that paces got per second, in datagram bytes; -1 unknown. */
    private long deliveredBytesPerSecond(long now) {
      double pps = machine.pacingDeliveredPacketsPerSecond(now);
      return pps < 0 ? -1 : (long) (pps * batcher.segmentBytes());
    }

    @Override
    public long run(long now) throws IOException {
      boolean wasStarted = machine.started();
      if (machine.maybeStart(now) && !wasStarted) {
        log.info(
            "mcast session {} started with {} receiver(s)",
            Integer.toHexString(sessionId),
            machine.activeReceivers());
        listener.started(machine);
        announce(now, true);
      }
      long wait = sendBurst(now);
      return machine.over(now) ? SendDriver.COMPLETE : wait;
    }

    @Override
    public void ending(SendDriver.End how, String reason) {
      // ENDED is for receivers still looking for a session; joined ones hear END on their
      // connection.
      int announcements =
          switch (how) {
            case COMPLETE -> 3;
            case STOPPED -> 1;
            case FAILED -> 0;
          };
      for (int i = 0; i < announcements; i++) sendAnnounce(Announce.State.ENDED);
      endAll(reason);
      if (how == SendDriver.End.COMPLETE) {
        log.info(
            "mcast session {} complete: {} source + {} repair packets, {} passes",
            Integer.toHexString(sessionId),
            machine.sourceSymbolsSent(),
            machine.repairSymbolsSent(),
            machine.passes());
      }
    }

    @Override
    public SenderMachine result() {
      return machine;
    }
  }

  private void announce(long now, boolean flush) {
    lastAnnounceNanos = now;
    Announce.State state = machine.started() ? Announce.State.RUNNING : Announce.State.WAITING;
    sendAnnounce(state);
    if (flush) udp.flush();
  }

  private void sendAnnounce(Announce.State state) {
    // Sealed: a joined receiver takes only sealed announcements as a sign of life (never as its
    // end, which comes over its control connection); others ignore the seal.
    Announce a =
        McastAuth.seal(
            new Announce(
                sessionId,
                settings.port(),
                settings.port(),
                Ipv4.toInt(group),
                McastPacket.CAP_SEALED,
                state,
                settings.symbolSize(),
                source.manifest().imageId(),
                source.manifest().logicalSize()),
            sessionKey,
            ++announceCounter);
    for (InetSocketAddress to : List.of(broadcastAddr, groupAddr)) {
      ByteBuf b = udp.alloc().directBuffer(Announce.SEALED_BYTES);
      a.encode(b);
      udp.write(new DatagramPacket(b, to));
    }
    udp.flush();
  }

  /** Sends what the pacer allows; returns nanoseconds until the pump should run again. */
  private long sendBurst(long now) throws IOException {
    counters.times.waitFor(Wait.JOIN);
    if (!machine.started()) {
      // Woken at the check grace's end to start then (Long.MAX_VALUE: no such time).
      long graceLeft = machine.quorumStartNanos() - now;
      return graceLeft <= 0 || machine.quorumStartNanos() == Long.MAX_VALUE
          ? SendDriver.SAMPLE_NANOS
          : Math.min(SendDriver.SAMPLE_NANOS, graceLeft);
    }
    int batchBytes = batcher.gso() ? batcher.batchBytes() : batcher.segmentBytes() * 8;
    long wait = driver.burst(now, 4096, batchBytes, this::nextPacket);
    if (wait != SendDriver.NOTHING) return wait;
    counters.times.waitFor(Wait.IDLE);
    long wake = machine.nextWakeNanos();
    return Math.min(
        wake == Long.MAX_VALUE ? SendDriver.SAMPLE_NANOS : Math.max(0, wake - now), 5_000_000L);
  }

  /** The machine's next data or repair packet into the batch. */
  private SendDriver.Next nextPacket(DatagramBatcher batch, long now) throws IOException {
    SenderMachine.Item item = machine.next(now);
    if (item == null) return SendDriver.Next.NONE;
    writePacket(batch.open(groupAddr), item);
    return SendDriver.Next.PACKET;
  }

  private int writePacket(ByteBuf out, SenderMachine.Item item) throws IOException {
    int start = out.writerIndex();
    int c = item.chunk();
    SymbolLayout layout = machine.layout(c);
    byte[] stored = stored(c);
    if (!item.repair()) {
      int j = item.symbolOrStripe();
      DataPacket.encodeHeader(out, sessionId, seq++, c, j, layout.sourceCount());
      out.writeBytes(stored, layout.offsetOf(j), layout.lengthOf(j));
    } else {
      int s = item.symbolOrStripe();
      byte[][] src =
          stripeCache.computeIfAbsent(
              ((long) c << 8) | s, k -> ChunkRebuilder.stripeSources(stored, layout, s));
      ChunkRebuilder.encodeRepair(src, item.row(), repairScratch);
      RepairPacket.encodeHeader(out, sessionId, seq++, c, s, item.row(), layout.sourceCount());
      out.writeBytes(repairScratch);
      counters.repairPacketsSent.incrementAndGet();
    }
    return out.writerIndex() - start;
  }

  private byte[] stored(int chunk) throws IOException {
    byte[] b = cache.get(chunk);
    if (b == null) {
      b = source.readStored(chunk).array();
      if (!verified.get(chunk)) verify(chunk, b);
      cache.put(chunk, b);
    }
    return b;
  }

  /**
   * Checks a chunk's stored bytes against the manifest on their first read. A chunk that fails is
   * fatal for the session: every receiver would reject it and ask again for ever.
   */
  private void verify(int chunk, byte[] stored) {
    var e = source.manifest().chunk(chunk);
    int len = source.manifest().logicalLength(chunk);
    if (verifyScratch == null) verifyScratch = new byte[source.manifest().chunkSize()];
    try {
      ChunkCodec.decode(e, ByteBuffer.wrap(stored), verifyScratch, 0, len);
    } catch (ChunkVerificationException x) {
      throw new IllegalStateException(
          "the image is damaged: chunk "
              + chunk
              + " fails its check ("
              + x.getMessage()
              + "); verify it with 'clonecast image verify' and recreate or re-copy it",
          x);
    }
    verified.set(chunk);
  }

  // ---- ending ------------------------------------------------------------------------------

  private void endAll(String reason) {
    for (Integer id : new ArrayList<>(controls.keySet())) closeControl(id, reason);
  }

  private void closeControl(int id, String reason) {
    Channel ch = controls.remove(id);
    if (ch != null && ch.isActive()) {
      ch.writeAndFlush(new ControlMessage.End(reason)).addListener(f -> ch.close());
    }
  }

  /** Ends the session now (operator interrupt): receivers are told, sockets closed. */
  @Override
  public void close() {
    driver.close();
  }

  /** Expect at most {@code n} receivers (see {@link SenderMachine#lowerMinReceivers}). */
  public void lowerMinReceivers(int n) {
    driver.execute(
        () -> {
          machine.lowerMinReceivers(n);
          driver.wake();
        });
  }

  // ---- handlers ----------------------------------------------------------------------------

  /** Receivers' NAKs and status, unicast to the sender. */
  private final class FeedbackHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
      McastPacket m = PeerPackets.decode(p, McastPacket::decode, counters.malformed, log, "mcast");
      if (m == null) return;
      if (m.sessionId() != sessionId) {
        counters.ignored.incrementAndGet();
        return;
      }
      long now = System.nanoTime();
      if (!(m instanceof Nak) && !(m instanceof Status)) {
        counters.ignored.incrementAndGet();
        return;
      }
      SenderMachine.Feedback verdict =
          machine.feedback(m, p.sender().getAddress(), p.sender().getPort(), now);
      if (verdict != SenderMachine.Feedback.ACCEPTED) {
        counters.rejectedFeedback.incrementAndGet();
        log.debug(
            "mcast {} from {} not counted: {}", m.getClass().getSimpleName(), p.sender(), verdict);
        return;
      }
      if (m instanceof Nak) {
        counters.naks.incrementAndGet();
        driver.wake();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.warn("mcast feedback socket error: {}", cause.toString());
    }
  }

  /** One receiver's control connection. */
  private final class ControlHandler extends ControlCodec.Handler {
    private int id = -1;

    @Override
    protected void malformed(ChannelHandlerContext ctx, MalformedPacketException e) {
      counters.malformed.incrementAndGet();
      log.warn("mcast control from {}: {}; closing", ctx.channel().remoteAddress(), e.getMessage());
      fail(ctx, "malformed control frame: " + e.getMessage());
    }

    @Override
    protected void message(ChannelHandlerContext ctx, ControlMessage msg) {
      long now = System.nanoTime();
      if (msg instanceof ControlMessage.Hello h) {
        hello(ctx, h, now);
      } else if (id < 0) {
        fail(ctx, msg.getClass().getSimpleName().toUpperCase() + " before HELLO");
      } else if (msg instanceof ControlMessage.Need n) {
        machine.need(id, n.chunks(), now);
        driver.wake();
      } else if (msg instanceof ControlMessage.Checked c) {
        checked(c, now);
      } else if (msg instanceof ControlMessage.Done d) {
        machine.done(id, d.chunks(), now);
      } else if (msg instanceof ControlMessage.Finished f) {
        machine.finished(id, f, now);
        SenderMachine.Receiver r = machine.receiver(id);
        log.info(
            "mcast receiver {} ({}) finished: {}",
            id,
            r.name(),
            r.state() == SenderMachine.ReceiverState.SUCCEEDED ? "ok" : r.reason());
        controls.remove(id);
        listener.receiverEnded(r);
        ctx.close();
        driver.wake();
      } else {
        fail(ctx, "unexpected " + msg.getClass().getSimpleName() + " from a receiver");
      }
    }

    private void hello(ChannelHandlerContext ctx, ControlMessage.Hello h, long now) {
      if (id >= 0) {
        fail(ctx, "second HELLO");
        return;
      }
      if (h.version() != McastPacket.VERSION) {
        ctx.writeAndFlush(
                new ControlMessage.End(
                    "protocol version "
                        + h.version()
                        + " not supported; sender speaks "
                        + McastPacket.VERSION))
            .addListener(f -> ctx.close());
        return;
      }
      if (driver.closing()) {
        ctx.writeAndFlush(new ControlMessage.End("session is ending"))
            .addListener(f -> ctx.close());
        return;
      }
      InetSocketAddress remote = (InetSocketAddress) ctx.channel().remoteAddress();
      Optional<String> refused = listener.refuseJoin(h, remote.getAddress());
      if (refused.isPresent()) {
        log.warn(
            "mcast join refused: {} from {}: {}",
            h.name(),
            remote.getAddress().getHostAddress(),
            refused.get());
        ctx.writeAndFlush(new ControlMessage.End("join refused: " + refused.get()))
            .addListener(f -> ctx.close());
        return;
      }
      boolean sealed = (h.capabilities() & McastPacket.CAP_SEALED) != 0;
      // A delta receiver hashes its target first: it counts toward the start once its CHECKED came.
      boolean delta = (h.capabilities() & McastPacket.CAP_DELTA) != 0;
      byte[] receiverKey = null;
      if (sealed) {
        receiverKey = new byte[McastAuth.KEY_BYTES];
        random.nextBytes(receiverKey);
      }
      // Its STATUS and NAK count only from the address it connected from, sealed with its own key.
      id =
          machine.join(
              h.name() + "@" + remote.getAddress().getHostAddress(),
              remote.getAddress(),
              receiverKey,
              delta,
              now);
      controls.put(id, ctx.channel());
      log.info(
          "mcast receiver {} ({}) joined from {}{}{}",
          id,
          h.name(),
          ctx.channel().remoteAddress(),
          sealed ? ", sealed" : ", unsealed",
          delta ? ", checking its target" : "");
      int deltaCap = delta ? McastPacket.CAP_DELTA : 0;
      ControlMessage.Welcome welcome =
          sealed
              ? new ControlMessage.Welcome(
                  sessionId,
                  id,
                  Ipv4.toInt(group),
                  settings.port(),
                  settings.symbolSize(),
                  McastPacket.CAP_SEALED | deltaCap,
                  source.manifest(),
                  Optional.of(new ControlMessage.Keys(sessionKey, receiverKey)))
              : new ControlMessage.Welcome(
                  sessionId,
                  id,
                  Ipv4.toInt(group),
                  settings.port(),
                  settings.symbolSize(),
                  deltaCap,
                  source.manifest());
      ctx.writeAndFlush(welcome.withSignatures(signatures));
      driver.wake();
    }

    /** A delta receiver's check of its target: it is ready, and needs only what differs. */
    private void checked(ControlMessage.Checked c, long now) {
      long dropped = machine.checked(id, c, now);
      SenderMachine.Receiver r = machine.receiver(id);
      if (dropped > 0) {
        counters.rejectedNeeds.addAndGet(dropped);
        log.debug(
            "mcast receiver {} ({}): {} chunk indexes of its CHECKED dropped",
            id,
            r.name(),
            dropped);
      }
      log.info(
          "mcast receiver {} ({}) checked its target: {} chunks already right ({} bytes), {} needed",
          id,
          r.name(),
          r.chunksRight(),
          r.bytesRight(),
          r.chunksPending());
      listener.receiverChecked(r);
      driver.wake();
    }

    private void fail(ChannelHandlerContext ctx, String reason) {
      if (id >= 0) {
        machine.fail(id, reason, System.nanoTime());
        controls.remove(id);
        listener.receiverEnded(machine.receiver(id));
      }
      ctx.writeAndFlush(new ControlMessage.End(reason)).addListener(f -> ctx.close());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (id >= 0 && machine.receiver(id).state() == SenderMachine.ReceiverState.ACTIVE) {
        machine.disconnected(id, System.nanoTime());
        controls.remove(id);
        SenderMachine.Receiver r = machine.receiver(id);
        log.warn(
            "mcast receiver {} ({}) lost its control connection ({})", id, r.name(), r.state());
        listener.receiverEnded(r);
        driver.wake();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("mcast control {}: {}", ctx.channel().remoteAddress(), cause.toString());
      ctx.close();
    }
  }
}

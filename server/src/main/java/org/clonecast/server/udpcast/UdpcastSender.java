package org.clonecast.server.udpcast;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.PeerPackets;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.pace.Pacer;
import org.clonecast.protocol.udpcast.Data;
import org.clonecast.protocol.udpcast.Fec;
import org.clonecast.protocol.udpcast.Udpcast;
import org.clonecast.protocol.udpcast.UdpcastMessage;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.send.DatagramBatcher;
import org.clonecast.server.send.SendDriver;
import org.clonecast.server.send.SendTimes.Wait;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one udpcast-compatible session (docs/ref/udpcast-protocol.md §3.1): one UDP channel bound to
 * the interface address:portbase+1 sends everything (stock receivers check the source), a second
 * one bound to the subnet broadcast address:portbase+1 only listens, for the CONNECT_REQ a receiver
 * broadcasts when it starts (a socket bound to a unicast address does not see broadcasts). The
 * {@link UdpcastSenderMachine} decides; this class reads the file, paces and writes.
 *
 * <p>All session state lives on one event loop.
 */
public final class UdpcastSender implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(UdpcastSender.class);
  private static final int MAX_PACKETS_PER_PUMP = 256;

  /** One full DATA datagram: header and a 1456-byte block (1472 bytes, a 1500-byte IP packet). */
  private static final int FULL_PACKET = Data.HEADER_SIZE + Udpcast.DEFAULT_BLOCKSIZE;

  /**
   * Datagrams per GSO send. A stock receiver reads one datagram per call into a 208 KiB buffer, and
   * a batch reaches it as one burst: measured (bench/udpcast.sh, 256 MiB, quiet machine), 32 gave
   * 0.56x stock at N=1 and 0.87x at N=4, 8 gave 0.65x and 0.97x, 2 gave 0.64x and 0.79x (too many
   * system calls for the multicast case).
   */
  private static final int MAX_BATCH = 8;

  /**
   * First rate, before any feedback: stock receivers on the lab's veth links take about 150 MB/s
   * unicast and 50–80 MB/s multicast (docs/ref/udpcast-protocol.md §0.2); the resend ratio cuts it
   * from there.
   */
  private static final long START_BYTES_PER_SECOND = 120_000_000L;

  /**
   * The pacer's bucket, fixed whatever the rate: 64 full datagrams. A stock receiver's default 208
   * KiB socket buffer holds about 91, and whatever the bucket holds after a wait for OKs reaches it
   * as one burst. A bucket of 4 ms at the rate (the native sender's) lost the tail of nearly every
   * slice that followed a wait: measured (bench/udpcast.sh, 256 MiB, N=1), 5.8% of the blocks
   * re-sent and 0.35x stock at a fixed 80 MB/s, against 0.1% and 0.93x with this bucket.
   */
  private static final int BURST_BYTES = 64 * FULL_PACKET;

  /**
   * Counters for the summary and metrics: the driver's (blocks and bytes sent, malformed, ignored,
   * where the time went) and this protocol's. Thread-safe.
   */
  public static final class Counters extends SendDriver.Counters {
    /** Datagrams received from receivers. */
    public final AtomicLong received = new AtomicLong();

    /** Control messages sent (HELLO, REQACK, ...), beside the blocks in {@link #packetsSent}. */
    public final AtomicLong controlSent = new AtomicLong();
  }

  /** Progress events, called on the sender's event loop. */
  public interface Listener {
    default void started(UdpcastSenderMachine m) {}

    default void tick(UdpcastSenderMachine m) {}
  }

  private final UdpcastSendSettings settings;
  private final FileChannel file;
  private final NetInterface nif;
  private final Listener listener;
  private final Inet4Address group;
  private final UdpcastSenderMachine machine;
  private final Counters counters = new Counters();
  private final SendDriver<UdpcastSenderMachine> driver =
      new SendDriver<>("udpcast session", counters);
  private DatagramChannel udp;
  private boolean wasStarted;
  private DatagramBatcher batcher;
  private long sentAtSample;
  private long resentAtSample;
  private final Set<Integer> reported = new HashSet<>();
  private final SliceFecCoder fecCoder;
  private final BlockReader blocks;

  /** SHA-256 of the blocks sent so far, while a receiver with our extension takes part. */
  private MessageDigest imageDigest;

  public UdpcastSender(
      UdpcastSendSettings settings,
      FileChannel file,
      long length,
      NetInterface nif,
      Listener listener) {
    this.settings = settings;
    this.file = file;
    this.nif = nif;
    this.listener = listener;
    this.group = Udpcast.dataGroup(nif.address());
    UdpcastSenderMachine.Settings ms =
        new UdpcastSenderMachine.Settings(
            Udpcast.DEFAULT_BLOCKSIZE,
            settings.sliceBlocks(),
            settings.minReceivers(),
            settings.maxWait().toNanos(),
            settings.receiverTimeout().toNanos(),
            1_000_000_000L,
            20_000_000L,
            settings.pointToPoint(),
            settings.fec(),
            settings.async());
    this.machine = new UdpcastSenderMachine(ms, length, group, System.nanoTime());
    this.fecCoder = new SliceFecCoder(file, Udpcast.DEFAULT_BLOCKSIZE);
    this.blocks = new BlockReader(file);
  }

  public Inet4Address group() {
    return group;
  }

  public Counters counters() {
    return counters;
  }

  /** Binds and starts announcing; the future completes when the session ends. */
  public CompletableFuture<UdpcastSenderMachine> start() throws InterruptedException {
    EventLoop loop = driver.open("udpcast-send");
    Pacer.Settings adaptive = Pacer.Settings.adaptive(settings.rateBitsPerSecond() / 8);
    long rate = adaptive.maxBytesPerSecond();
    // Async receivers never answer, so there is nothing to adapt to: exactly --rate, as stock's
    // --max-bitrate.
    Pacer pacer =
        new Pacer(
            settings.async()
                ? new Pacer.Settings(rate, rate, rate, BURST_BYTES, adaptive.marginPermille(), 0)
                : new Pacer.Settings(
                    rate,
                    adaptive.minBytesPerSecond(),
                    Math.min(rate, START_BYTES_PER_SECOND),
                    BURST_BYTES,
                    adaptive.marginPermille(),
                    0),
            System.nanoTime());
    int port = settings.portbase() + 1;
    udp =
        (DatagramChannel)
            driver.bind(
                Transport.multicastSender(bootstrap(loop), nif, 1),
                new InetSocketAddress(nif.address(), port),
                "UDP",
                " (another udpcast sender on this portbase? choose one with --portbase)");
    // Not needed: receivers repeat CONNECT_REQ unicast after each HELLO, which goes out every
    // second.
    driver.bindOptional(
        bootstrap(loop),
        new InetSocketAddress(nif.broadcast(), port),
        "broadcast CONNECT_REQs go unheard; relying on HELLO repeats");
    batcher = new DatagramBatcher(udp, FULL_PACKET, MAX_BATCH, true);
    log.info(
        "udpcast session on {} ({}), portbase {}, group {}, {} bytes, gso {}{}{}",
        nif.name(),
        nif.address().getHostAddress(),
        settings.portbase(),
        group.getHostAddress(),
        machine.totalBytes(),
        batcher.gso(),
        settings.fec().map(f -> ", fec " + f).orElse(""),
        settings.async()
            ? ", async at " + settings.rateBitsPerSecond() / 1_000_000 + " Mbit/s"
            : "");
    return driver.start(new Pump(), pacer, udp, batcher);
  }

  private Bootstrap bootstrap(EventLoop loop) {
    return new Bootstrap()
        .group(loop)
        .channel(Transport.datagram())
        .option(ChannelOption.SO_BROADCAST, true)
        .option(ChannelOption.SO_RCVBUF, 1 << 20)
        .handler(new ReplyHandler());
  }

  // ---- the pump ----------------------------------------------------------------------------

  /** This protocol's part of the driver's pump. */
  private final class Pump implements SendDriver.Session<UdpcastSenderMachine> {
    /** The share of blocks that had to be sent again since the last sample, for the pacer. */
    @Override
    public Optional<SendDriver.Loss> sample(long now) {
      long sent = machine.blocksSent() + machine.blocksResent();
      long resent = machine.blocksResent();
      long dSent = sent - sentAtSample;
      long dResent = resent - resentAtSample;
      int permille = dSent > 0 ? (int) Math.min(1000, dResent * 1000 / dSent) : 0;
      sentAtSample = sent;
      resentAtSample = resent;
      for (UdpcastSenderMachine.Receiver r : machine.receivers()) {
        if (r.state() != UdpcastSenderMachine.State.CONNECTED
            && r.state() != UdpcastSenderMachine.State.DONE
            && reported.add(r.ip())) {
          log.warn(
              "udpcast receiver #{} ({}) {}: {}",
              r.clNr(),
              Ipv4.fromInt(r.ip()).getHostAddress(),
              r.state(),
              r.reason());
        }
      }
      if (log.isDebugEnabled()) {
        log.debug(
            "udpcast {}; pace {} MB/s, {} of {} blocks re-sent",
            machine.describe(),
            driver.pacer().rateBytesPerSecond() / 1_000_000,
            dResent,
            dSent);
      }
      listener.tick(machine);
      return machine.started() ? Optional.of(new SendDriver.Loss(0, permille)) : Optional.empty();
    }

    @Override
    public long run(long now) throws IOException {
      counters.times.waitFor(Wait.JOIN);
      machine.tick(now);
      sendControl();
      if (machine.started() && !wasStarted) {
        wasStarted = true;
        log.info(
            "udpcast session started with {} receiver(s){}",
            machine.activeReceivers(),
            machine.pointToPointIp() != 0 ? ", point-to-point" : "");
        startImageHash();
        listener.started(machine);
      }
      long wait = machine.started() ? sendData(now) : Long.MAX_VALUE;
      udp.flush();
      if (machine.complete()) return SendDriver.COMPLETE;
      long deadline = machine.nextDeadlineNanos(now);
      long untilDeadline =
          deadline == Long.MAX_VALUE ? SendDriver.SAMPLE_NANOS : Math.max(0, deadline - now);
      return Math.min(Math.min(wait, untilDeadline), SendDriver.SAMPLE_NANOS);
    }

    @Override
    public void ending(SendDriver.End how, String reason) {
      // Stock receivers are told nothing when the session is stopped: they time out.
      if (how == SendDriver.End.COMPLETE) {
        log.info(
            "udpcast session complete: {} blocks, {} resent, {} REQACKs",
            machine.blocksSent(),
            machine.blocksResent(),
            machine.reqAcks());
      }
    }

    @Override
    public UdpcastSenderMachine result() {
      return machine;
    }
  }

  /** Sends blocks while the pacer allows; returns nanoseconds until the next attempt. */
  private long sendData(long now) throws IOException {
    InetSocketAddress to = dataAddress();
    long wait =
        driver.burst(now, MAX_PACKETS_PER_PUMP, FULL_PACKET, (batch, t) -> nextBlock(batch, to, t));
    if (wait != SendDriver.NOTHING) return wait;
    counters.times.waitFor(Wait.ANSWERS);
    return Long.MAX_VALUE; // window closed: answers or the deadline wake us
  }

  /** The machine's next block into the batch, after any control message it queued. */
  private SendDriver.Next nextBlock(DatagramBatcher batcher, InetSocketAddress to, long now)
      throws IOException {
    UdpcastSenderMachine.Block b = machine.nextBlock(now);
    // A REQACK the machine queued belongs before the next block: send the batch first.
    boolean control = sendControlAfterData();
    if (b == null) return control ? SendDriver.Next.OTHER : SendDriver.Next.NONE;
    ByteBuf batch = batcher.open(to);
    if (b.fec()) {
      new Fec(b.stripes(), b.sliceNo(), b.blockNo(), b.sliceBytes(), Unpooled.EMPTY_BUFFER)
          .writeHeader(batch);
      batch.writeBytes(fecCoder.repairBlock(b));
    } else {
      new Data(b.sliceNo(), b.blockNo(), b.sliceBytes(), Unpooled.EMPTY_BUFFER).writeHeader(batch);
      try {
        blocks.read(batch, b.offset(), b.length());
      } catch (IOException e) {
        batcher.abandon(); // never send a half-read block
        throw e;
      }
      if (imageDigest != null && !b.resend())
        hashFresh(b, batch.nioBuffer(batch.writerIndex() - b.length(), b.length()));
    }
    return SendDriver.Next.PACKET;
  }

  /**
   * Receivers with our extension get the image's SHA-256 before the end; it is computed from the
   * first transmission, which reads the file once, in order. Only then: SHA-256 costs sender CPU
   * that stock receivers would not use, and nobody can join after the start.
   */
  private void startImageHash() {
    if (machine.receivers().stream()
        .noneMatch(r -> r.state() == UdpcastSenderMachine.State.CONNECTED && r.extensions()))
      return;
    imageDigest = Sha256.newDigest();
    if (machine.totalBytes() == 0) machine.imageHash(Sha256.finish(imageDigest));
  }

  /** Adds a block sent for the first time; the last one completes the hash. */
  private void hashFresh(UdpcastSenderMachine.Block b, ByteBuffer bytes) {
    imageDigest.update(bytes);
    if (b.offset() + b.length() == machine.totalBytes())
      machine.imageHash(Sha256.finish(imageDigest));
  }

  /**
   * Writes the machine's queued control messages after any pending data; returns whether there were
   * any.
   */
  private boolean sendControlAfterData() {
    if (machine.hasControl()) batcher.write();
    return sendControl();
  }

  /** Writes the machine's queued control messages; returns whether there were any. */
  private boolean sendControl() {
    var sends = machine.drainControl();
    for (UdpcastSenderMachine.Send s : sends) {
      InetSocketAddress to =
          switch (s.to()) {
            case BROADCAST -> new InetSocketAddress(nif.broadcast(), settings.portbase());
            case DATA -> dataAddress();
            case RECEIVER -> new InetSocketAddress(Ipv4.fromInt(s.ip()), settings.portbase());
          };
      ByteBuf out = udp.alloc().directBuffer(160);
      s.message().encode(out);
      counters.controlSent.incrementAndGet();
      driver.send(out, to);
    }
    if (!sends.isEmpty()) udp.flush();
    return !sends.isEmpty();
  }

  private InetSocketAddress dataAddress() {
    int p2p = machine.pointToPointIp();
    return new InetSocketAddress(p2p != 0 ? Ipv4.fromInt(p2p) : group, settings.portbase());
  }

  /**
   * Ends the session now (operator interrupt); stock receivers will time out or be told nothing.
   */
  @Override
  public void close() {
    driver.close();
  }

  // ---- handler -----------------------------------------------------------------------------

  /** OK, RETRANSMIT, CONNECT_REQ, GO, DISCONNECT from receivers, on either channel. */
  private final class ReplyHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket p) {
      counters.received.incrementAndGet();
      InetSocketAddress from = p.sender();
      // Stock drops anything not from the receiver port ("Bad message from port"), and so do we.
      if (from.getPort() != settings.portbase()
          || !(from.getAddress() instanceof Inet4Address ip)) {
        counters.ignored.incrementAndGet();
        return;
      }
      UdpcastMessage m =
          PeerPackets.decode(p, UdpcastMessage::decode, counters.malformed, log, "udpcast");
      if (m == null) return;
      long before = machine.ignored();
      machine.receive(Ipv4.toInt(ip), m, System.nanoTime());
      if (machine.ignored() != before) {
        counters.ignored.incrementAndGet();
        log.debug("udpcast ignored {} from {}", m.getClass().getSimpleName(), from);
      }
      driver.wake();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.warn("udpcast socket error: {}", cause.toString());
    }
  }
}

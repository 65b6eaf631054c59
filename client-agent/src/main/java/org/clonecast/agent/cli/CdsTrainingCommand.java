package org.clonecast.agent.cli;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.clonecast.agent.disk.DiskInventory;
import org.clonecast.agent.disk.Target;
import org.clonecast.agent.disk.TargetCheck;
import org.clonecast.agent.report.ServerClient;
import org.clonecast.common.api.AgentJson;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.RegisterRequest;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.disk.DiskAllocation;
import org.clonecast.common.disk.DiskPlan;
import org.clonecast.common.image.ChunkScanner;
import org.clonecast.common.net.PeerPackets;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.EncodedChunk;
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
import org.clonecast.protocol.mcast.SymbolLayout;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * The training run of the agent's class-data sharing archive ({@code -XX:ArchiveClassesAtExit},
 * made by the {@code clonecast-agent} launcher and by {@code bootenv/build.sh}): goes through the
 * paths a node's agent takes, against a server that is not there, so that their classes are mapped
 * from the archive at every start instead of being loaded from the jar. A {@code receive} alone
 * (the training before) left 1,840 classes of a capture out: the HTTP client and the default TLS
 * context it builds even for {@code http://}, Jackson, the disk plan and the scan (about 0.5 CPU
 * seconds at every agent start, docs/benchmarks.md, "Where the network capture waited").
 *
 * <p>Writes only under the scratch directory it is given; every call to the server fails at once
 * (nothing listens on port 9 of loopback). Not for operators: hidden from the help.
 */
@Command(
    name = "cds-training",
    hidden = true,
    description = "The class-data sharing archive's training run (launchers and bootenv only).")
final class CdsTrainingCommand implements Callable<Integer> {
  private static final String NOWHERE = "127.0.0.1:9";
  private static final String MAC = "02:00:00:00:00:01";

  @Parameters(index = "0", description = "A scratch directory, emptied by the caller afterwards.")
  Path scratch;

  /** One step of the training. */
  private interface Step {
    void run() throws Exception;
  }

  @Override
  public Integer call() {
    // Re-imaging: the multicast receive path, given up at once.
    Main.run(
        "receive",
        "--interface",
        "lo",
        "--output",
        scratch.resolve("receive").toString(),
        "--server",
        NOWHERE,
        "--join-timeout",
        "1",
        "--insecure-unsigned",
        "--name",
        "cds-training");
    // The rest of a receive, which the one above gives up before: a chunk from the sender's
    // WELCOME to the target.
    step(() -> chunkThroughAReceiver(scratch));
    // A node's start: the boot script for its secret through the HTTP client (refused at once).
    Main.run("auto", "--server", "http://" + NOWHERE, "--mac", MAC, "--interface", "lo");
    ServerClient api = new ServerClient(URI.create("http://" + NOWHERE), "0");
    // Each step on its own: one that fails where the training runs (no /sys in bootenv's chroot)
    // leaves the others' classes in the archive.
    step(
        () -> {
          // The registration's JSON both ways.
          RegisterRequest register =
              new RegisterRequest(MAC, DiskInventory.list(Path.of("/sys/block")), 1, 1L << 30);
          AgentJson.read(AgentJson.bytes(register), RegisterRequest.class);
        });
    step(
        () -> {
          Assignment capture =
              new Assignment.Capture(
                  1,
                  "cds-training",
                  UUID.randomUUID(),
                  "/dev/null",
                  Manifest.DEFAULT_CHUNK_SIZE,
                  3,
                  false);
          AgentJson.read(AgentJson.tree(AgentJson.bytes(capture)), Assignment.class);
        });
    step(() -> api.captureBegin(1, MAC, 1L << 20, Manifest.DEFAULT_CHUNK_SIZE, true));
    // A capture: the disk's plan, the scan, one chunk's upload (refused at once).
    step(
        () -> {
          Path disk = scratch.resolve("disk");
          Files.writeString(disk, "clonecast class-data sharing training\n".repeat(100_000));
          DiskPlan plan = DiskAllocation.plan(disk, false);
          try (FileChannel in = FileChannel.open(disk, StandardOpenOption.READ)) {
            ChunkScanner.scan(
                disk,
                in,
                in.size(),
                plan.map(),
                UUID.randomUUID(),
                Manifest.DEFAULT_CHUNK_SIZE,
                3,
                2,
                16,
                done -> {},
                (entry, chunk) -> {
                  if (entry.index() == 0 && entry.kind().isStored()) {
                    step(() -> api.capturePut(1, MAC, 0, -1, chunk, entry.used().bitmap()).join());
                  }
                });
          }
        });
    return ExitCodes.OK;
  }

  /**
   * What a receive does from its sender's WELCOME to its first byte written, without a sender or a
   * network: the WELCOME decoded and its manifest's signature checked, one chunk's data packets
   * (encoded, in a direct buffer as the socket hands them over, decoded) through the receiver's
   * machine with one source symbol lost so that a repair packet rebuilds it (the FEC), the chunk
   * decompressed, hashed and written, the NAKs and STATUS sealed. Their classes are loaded once an
   * agent has found its session, at the start of its data (about 300 of them, from the jar, before
   * this step: docs/benchmarks.md, "Start-up").
   */
  static void chunkThroughAReceiver(Path scratch) throws Exception {
    int size = Manifest.DEFAULT_CHUNK_SIZE;
    byte[] logical = new byte[size];
    byte[] text = "clonecast class-data sharing training\n".getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i < size / 2; i++) logical[i] = text[i % text.length];
    // Half text, a quarter random (incompressible), a quarter zeros: a zstd chunk of some stripes.
    Random random = new Random(1);
    for (int i = size / 2; i < size * 3 / 4; i++) logical[i] = (byte) random.nextInt();
    EncodedChunk encoded = ChunkCodec.encode(0, logical, 0, size, ChunkCodec.DEFAULT_LEVEL);
    Manifest m = Manifest.ofChunks(UUID.randomUUID(), size, size, List.of(encoded.entry(0, 0)));
    ImageKey key = ImageKey.generate();
    byte[] sessionKey = new byte[McastAuth.KEY_BYTES];
    byte[] receiverKey = new byte[McastAuth.KEY_BYTES];
    new SecureRandom().nextBytes(sessionKey);
    int session = 7;
    int symbol = SymbolLayout.symbolSizeFor(1500);
    // The sealed announcement that finds the session, and the HELLO that joins it.
    Announce announce =
        new Announce(
            session,
            9400,
            9400,
            0xEFFF0001,
            McastPacket.CAP_SEALED,
            Announce.State.WAITING,
            symbol,
            m.imageId(),
            m.logicalSize());
    Announce heard = (Announce) received(McastAuth.seal(announce, sessionKey, 1), p -> p);
    if (!McastAuth.verify(heard.withSeal(Optional.empty()), heard.seal().get(), sessionKey)) {
      throw new IllegalStateException("the training announcement's seal does not verify");
    }
    roundTrip(
        new ControlMessage.Hello(McastPacket.VERSION, McastPacket.CAP_SEALED, "cds-training"));
    ByteBuf frame = Unpooled.buffer();
    new ControlMessage.Welcome(
            session,
            1,
            0xEFFF0001,
            9400,
            symbol,
            McastPacket.CAP_SEALED | McastPacket.CAP_DELTA | McastPacket.CAP_SIGNED,
            m,
            Optional.of(new ControlMessage.Keys(sessionKey, receiverKey)),
            List.of(key.sign(m)))
        .encode(frame);
    ControlMessage.Welcome w = (ControlMessage.Welcome) ControlMessage.decode(frame);
    Optional<String> refused =
        new ImageTrust.Keys(List.of(key.publicKey())).refusal(w.manifest(), w.signatures());
    if (refused.isPresent()) throw new IllegalStateException(refused.get());

    BitSet need = new BitSet();
    need.set(0);
    ReceiverMachine machine =
        new ReceiverMachine(
            w.manifest(),
            session,
            w.receiverId(),
            symbol,
            need,
            ReceiverMachine.Settings.defaults());
    byte[] stored = encoded.stored();
    SymbolLayout layout = new SymbolLayout(stored.length, symbol);
    long now = System.nanoTime();
    ReceiverMachine.CompleteChunk complete = null;
    int seq = 0;
    for (int j = 1; j < layout.sourceCount(); j++) { // symbol 0 lost
      McastPacket p =
          new DataPacket(
              session,
              ++seq,
              0,
              j,
              layout.sourceCount(),
              Unpooled.wrappedBuffer(stored, layout.offsetOf(j), layout.lengthOf(j)));
      complete = received(machine, p, now);
    }
    if (complete != null) throw new IllegalStateException("a chunk complete without a symbol");
    for (Nak n : machine.poll(now + 1_000_000_000L)) seal(McastAuth.seal(n, receiverKey, ++seq));
    seal(McastAuth.seal(machine.status(0, 0), receiverKey, ++seq));
    // Row 1 of symbol 0's stripe: a general Cauchy row (row 0 is the parity), as most repairs are.
    byte[] repair = new byte[symbol];
    ChunkRebuilder.encodeRepair(stored, layout, layout.stripeOf(0), 1, repair);
    complete =
        received(
            machine,
            new RepairPacket(
                session,
                ++seq,
                0,
                layout.stripeOf(0),
                1,
                layout.sourceCount(),
                Unpooled.wrappedBuffer(repair)),
            now);
    if (complete == null) throw new IllegalStateException("the training chunk was not rebuilt");
    byte[] decoded =
        ChunkCodec.decodeInPlace(
            m.chunk(0), ChunkRebuilder.rebuild(complete), new byte[size], size);
    try (Target t = Target.open(scratch.resolve("target"), size, m.dataBytes())) {
      t.writeUsed(0, decoded, size, m.chunk(0).used());
      t.sync();
      TargetCheck.run(t, m, 1); // what a node that holds an image checks before it joins
    }
    machine.chunkWritten(0);
    roundTrip(new ControlMessage.Done(new int[] {0}));
    roundTrip(new ControlMessage.Finished(true, "ok", size, seq, 1, 0));
  }

  /** {@code p} handed to {@code m} as the receiver's loop does. */
  private static ReceiverMachine.CompleteChunk received(
      ReceiverMachine m, McastPacket p, long now) {
    return received(
        p,
        got ->
            got instanceof DataPacket d ? m.onData(d, now) : m.onRepair((RepairPacket) got, now));
  }

  /**
   * {@code p} as a receiver gets it: a datagram in a direct buffer, decoded and handed to {@code
   * then} before the buffer goes back (a data packet's payload is a slice of it).
   */
  private static <T> T received(McastPacket p, Function<McastPacket, T> then) {
    ByteBuf wire = ByteBufAllocator.DEFAULT.directBuffer();
    try {
      p.encode(wire);
      InetSocketAddress here = new InetSocketAddress(InetAddress.getLoopbackAddress(), 9400);
      McastPacket got =
          PeerPackets.decode(
              new DatagramPacket(wire, here, here),
              McastPacket::decode,
              new AtomicLong(),
              LoggerFactory.getLogger(CdsTrainingCommand.class),
              "mcast");
      if (got == null) throw new IllegalStateException("a training packet did not decode");
      return then.apply(got);
    } finally {
      wire.release();
    }
  }

  /** A control frame encoded and decoded, as the control connection carries it. */
  private static void roundTrip(ControlMessage m) {
    ByteBuf frame = Unpooled.buffer();
    m.encode(frame);
    ControlMessage.decode(frame);
    frame.release();
  }

  /** A sealed NAK or STATUS encoded, as the receiver sends them. */
  private static void seal(McastPacket p) {
    ByteBuf out = Unpooled.buffer();
    p.encode(out);
    out.release();
  }

  private static void step(Step s) {
    try {
      s.run();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception expected) {
      // Nothing listens on the server's port, and a chroot may lack /sys: the classes the
      // attempt loaded are what the archive needs.
    }
  }
}

package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import org.clonecast.common.cli.ShutdownHook;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageInput;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.RawChunkSource;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.mcast.SenderMachine;
import org.clonecast.protocol.mcast.SymbolLayout;
import org.clonecast.protocol.udpcast.UdpcastFecSpec;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.mcast.McastSender;
import org.clonecast.server.mcast.SendSettings;
import org.clonecast.server.send.SendTimes.Wait;
import org.clonecast.server.udpcast.UdpcastSendSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code clonecast send}: multicast one image to every receiver that joins. */
@Command(
    name = "send",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Multicast an image to every clonecast-agent that joins on the interface's network.",
      "IMAGE is a .cci image, or a raw file or block device (chunked and compressed first).",
      "Exits 0 when at least one receiver wrote and verified the whole image and none failed, 1 otherwise.",
      "A receiver that left (or was dropped) before it reported any chunk is listed as gone and does not count."
    })
public final class SendCommand implements Callable<Integer> {

  @Parameters(
      index = "0",
      paramLabel = "IMAGE",
      description = "A .cci image, or a raw file or block device.")
  Path image;

  @Option(
      names = "--interface",
      required = true,
      paramLabel = "IF",
      description = "Network interface to send on.")
  String iface;

  @Option(
      names = "--min-receivers",
      paramLabel = "N",
      defaultValue = "1",
      description =
          "Start once N receivers have joined (default: ${DEFAULT-VALUE}). Later ones join the running session.")
  int minReceivers;

  @Option(
      names = "--max-wait",
      paramLabel = "SECONDS",
      description =
          "Start this long after the first receiver joined even if fewer than --min-receivers have (default: 60)."
              + " With --async: announce for this long, then start (default: 5).")
  Long maxWait;

  @Option(
      names = "--mcast-addr",
      paramLabel = "GROUP",
      description = "Multicast group (default: 239.255.x.y from the interface address).")
  String group;

  @Option(
      names = "--port",
      paramLabel = "P",
      defaultValue = "9400",
      description = "UDP data and TCP control port (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(
      names = "--rate",
      paramLabel = "MBIT",
      description =
          "Upper bound of the data rate in Mbit/s; the sender adapts below it to the receivers' loss (default: 10000)."
              + " With --async: the fixed rate, required.")
  Long rateMbit;

  @Option(
      names = "--receiver-timeout",
      paramLabel = "SECONDS",
      defaultValue = "10",
      description = "Drop a receiver silent this long (default: ${DEFAULT-VALUE}).")
  long receiverTimeout;

  @Option(
      names = "--receiver-deadline",
      paramLabel = "SECONDS",
      description =
          "Drop a receiver not finished this long after it joined or the transfer started (default: 600 plus 1 per 5 MB"
              + " of stored image).")
  Long receiverDeadline;

  @Option(
      names = "--mtu",
      paramLabel = "BYTES",
      description = "Packet size to use (default: the interface's MTU).")
  Integer mtu;

  @Option(
      names = "--ttl",
      paramLabel = "N",
      defaultValue = "1",
      description = "Multicast TTL; above 1 crosses routers (default: ${DEFAULT-VALUE}).")
  int ttl;

  @Option(
      names = "--raw",
      description =
          "IMAGE is a raw disk even though it looks like a .cci (a damaged .cci is refused without it).")
  boolean raw;

  @Option(
      names = "--sign-key",
      paramLabel = "KEY",
      description = {
        "Sign the manifest with this Ed25519 key, so that receivers that trust it (--trust) take the image:",
        "a daemon's state directory, or its image-key file with image-key.pub beside it. A .cci's own signature",
        "(the daemon signs what it stores) is sent as well."
      })
  Path signKey;

  @Option(
      names = "--no-gso",
      description = "Send one packet per system call instead of UDP GSO batches.")
  boolean noGso;

  @Option(
      names = "--udpcast",
      description =
          "Speak the udpcast 20120424 protocol so stock udp-receivers can receive IMAGE byte for byte (see docs/udpcast.md).")
  boolean udpcast;

  @Option(
      names = "--portbase",
      paramLabel = "P",
      defaultValue = "9000",
      description =
          "With --udpcast: receivers listen on P, the sender uses P+1 (default: ${DEFAULT-VALUE}).")
  int portbase;

  @Option(
      names = "--slice-blocks",
      paramLabel = "N",
      description =
          "With --udpcast: 1456-byte blocks per slice, 1..1024 (default: 112 as stock full duplex; S*Z with --fec).")
  Integer sliceBlocks;

  @Option(
      names = "--fec",
      paramLabel = "SxR/Z",
      description =
          "With --udpcast: after each slice send R repair blocks for each of S stripes of at most Z blocks,"
              + " as udp-sender --fec (e.g. 8x8/128).")
  String fec;

  @Option(
      names = "--async",
      description =
          "With --udpcast: passive receivers, no acknowledgements, a fixed --rate; use with --fec (see docs/udpcast.md).")
  boolean async;

  @Override
  public Integer call() throws Exception {
    NetInterface nif = NetInterface.forCommand(iface);
    if (!Files.isReadable(image)) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "cannot read "
              + image
              + ": "
              + (Files.exists(image) ? "permission denied" : "no such file"));
    }
    if (udpcast) {
      return UdpcastSend.run(image, nif, udpcastSettings(), System.err, System.out);
    }
    if (fec != null || async || sliceBlocks != null) {
      throw new CliException(
          ExitCodes.USAGE,
          "--fec, --async and --slice-blocks belong to --udpcast; the native protocol"
              + " repairs loss with FEC by itself");
    }
    Inet4Address g = null;
    if (group != null) {
      try {
        g = Ipv4.parse(group);
      } catch (IllegalArgumentException e) {
        throw new CliException(
            ExitCodes.USAGE, "--mcast-addr " + group + " is not an IPv4 address");
      }
      if (!Ipv4.isMulticast(g))
        throw new CliException(
            ExitCodes.USAGE, "--mcast-addr " + group + " is not a multicast address (224.0.0.0/4)");
    }
    if (mtu != null && nif.mtu() > 0 && mtu > nif.mtu()) {
      throw new CliException(
          ExitCodes.USAGE,
          "--mtu "
              + mtu
              + " exceeds "
              + iface
              + "'s MTU "
              + nif.mtu()
              + "; packets would be fragmented (raise the link's MTU first: ip link set "
              + iface
              + " mtu "
              + mtu
              + ")");
    }
    if (mtu != null && mtu < 576)
      throw new CliException(ExitCodes.USAGE, "--mtu " + mtu + " below 576, the least IPv4 allows");
    int packet = mtu != null ? mtu : nif.mtu();
    int symbol = SymbolLayout.symbolSizeFor(packet);
    SendSettings settings;
    try {
      settings =
          new SendSettings(
              iface,
              g,
              port,
              rateMbit() * 1_000_000L,
              minReceivers,
              Duration.ofSeconds(maxWait == null ? 60 : maxWait),
              Duration.ofSeconds(receiverTimeout),
              symbol,
              ttl,
              !noGso,
              Optional.ofNullable(receiverDeadline).map(Duration::ofSeconds),
              SendSettings.DEFAULT_CHECK_GRACE);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    PrintStream err = System.err;
    Optional<ImageKey> key = Optional.empty();
    if (signKey != null) {
      try {
        key = Optional.of(ImageKey.loadFrom(signKey));
      } catch (IOException e) {
        throw new CliException(ExitCodes.USAGE, "--sign-key " + signKey + ": " + e.getMessage());
      }
    }
    long cpu0 = cpuNanos();
    long t0 = System.nanoTime();
    try (ChunkSource source = openSource(err)) {
      McastSender sender;
      try {
        sender =
            new McastSender(
                settings,
                source,
                nif,
                new Progress(err, source.manifest().chunkCount()),
                signatures(source, key, err));
      } catch (IllegalArgumentException e) {
        throw new CliException(ExitCodes.USAGE, e.getMessage());
      }
      SenderMachine m;
      try (ShutdownHook hook = ShutdownHook.install("send-interrupt", sender::close)) {
        err.printf(
            "clonecast send: session on %s, group %s:%d; waiting for %d receiver(s)%n",
            iface, sender.group().getHostAddress(), port, minReceivers);
        m = untilEnd(sender::start);
      }
      return summary(
          m, sender, (System.nanoTime() - t0) / 1e9, (cpuNanos() - cpu0) / 1e9, System.out);
    }
  }

  /**
   * What the receivers get to check: the --sign-key signature first, then the one the .cci carries
   * (by another key). None: the image goes out unsigned, and only --insecure-unsigned receivers
   * take it.
   */
  private static List<ManifestSignature> signatures(
      ChunkSource source, Optional<ImageKey> key, PrintStream err) {
    List<ManifestSignature> out = new ArrayList<>();
    key.ifPresent(k -> out.add(k.sign(source.manifest())));
    if (source instanceof ImageReader r
        && r.signature().isPresent()
        && out.stream().noneMatch(s -> Arrays.equals(s.keyId(), r.signature().get().keyId()))) {
      out.add(r.signature().get());
    }
    if (out.isEmpty()) {
      err.println(
          "clonecast send: warning: the image is unsigned; receivers refuse it unless they run with --insecure-unsigned"
              + " (sign it with --sign-key KEY)");
    } else {
      err.println(
          "clonecast send: manifest signed by "
              + String.join(", ", out.stream().map(s -> s.keyIdHex()).toList()));
    }
    return out;
  }

  private long rateMbit() {
    return rateMbit == null ? 10_000 : rateMbit;
  }

  private UdpcastSendSettings udpcastSettings() {
    if (async && rateMbit == null) {
      throw new CliException(
          ExitCodes.USAGE,
          "--async needs --rate MBIT: passive receivers cannot slow the sender down,"
              + " so pick what the slowest of them takes (e.g. --rate 500)");
    }
    try {
      Optional<UdpcastFecSpec> spec = Optional.ofNullable(fec).map(UdpcastFecSpec::parse);
      int blocks =
          sliceBlocks != null ? sliceBlocks : spec.map(UdpcastFecSpec::sliceBlocks).orElse(112);
      long wait = maxWait != null ? maxWait : async ? 5 : 60;
      return new UdpcastSendSettings(
          iface,
          portbase,
          rateMbit() * 1_000_000L,
          minReceivers,
          Duration.ofSeconds(wait),
          Duration.ofSeconds(receiverTimeout),
          blocks,
          true,
          spec,
          async);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
  }

  /**
   * A .cci is served as it is; a raw disk (--raw, or a file with nothing of a .cci about it) is
   * chunked first; a damaged or unusable .cci is refused, naming the damage.
   */
  private ChunkSource openSource(PrintStream err) throws IOException {
    try {
      if (ImageInput.classify(image, raw) == ImageInput.Kind.IMAGE) return ImageReader.open(image);
    } catch (MalformedImageException e) {
      throw new CliException(ExitCodes.FAILED, e.getMessage(), e);
    }
    err.printf(
        "clonecast send: %s is not a .cci image; chunking and compressing it first%n", image);
    ProgressBar bar =
        new ProgressBar("chunk", Math.max(1, Files.size(image)), err, System.console() != null);
    RawChunkSource src =
        RawChunkSource.open(
            image,
            Manifest.DEFAULT_CHUNK_SIZE,
            ChunkCodec.DEFAULT_LEVEL,
            Runtime.getRuntime().availableProcessors(),
            bar::update);
    bar.finish();
    return src;
  }

  private static long cpuNanos() {
    var os = ManagementFactory.getOperatingSystemMXBean();
    return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : 0;
  }

  private static int summary(
      SenderMachine m, McastSender sender, double seconds, double cpu, PrintStream out) {
    // Per receiver, in chunks: already right on its disk (a delta receiver's check), sent to it
    // (asked for), and the bytes written.
    out.printf(
        Locale.ROOT,
        "%-4s %-28s %-7s %8s %8s %14s %8s %9s %8s %7s  %s%n",
        "id",
        "receiver",
        "result",
        "right",
        "sent",
        "bytes",
        "seconds",
        "MB/s",
        "repair",
        "slow s",
        "reason");
    int failed = 0;
    int succeeded = 0;
    int gone = 0;
    for (SenderMachine.Receiver r : m.receivers()) {
      boolean ok = r.state() == SenderMachine.ReceiverState.SUCCEEDED;
      if (ok) succeeded++;
      if (r.state() == SenderMachine.ReceiverState.GONE) gone++;
      if (r.state() == SenderMachine.ReceiverState.FAILED
          || r.state() == SenderMachine.ReceiverState.ACTIVE) failed++;
      // One that ended before the transfer started spent no time in it.
      double secs =
          m.started()
              ? Math.max(0, r.endedNanos() - Math.max(r.joinedNanos(), m.startedNanos())) / 1e9
              : 0;
      double mbs = secs > 0 ? r.bytesWritten() / secs / 1e6 : 0;
      // The share of what this receiver needed that reached it as FEC repair rather than as data.
      double overhead = r.symbolsNeeded() > 0 ? 100.0 * r.repairs() / r.symbolsNeeded() : 0;
      String result = ok ? "ok" : r.state() == SenderMachine.ReceiverState.GONE ? "gone" : "FAILED";
      // Slow: its own kernel overflowed far above the group's (short of CPU or disk); it did not
      // pace the others.
      out.printf(
          Locale.ROOT,
          "%-4d %-28s %-7s %8s %8d %14d %8.2f %9.1f %7.1f%% %7.1f  %s%n",
          r.id(),
          r.name(),
          result,
          r.checked() ? Integer.toString(r.chunksRight()) : "-",
          r.chunksAsked(),
          r.bytesWritten(),
          secs,
          mbs,
          overhead,
          r.slowSamples() / 10.0,
          ok ? "" : r.reason());
    }
    long src = m.sourceSymbolsSent();
    long rep = m.repairSymbolsSent();
    out.printf(
        Locale.ROOT,
        "sender: %.2f s, %d data + %d repair packets (%.1f%% repair), %d NAKs, %d carousel passes, %.1f MB sent, CPU %.2f s%n",
        seconds,
        src,
        rep,
        src > 0 ? 100.0 * rep / src : 0,
        sender.counters().naks.get(),
        m.passes(),
        sender.counters().bytesSent.get() / 1e6,
        cpu);
    // What the wire carried against the image: a delta session sends the union of what the
    // receivers lack.
    long stored = m.manifest().chunks().stream().filter(e -> e.kind().isStored()).count();
    out.printf(
        Locale.ROOT,
        "sender: %d chunk sends (%d distinct) of %d stored chunks, %d bytes sent (%d bytes stored in the image)%n",
        m.chunksSent(),
        m.distinctChunksSent(),
        stored,
        sender.counters().bytesSent.get(),
        m.manifest().storedBytes());
    McastSender.Counters c = sender.counters();
    // What bounded the session: the pace (the wire or the receivers), nothing left to send (repair
    // round trips, stragglers), the socket, or the sender's own event loop.
    out.printf(
        Locale.ROOT,
        "sender time: %s; mean rate %.1f MB/s%n",
        c.times.describe(Wait.JOIN, Wait.PACE, Wait.IDLE, Wait.SOCKET),
        m.started()
            ? c.bytesSent.get() / Math.max(1e-9, seconds - c.times.nanos(Wait.JOIN) / 1e9) / 1e6
            : 0);
    if (sender.counters().rejectedNeeds.get() > 0) {
      out.printf(
          Locale.ROOT,
          "sender: %d chunk indexes of CHECKED frames dropped (past the manifest, storing nothing, or repeated)%n",
          sender.counters().rejectedNeeds.get());
    }
    long rejected = sender.counters().rejectedFeedback.get();
    if (rejected > 0) {
      out.printf(
          Locale.ROOT,
          "sender: %d STATUS/NAK packets not counted (unknown receiver, wrong address, bad seal or replayed)%n",
          rejected);
    }
    if (m.receivers().isEmpty()) {
      throw new CliException(ExitCodes.FAILED, "no receiver joined");
    }
    if (failed > 0) {
      System.err.println(
          "clonecast send: "
              + failed
              + " of "
              + m.receivers().size()
              + " receiver(s) failed"
              + (gone > 0 ? ", " + gone + " gone" : ""));
      return ExitCodes.FAILED;
    }
    if (succeeded == 0) {
      System.err.println(
          "clonecast send: no receiver finished; "
              + gone
              + " joined and were gone before receiving anything");
      return ExitCodes.FAILED;
    }
    if (gone > 0)
      System.err.println(
          "clonecast send: "
              + succeeded
              + " receiver(s) done; "
              + gone
              + " gone before receiving anything");
    return ExitCodes.OK;
  }

  /** Progress on stderr: one bar over all receivers' chunks. */
  private static final class Progress implements McastSender.SessionListener {
    private final PrintStream err;
    private ProgressBar bar;

    Progress(PrintStream err, int chunks) {
      this.err = err;
    }

    @Override
    public void started(SenderMachine m) {
      long total = m.receivers().stream().mapToLong(r -> r.chunksPending() + r.chunksDone()).sum();
      err.printf("clonecast send: started with %d receiver(s)%n", m.activeReceivers());
      bar = new ProgressBar("send", Math.max(1, total), err, System.console() != null);
    }

    @Override
    public void tick(SenderMachine m, long rate) {
      if (bar == null) return;
      long done = m.receivers().stream().mapToLong(SenderMachine.Receiver::chunksDone).sum();
      bar.update(done);
    }

    @Override
    public void receiverEnded(SenderMachine.Receiver r) {
      err.printf(
          "clonecast send: receiver %d (%s) %s%n",
          r.id(),
          r.name(),
          switch (r.state()) {
            case SUCCEEDED -> "done";
            case GONE -> "gone: " + r.reason();
            default -> "failed: " + r.reason();
          });
    }
  }

  /** A sender's start. */
  interface Start<T> {
    CompletableFuture<T> start() throws InterruptedException;
  }

  /**
   * Starts a sender and waits for its session to end; a sender that cannot start is the
   * environment's fault (exit ENVIRONMENT), one whose session failed exits FAILED.
   */
  static <T> T untilEnd(Start<T> sender) throws InterruptedException {
    try {
      return sender.start().get();
    } catch (IllegalStateException e) {
      throw new CliException(ExitCodes.ENVIRONMENT, e.getMessage());
    } catch (ExecutionException e) {
      throw new CliException(
          ExitCodes.FAILED, "send failed: " + e.getCause().getMessage(), e.getCause());
    }
  }
}

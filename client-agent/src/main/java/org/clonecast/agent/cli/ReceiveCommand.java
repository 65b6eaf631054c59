package org.clonecast.agent.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.clonecast.agent.disk.Grow;
import org.clonecast.agent.disk.TargetCheck;
import org.clonecast.agent.mcast.McastReceiver;
import org.clonecast.agent.mcast.ReceiveResult;
import org.clonecast.agent.mcast.ReceiveSettings;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import org.clonecast.common.cli.ShutdownHook;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.wire.Ipv4;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code clonecast-agent receive}: take one image from a multicast session and write it. */
@Command(
    name = "receive",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Receive an image from a clonecast sender and write it to a file or block device.",
      "Finds the sender from its announcements on the interface unless --server is given.",
      "Writes only an image whose manifest is signed by a trusted key (--trust), checked before a byte is written.",
      "Exits 0 only after every chunk is written, verified against the manifest and flushed."
    })
public final class ReceiveCommand implements Callable<Integer> {

  @Option(
      names = "--interface",
      required = true,
      paramLabel = "IF",
      description = "Network interface to receive on.")
  String iface;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "PATH",
      description = "File or block device to write.")
  Path output;

  @Option(
      names = "--port",
      paramLabel = "P",
      defaultValue = "9400",
      description = "UDP data port of the session (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(
      names = "--server",
      paramLabel = "HOST[:PORT]",
      description = "Sender's control address; skips discovery.")
  String server;

  @Option(
      names = "--name",
      paramLabel = "NAME",
      description = "Name to report to the sender (default: this host's name).")
  String name;

  @Option(
      names = "--join-timeout",
      paramLabel = "SECONDS",
      defaultValue = "0",
      description =
          "Give up when no sender is found in this time; 0 waits for ever (default: ${DEFAULT-VALUE}).")
  long joinTimeout;

  @Option(
      names = "--igmp-rejoin",
      paramLabel = "SECONDS",
      defaultValue = "60",
      description = {
        "Leave and re-join the multicast group this often while receiving, so that a snooping switch",
        "that never queries us keeps forwarding; 0 never (default: ${DEFAULT-VALUE})."
      })
  long igmpRejoin;

  @Option(
      names = "--workers",
      paramLabel = "N",
      description = "Threads that decompress, verify and write (default: number of CPUs).")
  Integer workers;

  @Option(
      names = "--sender-timeout",
      paramLabel = "SECONDS",
      defaultValue = "30",
      description =
          "Fail when the joined sender is silent this long: no control frame, no sealed announcement (default: ${DEFAULT-VALUE}).")
  long senderTimeout;

  @Option(
      names = "--no-check",
      description = {
        "Do not hash what the target already holds: receive every chunk (a full session for this node).",
        "By default the target is checked first and only chunks that differ are received (docs/reimaging.md)."
      })
  boolean noCheck;

  @Option(
      names = "--grow",
      description = {
        "After writing a block device larger than the image: grow its last partition and that",
        "partition's filesystem (ext2/3/4, xfs, btrfs) to fill it. The backup GPT is moved to the disk's end in any case."
      })
  boolean grow;

  @Option(
      names = "--udpcast",
      description =
          "Speak the udpcast 20120424 protocol: receive from a stock udp-sender (see docs/udpcast.md).")
  boolean udpcast;

  @Mixin TrustOptions trust = new TrustOptions();

  @Option(
      names = "--portbase",
      paramLabel = "P",
      defaultValue = "9000",
      description = "With --udpcast: listen on P, the sender uses P+1 (default: ${DEFAULT-VALUE}).")
  int portbase;

  @Override
  public Integer call() throws Exception {
    NetInterface nif = NetInterface.forCommand(iface);
    if (udpcast) {
      if (!trust.trust.isEmpty()) {
        throw new CliException(
            ExitCodes.USAGE,
            "--trust cannot apply to --udpcast: the udpcast protocol carries no manifest and no"
                + " signature (docs/udpcast.md); use it only on a segment you trust");
      }
      return UdpcastReceive.run(
          nif,
          portbase,
          output,
          Duration.ofSeconds(joinTimeout),
          Duration.ofSeconds(igmpRejoin),
          System.err,
          System.out);
    }
    ImageTrust imageTrust = trust.resolve();
    ReceiveSettings settings;
    try {
      settings =
          new ReceiveSettings(
              iface,
              port,
              parseServer(),
              output,
              name != null ? name : hostname(),
              Duration.ofSeconds(joinTimeout),
              workers != null ? workers : Math.max(2, Runtime.getRuntime().availableProcessors()),
              Duration.ofSeconds(igmpRejoin),
              Duration.ofSeconds(senderTimeout),
              imageTrust,
              Optional.empty(),
              !noCheck);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    PrintStream err = System.err;
    McastReceiver receiver = new McastReceiver(settings, nif, new Progress(err));
    ReceiveResult r;
    try (ShutdownHook hook =
        ShutdownHook.install("receive-interrupt", () -> receiver.stop("interrupted"))) {
      r = receiver.start().get();
    }
    if (!r.ok()) {
      throw new CliException(ExitCodes.FAILED, "receive failed: " + r.reason());
    }
    if (!Files.isRegularFile(output)) {
      // A disk of another size than the image's: the backup GPT at its end, and with --grow the
      // last partition filled.
      try {
        for (String line :
            Grow.afterWrite(output, grow, Path.of(System.getProperty("java.io.tmpdir"))))
          System.err.println("clonecast-agent: " + line);
      } catch (IllegalArgumentException e) {
        System.err.println(
            "clonecast-agent: warning: the backup GPT was left where the image put it: "
                + e.getMessage());
      }
    }
    double secs = r.nanos() / 1e9;
    System.out.printf(
        Locale.ROOT,
        "received %d bytes into %s in %.2f s (%.1f MB/s); %d packets, %d repair, %d duplicate; verified%n",
        r.bytesWritten(),
        output,
        secs,
        r.bytesWritten() / secs / 1e6,
        r.packets(),
        r.repairs(),
        r.duplicates());
    return ExitCodes.OK;
  }

  private InetSocketAddress parseServer() {
    if (server == null) return null;
    String host = server;
    int p = port;
    int colon = server.lastIndexOf(':');
    if (colon > 0) {
      host = server.substring(0, colon);
      try {
        p = Integer.parseInt(server.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--server " + server + ": port is not a number");
      }
    }
    return new InetSocketAddress(Ipv4.parse(host), p);
  }

  /** The kernel's host name, read without a DNS lookup (which may hang on a netboot node). */
  static String hostname() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
    } catch (IOException e) {
      String h = System.getenv("HOSTNAME");
      return h != null ? h : "unknown";
    }
  }

  private static final class Progress implements McastReceiver.Listener {
    private final PrintStream err;
    private ProgressBar bar;

    Progress(PrintStream err) {
      this.err = err;
    }

    @Override
    public void joined(Manifest m, int chunksNeeded) {
      err.printf(
          Locale.ROOT,
          "clonecast-agent: joined; image %s, %d bytes, %d of %d chunks to receive%n",
          m.imageId(),
          m.logicalSize(),
          chunksNeeded,
          m.chunkCount());
    }

    @Override
    public void progress(long written, long total, int chunksWritten, int chunksNeeded) {
      // Sized by the first report: what this node writes (after a check, only the chunks it
      // lacked).
      if (bar == null)
        bar = new ProgressBar("receive", Math.max(1, total), err, System.console() != null);
      bar.update(written);
    }

    @Override
    public void checked(TargetCheck.Result c) {
      err.printf(
          Locale.ROOT,
          "clonecast-agent: target checked: %d chunks already right (%d bytes), %d to receive, %d to zero; %d bytes"
              + " read in %.1f s%n",
          c.chunksRight(),
          c.bytesRight(),
          c.needed().cardinality(),
          c.zeros().size(),
          c.bytesRead(),
          c.nanos() / 1e9);
    }
  }
}

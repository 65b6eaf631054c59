package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import org.clonecast.common.cli.ShutdownHook;
import org.clonecast.common.net.NetInterface;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.server.send.SendTimes;
import org.clonecast.server.send.SendTimes.Wait;
import org.clonecast.server.udpcast.UdpcastSendSettings;
import org.clonecast.server.udpcast.UdpcastSender;

/** {@code clonecast send --udpcast}: runs one udpcast-compatible session and prints its summary. */
final class UdpcastSend {
  private UdpcastSend() {}

  static int run(
      Path image, NetInterface nif, UdpcastSendSettings settings, PrintStream err, PrintStream out)
      throws Exception {
    try (FileChannel file = FileChannel.open(image, StandardOpenOption.READ)) {
      long length = length(image, file);
      UdpcastSender sender =
          new UdpcastSender(settings, file, length, nif, new Progress(err, length));
      long t0 = System.nanoTime();
      UdpcastSenderMachine m;
      try (ShutdownHook hook = ShutdownHook.install("udpcast-send-interrupt", sender::close)) {
        err.printf(
            "clonecast send: udpcast session on %s, portbase %d, group %s; %s%n",
            nif.name(),
            settings.portbase(),
            sender.group().getHostAddress(),
            settings.async()
                ? "async: announcing for "
                    + settings.maxWait().toSeconds()
                    + " s, then sending at "
                    + settings.rateBitsPerSecond() / 1_000_000
                    + " Mbit/s"
                : "waiting for " + settings.minReceivers() + " receiver(s)");
        m = SendCommand.untilEnd(sender::start);
      }
      return summary(m, sender, settings.async(), (System.nanoTime() - t0) / 1e9, out, err);
    }
  }

  /** A regular file's size, or a block device's from sysfs (its st_size is 0). */
  private static long length(Path image, FileChannel file) throws IOException {
    long size = file.size();
    if (size > 0 || Files.isRegularFile(image)) return size;
    Path sys = Path.of("/sys/class/block", image.toRealPath().getFileName().toString(), "size");
    if (Files.exists(sys)) return Long.parseLong(Files.readString(sys).trim()) * 512;
    throw new CliException(
        ExitCodes.ENVIRONMENT,
        "cannot tell the size of " + image + "; give a regular file or a block device");
  }

  private static int summary(
      UdpcastSenderMachine m,
      UdpcastSender sender,
      boolean async,
      double seconds,
      PrintStream out,
      PrintStream err) {
    out.printf(
        Locale.ROOT,
        "%-4s %-16s %-13s %10s  %s%n",
        "clNr",
        "receiver",
        "result",
        "rexmit-req",
        "reason");
    int failed = 0;
    for (UdpcastSenderMachine.Receiver r : m.receivers()) {
      boolean ok = r.state() == UdpcastSenderMachine.State.DONE;
      if (!ok) failed++;
      out.printf(
          Locale.ROOT,
          "%-4d %-16s %-13s %10d  %s%n",
          r.clNr(),
          Ipv4.fromInt(r.ip()).getHostAddress(),
          ok ? "ok" : r.state().name(),
          r.retransmitRequests(),
          r.reason());
    }
    long sent = m.blocksSent();
    out.printf(
        Locale.ROOT,
        "sender: %.2f s, %d blocks + %d re-sent (%.1f%%), %d REQACKs, %.1f MB sent, %d malformed, %d ignored%n",
        seconds,
        sent,
        m.blocksResent(),
        sent > 0 ? 100.0 * m.blocksResent() / sent : 0,
        m.reqAcks(),
        sender.counters().bytesSent.get() / 1e6,
        sender.counters().malformed.get(),
        sender.counters().ignored.get());
    // What bounded the session, as for the native sender: the pace, the receivers' answers (the
    // window of unacknowledged slices full), the socket, or the sender's own event loop.
    SendTimes t = sender.counters().times;
    out.printf(
        Locale.ROOT,
        "sender time: %s; mean rate %.1f MB/s%n",
        t.describe(Wait.JOIN, Wait.PACE, Wait.ANSWERS, Wait.SOCKET),
        m.started()
            ? sender.counters().bytesSent.get()
                / Math.max(1e-9, seconds - t.nanos(Wait.JOIN) / 1e9)
                / 1e6
            : 0);
    if (async) {
      // Passive receivers never say whether they got it: only their own exit status tells.
      err.println(
          "clonecast send: async session sent; receivers are passive, check their exit status");
      return m.complete() ? ExitCodes.OK : ExitCodes.FAILED;
    }
    if (m.receivers().isEmpty()) throw new CliException(ExitCodes.FAILED, "no receiver connected");
    if (failed > 0) {
      err.println(
          "clonecast send: " + failed + " of " + m.receivers().size() + " receiver(s) failed");
      return ExitCodes.FAILED;
    }
    err.println("clonecast send: udpcast session complete");
    return ExitCodes.OK;
  }

  /** One bar over the bytes every receiver has acknowledged. */
  private static final class Progress implements UdpcastSender.Listener {
    private final PrintStream err;
    private final long length;
    private ProgressBar bar;

    Progress(PrintStream err, long length) {
      this.err = err;
      this.length = length;
    }

    @Override
    public void started(UdpcastSenderMachine m) {
      err.printf(
          "clonecast send: started with %d receiver(s)%s%n",
          m.activeReceivers(), m.pointToPointIp() != 0 ? " (point-to-point)" : "");
      bar = new ProgressBar("send", Math.max(1, length), err, System.console() != null);
    }

    @Override
    public void tick(UdpcastSenderMachine m) {
      if (bar != null) bar.update(m.bytesAcknowledged());
    }
  }
}

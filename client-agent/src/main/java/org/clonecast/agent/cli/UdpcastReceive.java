package org.clonecast.agent.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import org.clonecast.agent.disk.Target;
import org.clonecast.agent.disk.TargetException;
import org.clonecast.agent.udpcast.UdpcastReceiver;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ShutdownHook;
import org.clonecast.common.net.NetInterface;

/**
 * {@code clonecast-agent receive --udpcast}: one session from a udpcast sender into a file or block
 * device.
 */
final class UdpcastReceive {
  private UdpcastReceive() {}

  static int run(
      NetInterface nif,
      int portbase,
      Path output,
      Duration joinTimeout,
      Duration igmpRejoin,
      PrintStream err,
      PrintStream out)
      throws Exception {
    if (portbase < 1 || portbase > 65534 || portbase % 2 != 0) {
      throw new CliException(
          ExitCodes.USAGE,
          "--portbase "
              + portbase
              + ": want an even port in 2..65534 (the sender uses the next one)");
    }
    // udpcast carries no total size: the file grows as slices arrive, a device must be big enough.
    try (Target target = Target.open(output, 0, 0)) {
      UdpcastReceiver receiver =
          new UdpcastReceiver(portbase, nif, target, joinTimeout, igmpRejoin);
      UdpcastReceiver.Result r;
      try (ShutdownHook hook =
          ShutdownHook.install("udpcast-receive-interrupt", () -> receiver.stop("interrupted"))) {
        err.printf(
            "clonecast-agent: waiting for a udpcast sender on %s, portbase %d%n",
            nif.name(), portbase);
        r = receiver.start().get();
      } catch (IllegalStateException e) {
        throw new CliException(ExitCodes.ENVIRONMENT, e.getMessage());
      }
      if (!r.ok()) throw new CliException(ExitCodes.FAILED, "receive failed: " + r.reason());
      double secs = r.nanos() / 1e9;
      out.printf(
          Locale.ROOT,
          "received %d bytes into %s in %.2f s (%.1f MB/s); %d packets, %d duplicate, %d retransmit requests, %d blocks recovered by FEC, %d malformed, %d rogue, %d IGMP re-joins%n",
          r.bytes(),
          output,
          secs,
          secs > 0 ? r.bytes() / secs / 1e6 : 0,
          r.packets(),
          r.duplicates(),
          r.retransmitRequests(),
          r.fecRecovered(),
          r.malformed(),
          r.rogue(),
          r.rejoins());
      // Only a clonecast sender sends the image's hash (the CAP_CLONECAST extension); say which.
      out.println(
          r.verified()
              ? "SHA-256 of the whole image verified against the sender's"
              : "not verified end to end: the sender does not send the image's SHA-256 (stock udp-sender)");
      return ExitCodes.OK;
    } catch (TargetException e) {
      throw new CliException(ExitCodes.ENVIRONMENT, e.getMessage());
    }
  }
}

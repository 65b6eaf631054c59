package org.clonecast.agent.receive;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Reads the kernel's drop counter of this network namespace's UDP sockets bound to a port, from
 * {@code /proc/net/udp} (the last column): packets the kernel discarded because the socket's
 * receive buffer was full. Those, unlike losses on the path, tell the sender to slow down (the
 * native receiver's STATUS), and tell the admin that the receiver, not the wire, lost them (both
 * receivers' summaries).
 */
public final class SocketDrops {
  private final Path table;
  private final String localPortHex;

  public SocketDrops(Path table, int port) {
    this.table = table;
    this.localPortHex = String.format(Locale.ROOT, ":%04X", port);
  }

  public SocketDrops(int port) {
    this(Path.of("/proc/net/udp"), port);
  }

  /** The summed drop counters of sockets bound to the port, or -1 if the table cannot be read. */
  public long read() {
    List<String> lines;
    try {
      lines = Files.readAllLines(table);
    } catch (IOException | SecurityException e) {
      return -1;
    }
    long sum = 0;
    for (int i = 1; i < lines.size(); i++) {
      String[] f = lines.get(i).trim().split("\\s+");
      if (f.length < 13 || !f[1].endsWith(localPortHex)) continue;
      try {
        sum += Long.parseLong(f[f.length - 1]);
      } catch (NumberFormatException e) {
        // a line of another shape: not ours
      }
    }
    return sum;
  }

  /**
   * What the socket dropped since {@code atBind} (a {@link #read} just after binding), for a
   * summary line: a count, or "an unknown number of" where the table could not be read.
   */
  public static String since(SocketDrops drops, long atBind) {
    long now = drops.read();
    return now < 0 || atBind < 0
        ? "an unknown number of"
        : Long.toString(Math.max(0, now - atBind));
  }
}

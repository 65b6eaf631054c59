package org.clonecast.agent.receive;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The drop counter read from a /proc/net/udp table, as the kernel writes it. */
class SocketDropsTest {
  private static final String HEADER =
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout"
          + " inode ref pointer drops\n";

  /** A socket's line: bound to {@code port} on any address, with {@code drops}. */
  private static String line(int sl, int port, long drops) {
    return String.format(
        "  %3d: 00000000:%04X 00000000:0000 07 00000000:00000000 00:00000000 00000000     0"
            + "        0 %d 2 0000000000000000 %d%n",
        sl, port, 40000 + sl, drops);
  }

  @Test
  void sumsTheDropsOfTheSocketsOnThePortAndNoOthers(@TempDir Path dir) throws IOException {
    Path table = dir.resolve("udp");
    Files.writeString(
        table,
        HEADER
            + line(1, 9401, 17)
            + line(2, 9402, 1000)
            + line(3, 9401, 5)
            + "  4: not a socket line\n"
            + line(5, 0x9401, 99)); // port 37889: the digits of 9401, another port
    assertEquals(22, new SocketDrops(table, 9401).read());
    assertEquals(0, new SocketDrops(table, 9999).read());
  }

  @Test
  void anUnreadableTableIsUnknownNotZero(@TempDir Path dir) {
    SocketDrops drops = new SocketDrops(dir.resolve("missing"), 9401);
    assertEquals(-1, drops.read());
    assertEquals("an unknown number of", SocketDrops.since(drops, 0));
  }

  @Test
  void sinceCountsFromTheReadAtBind(@TempDir Path dir) throws IOException {
    Path table = dir.resolve("udp");
    Files.writeString(table, HEADER + line(1, 9000, 40));
    SocketDrops drops = new SocketDrops(table, 9000);
    assertEquals("28", SocketDrops.since(drops, 12));
    assertEquals("an unknown number of", SocketDrops.since(drops, -1));
  }
}

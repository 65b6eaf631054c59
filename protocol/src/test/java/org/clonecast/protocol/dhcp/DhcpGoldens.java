package org.clonecast.protocol.dhcp;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.clonecast.protocol.testutil.Golden;
import org.clonecast.protocol.testutil.Pcap;
import org.clonecast.protocol.testutil.Pcap.Udp;

/**
 * Every DHCP packet of the PXE reference captures (shared/ref/captures/pxe: SeaBIOS and OVMF with
 * iPXE, EDK2's own PXE and HTTP boot, against dnsmasq) as golden files: one file per capture,
 * message type and port, e.g. {@code proxy-uefi-request-4011.hex}, packets in capture order.
 * Regenerate with
 *
 * <pre>mvn -o -B test -pl protocol -Dtest=DhcpGoldenTest -Dclonecast.golden.regenerate=true</pre>
 */
final class DhcpGoldens {
  static final String PROTO = "dhcp";
  static final List<String> CAPTURES = List.of(
      "full-bios", "pxelinux-bios", "full-uefi", "edk2-uefi", "proxy-bios", "proxy-uefi", "httpboot-uefi");
  private static final String[] TYPES = {"?", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"};

  /** One golden file: its name and its packets. */
  record Entry(String name, String capture, List<byte[]> packets) {}

  private DhcpGoldens() {}

  /** Whether a UDP datagram is DHCP (ports 67, 68, 4011). */
  static boolean isDhcp(Udp u) {
    return isDhcpPort(u.srcPort()) && isDhcpPort(u.dstPort());
  }

  private static boolean isDhcpPort(int p) {
    return p == Dhcp.SERVER_PORT || p == Dhcp.CLIENT_PORT || p == Dhcp.PXE_PORT;
  }

  /** The golden file name of a packet: capture, message type from a raw scan of option 53, "-4011" for boot-server traffic. */
  static String fileName(String capture, Udp u) {
    byte[] p = u.payload();
    int type = 0;
    for (int i = 240; i + 1 < p.length && (p[i] & 0xFF) != 255; ) {
      int code = p[i] & 0xFF;
      if (code == 0) {
        i++;
        continue;
      }
      if (code == 53) {
        type = p[i + 2] & 0xFF;
      }
      i += 2 + (p[i + 1] & 0xFF);
    }
    String t = type < TYPES.length ? TYPES[type] : "type" + type;
    return capture + "-" + t.toLowerCase(Locale.ROOT) + (u.srcPort() == Dhcp.PXE_PORT || u.dstPort() == Dhcp.PXE_PORT ? "-4011" : "");
  }

  /** Groups the DHCP packets of every capture into entries, in first-seen order. */
  static List<Entry> extract(Path capturesDir) throws IOException {
    List<Entry> out = new ArrayList<>();
    for (String capture : CAPTURES) {
      java.util.Map<String, List<byte[]>> files = new java.util.LinkedHashMap<>();
      for (Udp u : Pcap.readUdp(capturesDir.resolve(capture + ".pcap"))) {
        if (isDhcp(u)) {
          files.computeIfAbsent(fileName(capture, u), k -> new ArrayList<>()).add(u.payload());
        }
      }
      files.forEach((name, packets) -> out.add(new Entry(name, capture, packets)));
    }
    return out;
  }

  /** The golden file names, as listed in {@code golden/dhcp/index.txt}. */
  static List<String> names() {
    try (var in = DhcpGoldens.class.getResourceAsStream("/golden/dhcp/index.txt")) {
      if (in == null) {
        throw new IllegalStateException("golden/dhcp/index.txt missing; regenerate (see DhcpGoldens)");
      }
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines()
          .filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Every stored golden packet with its file name. */
  static List<Named> all() {
    List<Named> out = new ArrayList<>();
    for (String name : names()) {
      List<byte[]> packets = Golden.packets(PROTO, name);
      for (int i = 0; i < packets.size(); i++) {
        out.add(new Named(name + "#" + i, name, packets.get(i)));
      }
    }
    return out;
  }

  /** One stored packet: {@code id} is file#index. */
  record Named(String id, String file, byte[] bytes) {
    @Override
    public String toString() {
      return id;
    }
  }

  static void regenerate(Path capturesDir, Path outDir) throws IOException {
    Files.createDirectories(outDir);
    List<Entry> entries = extract(capturesDir);
    StringBuilder index = new StringBuilder("# golden DHCP files, one name per line; regenerate: see DhcpGoldens\n");
    for (Entry e : entries) {
      String comment = e.capture() + ".pcap (QEMU lab against dnsmasq, client 52:54:00:88:00:10, server 10.88.0.1): every "
          + e.name().substring(e.capture().length() + 1) + " packet, capture order\nUDP payloads, one per line; regenerate: see DhcpGoldens";
      Files.writeString(outDir.resolve(e.name() + ".hex"), Golden.format(comment, e.packets()), StandardCharsets.US_ASCII);
      index.append(e.name()).append('\n');
    }
    Files.writeString(outDir.resolve("index.txt"), index.toString(), StandardCharsets.US_ASCII);
  }
}

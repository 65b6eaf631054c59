package org.clonecast.protocol.dhcp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.clonecast.protocol.testutil.Golden;
import org.clonecast.protocol.testutil.Pcap.Udp;

/**
 * Every DHCP packet of the PXE reference captures (SeaBIOS and OVMF with iPXE, EDK2's own PXE and
 * HTTP boot, against dnsmasq; docs/ref/captures.md), grouped by capture, message type and port:
 * e.g. {@code proxy-uefi-request-4011} holds the EDK2 boot-server REQUESTs, in capture order.
 */
final class DhcpGoldens {
  static final List<String> CAPTURES =
      List.of(
          "full-bios",
          "pxelinux-bios",
          "full-uefi",
          "edk2-uefi",
          "proxy-bios",
          "proxy-uefi",
          "httpboot-uefi");
  private static final String[] TYPES = {
    "?", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"
  };

  /** One stored packet: {@code id} is group#index, {@code group} e.g. {@code full-bios-offer}. */
  record Named(String id, String group, byte[] bytes) {
    @Override
    public String toString() {
      return id;
    }
  }

  private DhcpGoldens() {}

  /** Whether a UDP datagram is DHCP (ports 67, 68, 4011). */
  private static boolean isDhcp(Udp u) {
    return isDhcpPort(u.srcPort()) && isDhcpPort(u.dstPort());
  }

  private static boolean isDhcpPort(int p) {
    return p == Dhcp.SERVER_PORT || p == Dhcp.CLIENT_PORT || p == Dhcp.PXE_PORT;
  }

  /**
   * A packet's group: capture, message type from a raw scan of option 53, "-4011" for boot-server
   * traffic.
   */
  private static String group(String capture, Udp u) {
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
    boolean bootServer = u.srcPort() == Dhcp.PXE_PORT || u.dstPort() == Dhcp.PXE_PORT;
    return capture + "-" + t.toLowerCase(Locale.ROOT) + (bootServer ? "-4011" : "");
  }

  /** The DHCP packets of every capture by group, groups in first-seen order. */
  static Map<String, List<byte[]>> groups() {
    Map<String, List<byte[]>> out = new LinkedHashMap<>();
    for (String capture : CAPTURES) {
      for (Udp u : Golden.udp("pxe", capture)) {
        if (isDhcp(u)) {
          out.computeIfAbsent(group(capture, u), k -> new ArrayList<>()).add(u.payload());
        }
      }
    }
    return out;
  }

  /** The packets of one group, e.g. {@code full-bios-discover}. */
  static List<byte[]> packets(String group) {
    List<byte[]> packets = groups().get(group);
    if (packets == null) {
      throw new IllegalArgumentException("no DHCP packets " + group + " in the PXE captures");
    }
    return packets;
  }

  /** Every DHCP packet of the captures. */
  static List<Named> all() {
    List<Named> out = new ArrayList<>();
    groups()
        .forEach(
            (group, packets) -> {
              for (int i = 0; i < packets.size(); i++) {
                out.add(new Named(group + "#" + i, group, packets.get(i)));
              }
            });
    return out;
  }
}

package org.clonecast.protocol.testutil;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.clonecast.protocol.testutil.Pcap.Udp;

/**
 * Golden packets, read straight from the reference captures in this repository ({@code
 * protocol/src/test/resources/captures/<proto>/<capture>.pcap}, on the test class path of this
 * module and, through its test jar, of the server's): real firmware against dnsmasq under {@code
 * pxe/}, stock udpcast under {@code udpcast/} (docs/ref/captures.md says how they were taken). Each
 * golden test names the packets it takes from a capture; there is no second copy.
 *
 * <p>Thread-safe: a capture is read once and shared (its datagrams are never modified).
 */
public final class Golden {
  private static final Map<String, List<Udp>> READ = new ConcurrentHashMap<>();

  private Golden() {}

  /**
   * Every UDP/IPv4 datagram of {@code captures/<proto>/<capture>.pcap}, in capture order.
   *
   * @throws IllegalStateException when the capture is not on the class path
   */
  public static List<Udp> udp(String proto, String capture) {
    String resource = "/captures/" + proto + "/" + capture + ".pcap";
    return READ.computeIfAbsent(resource, Golden::read);
  }

  private static List<Udp> read(String resource) {
    try (InputStream in = Golden.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("capture " + resource + " is not on the test class path");
      }
      return List.copyOf(Pcap.readUdp(in.readAllBytes(), resource));
    } catch (IOException e) {
      throw new UncheckedIOException(resource, e);
    }
  }
}

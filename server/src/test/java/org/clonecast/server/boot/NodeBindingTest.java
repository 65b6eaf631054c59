package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeBindingTest {
  private static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");

  @TempDir Path dir;

  /**
   * Proxy mode: a node whose PXE exchange with us recorded its address is bound to it; one that
   * never sent a port 4011 request (BIOS iPXE beside dnsmasq) is bound to nobody, so its script
   * goes to whoever asks. Off mode never falls back that way.
   */
  @Test
  void proxyModeBindsTheRecordedAddressAndOnlyFallsBackWithoutOne() throws Exception {
    try (Database db = Database.open(dir)) {
      NodeStore nodes = new NodeStore(db, Clock.systemUTC());
      nodes.enroll(A, "node01", Optional.empty());
      NodeBinding proxy =
          new NodeBinding(DhcpConfig.Mode.PROXY, nodes, Optional.empty(), Clock.systemUTC());
      NodeBinding off =
          new NodeBinding(DhcpConfig.Mode.OFF, nodes, Optional.empty(), Clock.systemUTC());
      assertTrue(proxy.holds(A, "10.77.0.132"), "no 4011 request seen: whoever asks");
      assertFalse(
          off.holds(A, "10.77.0.132"), "off mode: no reserved or registered address, nobody");
      nodes.recordSeen(A, Optional.empty(), Optional.of("10.77.0.140"));
      assertTrue(proxy.holds(A, "10.77.0.140"));
      assertFalse(proxy.holds(A, "10.77.0.132"), "once recorded, only that address");
    }
  }
}

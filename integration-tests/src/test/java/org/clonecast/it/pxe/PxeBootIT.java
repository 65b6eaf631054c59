package org.clonecast.it.pxe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.HeavyLane;
import org.clonecast.it.lab.Host;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.LabProcess;
import org.clonecast.it.lab.MarkerPayload;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.QemuVm;
import org.clonecast.protocol.wire.MacAddress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Whole PXE boots through {@code clonecast serve} in proxyDHCP mode beside a plain DHCP server
 * (dnsmasq, addresses only), with real firmware in QEMU: TFTP of the iPXE loader where the firmware
 * is not iPXE, the per-MAC iPXE script and the netboot kernel + initramfs over HTTP. The netboot
 * environment is the {@link MarkerPayload}, installed as {@code <state-dir>/bootenv/current/}; the
 * node is enrolled and marked for re-imaging first, so its script boots that environment. Each boot
 * must reach the marker with clonecast's kernel command line ({@code clonecast.server=}, {@code
 * clonecast.mac=}) and power off. Full DHCP with the same firmware (SeaBIOS + iPXE ROM, OVMF's own
 * EDK2 PXE) and Secure Boot is {@code ClusterBootQemuIT}'s and {@code CaptureQemuIT}'s first step,
 * into the real netboot environment.
 */
@HeavyLane
class PxeBootIT {
  private static final String BASE_URL = "http://" + Lab.SERVER_IP + ":8080";
  private static final Duration STARTUP = Duration.ofSeconds(90);
  private static Path repo;
  private static MarkerPayload marker;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("qemu-system-x86_64", "dnsmasq", "curl", "java");
    repo = Checkout.built(false);
    marker = MarkerPayload.build(repo);
  }

  /**
   * proxyDHCP: a plain dnsmasq on a1 hands out addresses only (no boot options); clonecast on the
   * server answers the PXE part. The BIOS iPXE ROM takes the address from one offer and the boot
   * file from the other.
   */
  @Test
  void proxyDhcpBesideAPlainDhcpServerBootsBiosIpxe() throws IOException {
    bootsInProxyMode("pxeproxy", QemuVm.Firmware.BIOS_IPXE, MacAddress.parse("52:54:00:77:00:03"));
  }

  /**
   * EDK2's own PXE beside a site DHCP server: clonecast's proxy offer carries no address and no
   * file, EDK2 asks its port 4011 for the boot file (PXE 2.1 boot server discovery), gets ipxe.efi
   * over TFTP, and iPXE then finds its script through the proxy too.
   */
  @Test
  void proxyDhcpBesideAPlainDhcpServerBootsUefiEdk2ThroughPort4011() throws IOException {
    bootsInProxyMode("pxeproxyu", QemuVm.Firmware.UEFI_EDK2, MacAddress.parse("52:54:00:77:00:04"));
  }

  private static void bootsInProxyMode(String tag, QemuVm.Firmware firmware, MacAddress mac)
      throws IOException {
    try (Lab lab = Lab.create(tag, 1)) {
      Host site = lab.agent(1);
      lab.spawn(
          site,
          "site-dhcp",
          List.of(
              "dnsmasq",
              "--no-daemon",
              "--conf-file=/dev/null",
              "--port=0",
              "--user=root",
              "--interface=" + Lab.IFACE,
              "--log-dhcp",
              "--pid-file=" + lab.dir().resolve("site-dhcp.pid"),
              "--dhcp-leasefile=" + lab.dir().resolve("site-dhcp.leases"),
              "--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h"),
          Map.of());
      serve(lab, mac, "--dhcp", "proxy");
      String line = boot(lab, firmware, mac);
      // The address came from the site's server: clonecast in proxy mode never hands one out.
      String leases = Files.readString(lab.dir().resolve("site-dhcp.leases"));
      assertTrue(
          leases.contains(mac.toString()),
          "site DHCP leased nothing to " + mac + ": " + leases + "\n" + line);
      if (firmware == QemuVm.Firmware.UEFI_EDK2) {
        String log = Files.readString(lab.dir().resolve("clonecast.log"));
        assertTrue(
            log.contains(mac + ": boot server ACK on 4011: ipxe.efi"),
            "EDK2 took its file from port 4011:\n" + log);
      }
    }
  }

  /**
   * Starts the daemon in the server namespace, with the marker as its netboot environment, and
   * marks {@code mac}.
   */
  private static void serve(Lab lab, MacAddress mac, String... dhcpArgs) throws IOException {
    Path state = lab.dir().resolve("state");
    marker.installInto(state.resolve("bootenv/current"));
    List<String> cmd =
        new ArrayList<>(
            Checkout.clonecast(
                "serve",
                "--interface",
                Lab.IFACE,
                "--state-dir",
                state.toString(),
                "--http-port",
                "8080"));
    cmd.addAll(List.of(dhcpArgs));
    LabProcess daemon = lab.spawn(lab.server(), "clonecast", cmd, Map.of());
    Awaitility.await("clonecast serve answering HTTP")
        .atMost(STARTUP)
        .pollInterval(Duration.ofMillis(500))
        .pollInSameThread()
        .until(
            () -> {
              assertTrue(daemon.isAlive(), "clonecast serve exited:\n" + daemon.tail(30));
              return run(
                      lab,
                      "probe",
                      List.of(
                          "curl",
                          "-s",
                          "-o",
                          "/dev/null",
                          "--max-time",
                          "2",
                          "http://127.0.0.1:8080/"))
                  == 0;
            });
    List<String> api =
        List.of(
            "--server",
            "http://127.0.0.1:8080",
            "--token-file",
            state.resolve("api-token").toString());
    assertEquals(
        0,
        run(
            lab,
            "enroll",
            concat(Checkout.clonecast("node", "add", mac.toString(), "--name", "n1"), api)),
        "node add");
    assertEquals(
        0,
        run(
            lab,
            "mark",
            concat(Checkout.clonecast("node", "set", mac.toString(), "--action", "reimage"), api)),
        "node set --action reimage");
  }

  /** Boots a VM to the marker; checks clonecast's kernel command line and the poweroff. */
  private static String boot(Lab lab, QemuVm.Firmware firmware, MacAddress mac) {
    try (QemuVm vm = QemuVm.builder(lab, "vm1").firmware(firmware).mac(mac).start()) {
      String line = vm.awaitSerial(MarkerPayload.MARKER);
      assertTrue(line.contains("clonecast.server=" + BASE_URL), line);
      assertTrue(line.contains("clonecast.mac=" + mac), line);
      assertEquals(
          0, vm.waitForExit(Duration.ofSeconds(60)), "QEMU exit after the guest's poweroff");
      return line;
    }
  }

  private static int run(Lab lab, String name, List<String> cmd) {
    LabProcess p = lab.spawn(lab.server(), name, cmd, Map.of());
    return p.waitFor(Duration.ofSeconds(60));
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}

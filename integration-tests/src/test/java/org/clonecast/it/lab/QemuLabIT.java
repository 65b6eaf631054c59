package org.clonecast.it.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.clonecast.protocol.wire.MacAddress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Proves the VM fixture ({@link QemuVm}, {@link Lab#addTap}) and the {@link MarkerPayload} with
 * servers that are known to work: stock dnsmasq (DHCP + TFTP) and busybox httpd in the lab's server
 * namespace, the way docs/ref/pxe-firmware.md §11 booted VMs here. A BIOS iPXE ROM and EDK2's own
 * UEFI PXE (which first fetches ipxe.efi over TFTP) must both reach the marker, with the kernel
 * command line of the iPXE script, and power off; a lab closed under a running VM must kill it.
 */
@HeavyLane
class QemuLabIT {
  private static final String HTTP = "http://" + Lab.SERVER_IP + ":8080";
  private static Path repo;
  private static MarkerPayload marker;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require("qemu-system-x86_64", "dnsmasq", "busybox");
    repo = Checkout.repo();
    marker = MarkerPayload.build(repo);
  }

  @Test
  void biosIpxeRomBootsTheMarkerFromDnsmasq() throws IOException {
    bootsTheMarker("qemubios", QemuVm.Firmware.BIOS_IPXE, MacAddress.parse("52:54:00:88:00:21"));
  }

  @Test
  void uefiEdk2PxeChainloadsIpxeEfiOverTftpAndBootsTheMarker() throws IOException {
    bootsTheMarker("qemuuefi", QemuVm.Firmware.UEFI_EDK2, MacAddress.parse("52:54:00:88:00:22"));
  }

  @Test
  void closingTheLabKillsARunningVmAndRemovesItsTap() throws IOException {
    QemuVm vm;
    String switchNs;
    try (Lab lab = Lab.create("qemukill", 1)) {
      // No DHCP server: the firmware keeps trying until the lab goes.
      vm = QemuVm.builder(lab, "vm1").start();
      switchNs = lab.prefix() + "-sw";
      String links =
          Exec.check(List.of("ip", "-n", switchNs, "-o", "link", "show", "master", "br0"), null);
      assertTrue(links.contains(" vm1:"), "tap vm1 on br0: " + links);
      assertTrue(vm.isRunning(), vm.process().tail(20));
    }
    assertFalse(vm.isRunning(), "QEMU outlived its lab");
    assertFalse(Lab.listNamespaces().contains(switchNs), switchNs + " still exists");
  }

  private static void bootsTheMarker(String tag, QemuVm.Firmware firmware, MacAddress mac)
      throws IOException {
    try (Lab lab = Lab.create(tag, 1)) {
      startDnsmasqAndHttpd(lab);
      try (QemuVm vm = QemuVm.builder(lab, "vm1").firmware(firmware).mac(mac).start()) {
        String line = vm.awaitSerial(MarkerPayload.MARKER);
        assertTrue(line.contains("clonecast.test=" + tag), line);
        // ${net0/mac} expanded by iPXE on the VM: the script ran on this machine.
        assertTrue(line.contains("clonecast.mac=" + mac), line);
        assertTrue(line.contains("initrd=initramfs.zst"), line);
        assertEquals(
            0, vm.waitForExit(Duration.ofSeconds(60)), "QEMU exit after the guest's poweroff");
      }
    }
  }

  /**
   * Stock dnsmasq, full DHCP + TFTP: iPXE gets the script over HTTP, other PXE clients iPXE itself.
   */
  private static void startDnsmasqAndHttpd(Lab lab) throws IOException {
    Path tftp = Files.createDirectories(lab.dir().resolve("tftp"));
    Files.copy(Path.of("/usr/lib/ipxe/undionly.kpxe"), tftp.resolve("undionly.kpxe"));
    Files.copy(Path.of("/usr/lib/ipxe/ipxe.efi"), tftp.resolve("ipxe.efi"));
    Path www = lab.dir().resolve("www");
    marker.installInto(www);
    String tag = lab.prefix().substring(lab.prefix().indexOf('-') + 1);
    Files.writeString(
        www.resolve("boot.ipxe"),
        "#!ipxe\n"
            + "kernel "
            + HTTP
            + "/vmlinuz initrd=initramfs.zst console=ttyS0 clonecast.test="
            + tag
            + " clonecast.mac=${net0/mac}\n"
            + "initrd --name initramfs.zst "
            + HTTP
            + "/initramfs.zst\n"
            + "boot\n");
    lab.spawn(
        lab.server(),
        "httpd",
        List.of("busybox", "httpd", "-f", "-p", Lab.SERVER_IP + ":8080", "-h", www.toString()),
        Map.of());
    lab.spawn(
        lab.server(),
        "dnsmasq",
        List.of(
            "dnsmasq",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            "--user=root",
            "--interface=" + Lab.IFACE,
            "--log-dhcp",
            "--pid-file=" + lab.dir().resolve("dnsmasq.pid"),
            "--dhcp-leasefile=" + lab.dir().resolve("dnsmasq.leases"),
            "--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h",
            "--enable-tftp",
            "--tftp-root=" + tftp,
            "--dhcp-match=set:ipxe,175",
            "--dhcp-match=set:efi64,option:client-arch,7",
            "--dhcp-match=set:efi64,option:client-arch,9",
            "--dhcp-boot=tag:ipxe," + HTTP + "/boot.ipxe",
            "--dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi",
            "--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe"),
        Map.of());
  }
}

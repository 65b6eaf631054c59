package org.clonecast.it.session;

import static org.clonecast.it.session.ReimageQemuIT.cli;
import static org.clonecast.it.session.ReimageQemuIT.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.QemuVm;
import org.clonecast.protocol.wire.MacAddress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Secure Boot end to end (issue 14): OVMF enforcing Secure Boot with Microsoft's keys enrolled
 * ({@link QemuVm.Firmware#UEFI_SECURE_BOOT}), network-first, blank disk, a node of a group that
 * {@code boot.secure-boot} names. Its firmware PXE-boots Debian's signed shim from {@code clonecast
 * serve --dhcp full}, shim Debian's signed network GRUB, GRUB its script by TFTP and then Debian's
 * signed kernel and our initramfs; the kernel says Secure Boot is on, the agent writes the real
 * golden system ({@code scripts/golden-debian.sh}, cached: shim at the ESP's removable path) and
 * the VM powers off. Powered on again, still network-first, it gets shim and GRUB again, is told to
 * boot its disk, chainloads the disk's shim, and the clone's own kernel says Secure Boot is on and
 * the clone logs in with its own name.
 *
 * <p>Slow by nature (TCG, SMM emulated, a 2 GiB golden); the bounds are minutes, never asserted
 * durations. The golden and the netboot environment are cached under {@code
 * /var/cache/clonecast-test} (or {@code $CLONECAST_TEST_CACHE}).
 */
class SecureBootQemuIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final MacAddress MAC = MacAddress.parse("52:54:00:5b:00:01");
  /** PXE through the signed chain, the kernel and initramfs by GRUB's TFTP, JVM start, the golden by multicast, all under TCG. */
  private static final Duration SESSION = Duration.ofMinutes(25);
  /** The firmware, shim, GRUB, the clone's kernel and systemd to a login, under TCG with SMM. */
  private static final Duration CLONE_BOOT = Duration.ofMinutes(8);
  /** What the kernel prints when it finds Secure Boot on (arch/x86/kernel/setup.c via efi). */
  private static final String SECURE_BOOT_ON = "secureboot: Secure boot enabled";
  private static Path repo;

  @BeforeAll
  static void prerequisites() {
    repo = ReimageQemuIT.requireVmsAndBootenv("mmdebstrap", "mkfs.vfat", "mcopy");
    for (String f : new String[] {"/usr/lib/shim/shimx64.efi.signed", "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
        "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"}) {
      if (!Files.isReadable(Path.of(f))) {
        Prereqs.failOrAbort("missing " + f + "; run scripts/install-deps.sh (packages shim-signed, grub-efi-amd64-signed, ovmf)");
      }
    }
  }

  @Test
  void aSecureBootNodePxeBootsTheSignedChainIsReimagedAndItsCloneBootsWithSecureBootOn() throws Exception {
    String cache = System.getenv().getOrDefault("CLONECAST_TEST_CACHE", "/var/cache/clonecast-test");
    String goldenOut = run(Duration.ofMinutes(30), repo.resolve("scripts/golden-debian.sh").toString(), "--cache", cache + "/golden");
    Path golden = Path.of(goldenOut.strip().lines().reduce((a, b) -> b).orElseThrow());
    assertTrue(Files.isRegularFile(golden), goldenOut);
    try (Lab lab = Lab.create("secboot", 1)) {
      Path state = Files.createDirectories(lab.dir().resolve("state"));
      run(Duration.ofMinutes(20), repo.resolve("clonecast").toString(), "bootenv", "build", "--state-dir", state.toString(),
          "--cache", cache + "/bootenv");
      // A TCG node on a loaded machine (other VMs beside it) can stall for many seconds while 1.5 GiB
      // arrive: longer than the daemon's 10 s receiver timeout and the agent's 30 s sender timeout
      // (branch cluster's agent reads clonecast.sender-timeout=; older ones ignore it).
      ReimageQemuIT.serve(lab, state, "clonecast.sender-timeout=300", "boot.secure-boot = rack1\nsession.receiver-timeout = 120\n");
      cli(lab, state, "image", "add", "golden", golden.toString());
      cli(lab, state, "node", "add", MAC.toString(), "--name", "node01", "--group", "rack1");
      cli(lab, state, "node", "set", MAC.toString(), "--target-disk", "/dev/vda");
      Path disk = lab.dir().resolve("sb1.raw");
      run(Duration.ofSeconds(30), "truncate", "-s", "2G", disk.toString());
      String started = cli(lab, state, "session", "start", "--image", "golden", "--nodes", "rack1", "--max-wait", "1800");
      assertTrue(started.contains("1 node(s)"), started);

      // First power-on: shim, signed GRUB, the signed kernel with Secure Boot on, re-imaged, powered off.
      try (QemuVm vm = QemuVm.builder(lab, "sbnet").firmware(QemuVm.Firmware.UEFI_SECURE_BOOT).mac(MAC).disk(disk)
          .memoryMib(1024).start()) {
        vm.awaitSerial(SECURE_BOOT_ON, SESSION);
        vm.awaitSerial("clonecast-bootenv: agent done", SESSION);
        assertTrue(vm.serialLog().contains("clonecast-agent: re-imaged as "), vm.serialLog());
        assertEquals(0, vm.waitForExit(Duration.ofSeconds(120)), "QEMU exits after the guest's poweroff");
      }
      String events = cli(lab, state, "events", "--limit", "300");
      assertTrue(events.lines().anyMatch(l -> l.contains(MAC.toString()) && l.contains("GRUB script: netboot to re-image")),
          "its GRUB fetched the netboot script by TFTP:\n" + events);
      JsonNode session = JSON.readTree(cli(lab, state, "session", "list", "--json")).get(0);
      assertEquals("done", session.path("state").asText(), session.toString());

      // Second power-on, still network-first: shim and GRUB again, "boot the local disk", the clone's own signed chain.
      try (QemuVm vm = QemuVm.builder(lab, "sbdisk").firmware(QemuVm.Firmware.UEFI_SECURE_BOOT).mac(MAC).disk(disk)
          .memoryMib(1024).start()) {
        vm.awaitSerial("node01 login:", CLONE_BOOT);
        String log = vm.serialLog();
        assertTrue(log.contains("clonecast: node01: booting the local disk"), "clonecast's GRUB script sent it to its disk:\n" + log);
        assertTrue(log.contains(SECURE_BOOT_ON), "the clone's kernel runs with Secure Boot on:\n" + log);
        assertTrue(log.contains("Kernel is locked down from EFI Secure Boot"), log);
      }
      events = cli(lab, state, "events", "--limit", "300");
      assertTrue(events.lines().anyMatch(l -> l.contains(MAC.toString()) && l.contains("GRUB script: boot local disk")), events);
    }
  }
}

package org.clonecast.it.session;

import static org.clonecast.it.session.SessionLab.CLI;
import static org.clonecast.it.session.SessionLab.buildBootenv;
import static org.clonecast.it.session.SessionLab.headCli;
import static org.clonecast.it.session.SessionLab.host;
import static org.clonecast.it.session.SessionLab.inLab;
import static org.clonecast.it.session.SessionLab.serveHead;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.clonecast.it.lab.Checkout;
import org.clonecast.it.lab.GoldenDisks;
import org.clonecast.it.lab.HeavyLane;
import org.clonecast.it.lab.Lab;
import org.clonecast.it.lab.Prereqs;
import org.clonecast.it.lab.QemuVm;
import org.clonecast.protocol.wire.MacAddress;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The whole product on real (emulated) hardware, as a new user meets it: a fresh daemon with no
 * netboot environment, two blank QEMU VMs, one BIOS (SeaBIOS + iPXE ROM) and one UEFI (OVMF's own
 * EDK2 PXE, which fetches ipxe.efi by TFTP first). They wait in iPXE until the admin runs {@code
 * clonecast bootenv build} (kernel, drivers, busybox, jlink'd JRE, agent from Debian packages),
 * then PXE-boot into it; each agent registers, takes the golden image by multicast onto its virtio
 * disk, verifies it, gives the system its own identity, reports, and the VM powers off ({@code
 * clonecast.then=poweroff}). The disks are then read with debugfs: the golden data and partition
 * table, each node's own hostname, an empty machine-id, SSH host keys of their own; the session
 * ended done and both nodes boot their disks next time. ClusterBootQemuIT boots a real Debian the
 * same way and logs into it.
 *
 * <p>Slow by nature (TCG: both JVMs start in emulation); the bounds are minutes, never asserted
 * durations. The netboot environment is cached per machine under {@code /var/cache/clonecast-test}
 * (or {@code $CLONECAST_TEST_CACHE}), so only the first run downloads the kernel package.
 */
@HeavyLane
class ReimageQemuIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * PXE, kernel, JVM start, 64 MiB by multicast and the identity step, all under TCG, two VMs at
   * once.
   */
  private static final Duration SESSION = Duration.ofMinutes(15);

  private static final List<MacAddress> MACS =
      List.of(MacAddress.parse("52:54:00:55:00:01"), MacAddress.parse("52:54:00:55:00:02"));

  /**
   * SeaBIOS with QEMU's iPXE ROM, and OVMF's own EDK2 PXE (ipxe.efi over TFTP first): both paths a
   * real cluster has.
   */
  private static final List<QemuVm.Firmware> FIRMWARE =
      List.of(QemuVm.Firmware.BIOS_IPXE, QemuVm.Firmware.UEFI_EDK2);

  /** The data file of {@link SessionLab#goldenDisk}. */
  private static final String DATA = "/home/admin/dataset.bin";

  private static Path repo;

  @BeforeAll
  static void prerequisites() {
    repo = requireVmsAndBootenv("debugfs", "losetup");
  }

  /**
   * Root, QEMU, what {@code clonecast bootenv build} runs, {@code more} tools, and the built jars.
   *
   * @return the repository
   */
  static Path requireVmsAndBootenv(String... more) {
    Prereqs.requireRoot();
    Prereqs.require(
        "qemu-system-x86_64",
        "curl",
        "java",
        "jlink",
        "jdeps",
        "apt-get",
        "dpkg-deb",
        "depmod",
        "modprobe",
        "cpio",
        "zstd",
        "busybox",
        "strip",
        "zip",
        "sfdisk",
        "mkfs.ext4");
    Prereqs.require(more);
    return Checkout.built(true);
  }

  /**
   * A new user's first session (issue 14): a fresh daemon with no netboot environment, a session
   * started, two blank VMs powered on at once. The daemon's own build runs in the lab's namespace,
   * which reaches no package mirror, so it fails, and says why in the events and on the waiting
   * nodes' consoles; the nodes are not sent to their blank disks but wait in iPXE, asking again.
   * The admin then builds the environment by hand (in the host namespace, from the test cache), and
   * both nodes netboot and are re-imaged without a second power cycle.
   */
  @Test
  void aFirstSessionWaitsForTheNetbootEnvironmentAndNeedsNoPowerCycle() throws Exception {
    try (Lab lab = Lab.create("firstsession", 1)) {
      Path state = Files.createDirectories(lab.dir().resolve("state"));
      Path golden = SessionLab.goldenDisk(lab.dir());
      serve(lab, state);
      assertTrue(
          !Files.exists(state.resolve("bootenv/current")),
          "a fresh daemon has no netboot environment");
      headCli(lab, state, "image", "add", "golden", golden.toString());
      List<Path> disks = blankNodes(lab, state, MACS, "blank");
      String started =
          headCli(
              lab,
              state,
              "session",
              "start",
              "--image",
              "golden",
              "--nodes",
              "rack1",
              "--max-wait",
              "1800");
      assertTrue(started.contains("2 node(s)"), started);

      List<QemuVm> vms = new ArrayList<>();
      try {
        for (int i = 0; i < MACS.size(); i++) {
          vms.add(
              QemuVm.builder(lab, "blank" + (i + 1))
                  .firmware(FIRMWARE.get(i))
                  .mac(MACS.get(i))
                  .disk(disks.get(i))
                  .memoryMib(1024)
                  .start());
        }
        // Both nodes are told to wait (not to boot their blank disks), and the failed build says
        // why.
        Awaitility.await("both nodes waiting in iPXE and the automatic build failed")
            .atMost(Duration.ofMinutes(10))
            .pollInterval(Duration.ofSeconds(2))
            .pollInSameThread()
            .until(
                () -> {
                  String events = headCli(lab, state, "events", "--limit", "200");
                  return events.contains("building the netboot environment failed")
                      && MACS.stream()
                          .allMatch(
                              m ->
                                  events
                                      .lines()
                                      .anyMatch(
                                          l ->
                                              l.contains(m.toString())
                                                  && l.contains(
                                                      "iPXE script: wait for the netboot environment")));
                });
        String events = headCli(lab, state, "events", "--limit", "200");
        assertTrue(
            events.lines().noneMatch(l -> l.contains("iPXE script: boot local disk")),
            "no marked node is sent to its disk:\n" + events);
        // The UEFI node's console (OVMF writes it to the serial port) shows why it waits.
        vms.get(1).awaitSerial("netboot environment failed", Duration.ofMinutes(5));
        assertTrue(vms.stream().allMatch(QemuVm::isRunning), "the waiting nodes are still up");

        // The admin builds it by hand; the waiting nodes pick it up on their next try.
        buildBootenv(state);
        for (QemuVm vm : vms) {
          vm.awaitSerial("clonecast-bootenv: agent done", SESSION);
          assertTrue(vm.serialLog().contains("clonecast-agent: re-imaged as "), vm.serialLog());
          assertEquals(
              0, vm.waitForExit(Duration.ofSeconds(120)), "QEMU exits after the guest's poweroff");
        }
      } finally {
        vms.forEach(QemuVm::close);
      }
      String show =
          host(
              CLI,
              repo.resolve("clonecast").toString(),
              "bootenv",
              "show",
              "--state-dir",
              state.toString());
      assertTrue(show.contains("kernel_modules=") && show.contains("virtio_net.ko"), show);
      assertTrue(
          Files.isSymbolicLink(state.resolve("bootenv/current")), "current is a link to the build");
      assertReimaged(lab, state, golden, MACS, disks);
    }
  }

  /**
   * After a session of {@code macs} onto {@code disks}: the session and the nodes are done and boot
   * their disks next; the disks hold the golden bytes outside the identity files, and each node its
   * own identity.
   */
  private static void assertReimaged(
      Lab lab, Path state, Path golden, List<MacAddress> macs, List<Path> disks) throws Exception {
    JsonNode session = JSON.readTree(headCli(lab, state, "session", "list", "--json")).get(0);
    assertEquals("done", session.path("state").asText(), session.toString());
    for (JsonNode n : JSON.readTree(headCli(lab, state, "node", "list", "--json"))) {
      assertEquals("done", n.path("state").asText(), n.toString());
      assertEquals("local", n.path("action").asText(), n.toString());
    }
    for (MacAddress mac : macs) {
      SessionLab.Result script =
          inLab(lab, "ipxe", CLI, "curl", "-fsS", "http://127.0.0.1:8080/boot/" + mac + ".ipxe");
      assertEquals(0, script.rc(), script.out());
      assertTrue(script.out().contains("booting the local disk"), script.out());
    }
    String wantTable = partitions(golden);
    String wantData = SessionLab.sha(golden, DATA, lab.dir());
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < disks.size(); i++) {
      Path disk = disks.get(i);
      assertEquals(wantTable, partitions(disk), "the partition table came through");
      assertEquals(wantData, SessionLab.sha(disk, DATA, lab.dir()), "the data came through intact");
      assertEquals("node0" + (i + 1) + "\n", SessionLab.cat(disk, "/etc/hostname"));
      assertTrue(
          SessionLab.cat(disk, "/etc/hosts").contains("node0" + (i + 1)),
          SessionLab.cat(disk, "/etc/hosts"));
      assertEquals("", SessionLab.cat(disk, "/etc/machine-id"));
      String key = SessionLab.cat(disk, "/etc/ssh/ssh_host_ed25519_key.pub").trim();
      assertTrue(key.startsWith("ssh-ed25519 "), key);
      keys.add(key.split(" ")[1]);
      String rules = SessionLab.DISKS.debugfs(disk, "ls -l /etc/udev/rules.d");
      assertTrue(
          !rules.contains("70-persistent-net.rules"),
          "the golden MACs' interface names are gone: " + rules);
    }
    assertNotEquals(keys.get(0), keys.get(1), "every node has its own SSH host key");
  }

  /**
   * Starts {@code clonecast serve} (full DHCP) in the lab's server namespace and waits until it
   * answers HTTP.
   */
  static void serve(Lab lab, Path state) throws IOException {
    serve(lab, state, "", "");
  }

  /**
   * {@link #serve(Lab, Path)} with more kernel arguments for the netboot environment and more lines
   * of clonecast.conf.
   */
  static void serve(Lab lab, Path state, String moreKernelArgs, String moreConfig)
      throws IOException {
    // console=ttyS0: the agent's output lands in the serial log; poweroff ends QEMU (-no-reboot
    // either way).
    // Generous bounds on both sides of the transfer, as in ClusterBootQemuIT: a TCG guest on a
    // loaded two-core machine stalls for tens of seconds (seen at a load average of 8: both nodes
    // dropped
    // as "control connection lost", then "the sender has been silent for 30 s").
    serve(
        lab,
        state,
        "boot.kernel-args = console=ttyS0 clonecast.then=poweroff clonecast.fail-wait=5 clonecast.sender-timeout=300 "
            + moreKernelArgs
            + "\nsession.receiver-timeout = 300\nsession.receiver-deadline = 1800\n"
            + moreConfig);
  }

  /** {@link #serve(Lab, Path)} with {@code configText} as its clonecast.conf. */
  static void serve(Lab lab, Path state, String configText) throws IOException {
    Path config = lab.dir().resolve("clonecast.conf");
    Files.writeString(config, configText);
    serveHead(lab, "clonecast", config, state);
  }

  /**
   * Enrolls {@code macs} as node01, node02, ... in group rack1, each with a blank 128 MiB disk
   * {@code prefix<n>.raw}.
   */
  private static List<Path> blankNodes(Lab lab, Path state, List<MacAddress> macs, String prefix)
      throws Exception {
    List<Path> disks = new ArrayList<>();
    for (int i = 0; i < macs.size(); i++) {
      String mac = macs.get(i).toString();
      headCli(lab, state, "node", "add", mac, "--name", "node0" + (i + 1), "--group", "rack1");
      headCli(lab, state, "node", "set", mac, "--target-disk", "/dev/vda");
      Path disk = lab.dir().resolve(prefix + (i + 1) + ".raw");
      host(CLI, "truncate", "-s", "128M", disk.toString());
      disks.add(disk);
    }
    return disks;
  }

  /** The disk's GUID and its partitions (start, size, type, UUID), not the disk's size. */
  private static String partitions(Path disk) throws Exception {
    StringBuilder sb = new StringBuilder();
    for (String line : GoldenDisks.run("sfdisk", "--dump", disk.toString()).split("\n")) {
      if (line.startsWith("label-id:")) sb.append(line.trim()).append('\n');
      int colon = line.indexOf(" : ");
      if (colon > 0) sb.append(line.substring(colon + 3).trim()).append('\n');
    }
    assertTrue(sb.toString().contains("start="), "no partition in " + disk);
    return sb.toString();
  }
}

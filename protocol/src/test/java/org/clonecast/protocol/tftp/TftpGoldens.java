package org.clonecast.protocol.tftp;

import java.util.List;
import org.clonecast.protocol.testutil.Golden;

/**
 * Which TFTP packets of the PXE reference captures (real firmware against dnsmasq;
 * docs/ref/captures.md) the golden tests take.
 */
final class TftpGoldens {
  /**
   * One golden packet: the UDP payload of frame {@code frame} (1-based, as tshark numbers them).
   */
  record Entry(String name, String capture, int frame, String what) {
    byte[] packet() {
      return Golden.udp("pxe", capture).stream()
          .filter(u -> u.frame() == frame - 1)
          .findFirst()
          .orElseThrow(
              () -> new IllegalStateException(name + ": no UDP frame " + frame + " in " + capture))
          .payload();
    }
  }

  static final List<Entry> ENTRIES =
      List.of(
          new Entry(
              "ipxe-rrq",
              "full-bios",
              7,
              "iPXE BIOS ROM: RRQ boot.ipxe octet blksize=1432 tsize=0"),
          new Entry("ipxe-oack", "full-bios", 8, "dnsmasq's OACK to iPXE: blksize=1432 tsize=270"),
          new Entry(
              "edk2-rrq-probe",
              "edk2-uefi",
              5,
              "EDK2 PXE: RRQ ipxe.efi tsize=0 blksize=1468 windowsize=4 (the size probe)"),
          new Entry(
              "edk2-oack-probe",
              "edk2-uefi",
              6,
              "dnsmasq's OACK to the probe: blksize=1468 tsize=850528 (windowsize dropped)"),
          new Entry(
              "edk2-error-abort",
              "edk2-uefi",
              7,
              "EDK2 ends its probe: ERROR 8 \"User aborted the transfer\""),
          new Entry(
              "edk2-rrq-window",
              "edk2-uefi",
              8,
              "EDK2 PXE: the real RRQ ipxe.efi blksize=1468 windowsize=4"),
          new Entry("edk2-oack-window", "edk2-uefi", 9, "dnsmasq's OACK: blksize=1468 only"),
          new Entry(
              "pxelinux-rrq", "pxelinux-bios", 9, "pxelinux: RRQ ldlinux.c32 tsize=0 blksize=1408"),
          new Entry(
              "pxelinux-error-notfound",
              "pxelinux-bios",
              12,
              "dnsmasq: ERROR 1 for a missing pxelinux.cfg/01-<mac>"));

  private TftpGoldens() {}

  static Entry entry(String name) {
    return ENTRIES.stream()
        .filter(e -> e.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no golden entry " + name));
  }
}

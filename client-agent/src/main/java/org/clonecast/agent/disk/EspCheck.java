package org.clonecast.agent.disk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.disk.MalformedDiskException;
import org.clonecast.protocol.disk.PartitionTable;

/**
 * Whether a written disk can boot by UEFI without a firmware boot entry: an EFI system partition
 * holding the removable-media loader {@code \EFI\BOOT\BOOTX64.EFI} (UEFI 2.10 §3.5.1.1). Firmware
 * boot entries live in NVRAM, not on the disk, so a clone has none; Debian's default {@code
 * grub-install} writes only {@code \EFI\debian\}. Not thread-safe.
 */
public final class EspCheck {
  static final String REMOVABLE = "/EFI/BOOT/BOOTX64.EFI";

  private EspCheck() {}

  /**
   * @return empty when an ESP of {@code disk} has the removable-path loader; else what is wrong and
   *     how to fix the golden node
   */
  public static Optional<String> problem(Path disk) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
      byte[] head = new byte[(int) Math.min(PartitionTable.HEAD_BYTES, f.length())];
      f.readFully(head);
      List<PartitionTable.Partition> all;
      try {
        all = PartitionTable.parse(head).map(PartitionTable::partitions).orElse(List.of());
      } catch (MalformedDiskException e) {
        return Optional.of(
            "the disk's partition table is damaged ("
                + e.getMessage()
                + "), so UEFI cannot find a loader on it");
      }
      List<PartitionTable.Partition> esps =
          all.stream()
              .filter(p -> p.type().equals(PartitionTable.GPT_ESP) || p.type().equals("ef"))
              .toList();
      if (esps.isEmpty()) {
        return Optional.of(
            "the disk has no EFI system partition, so it cannot boot by UEFI; give the golden node one (GPT type"
                + " EF00, FAT32, mounted at /boot/efi) with GRUB installed in it (grub-install --removable), then capture it again");
      }
      for (PartitionTable.Partition p : esps) {
        FatLookup.Reader r =
            (offset, length) -> {
              if (offset < 0 || offset + length > p.size())
                throw new IOException("read past the ESP's end");
              byte[] b = new byte[length];
              f.seek(p.offset() + offset);
              f.readFully(b);
              return b;
            };
        try {
          if (FatLookup.exists(r, REMOVABLE)) return Optional.empty();
        } catch (IOException e) {
          // a damaged or non-FAT ESP: try the next one, report below
        }
      }
      return Optional.of(
          "no EFI system partition of the disk has \\EFI\\BOOT\\BOOTX64.EFI, the loader UEFI firmware finds without"
              + " a boot entry (a clone has none: they live in NVRAM). clonecast's local boot also tries \\EFI\\debian\\, but other"
              + " firmware paths will not: on the golden node run 'grub-install --removable' (Debian: dpkg-reconfigure grub-efi-amd64,"
              + " 'Force extra installation to the EFI removable media path': yes), then capture it again");
    }
  }
}

package org.clonecast.agent.disk;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.clonecast.common.api.Disk;

/**
 * The node's disks from sysfs ({@code /sys/block}): whole disks only (SATA/SAS/virtio/NVMe/MMC),
 * not loop, RAM, optical or device-mapper devices, with size, removability, model and serial, for
 * the server to pick the target from.
 */
public final class DiskInventory {
  private static final Pattern DISK =
      Pattern.compile("(sd[a-z]+|vd[a-z]+|xvd[a-z]+|hd[a-z]+|nvme\\d+n\\d+|mmcblk\\d+)");

  private DiskInventory() {}

  public static List<Disk> list(Path sysBlock) throws IOException {
    List<Disk> out = new ArrayList<>();
    if (!Files.isDirectory(sysBlock)) return out;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(sysBlock)) {
      for (Path d : ds) {
        String name = d.getFileName().toString();
        if (!DISK.matcher(name).matches()) continue;
        long sectors = Long.parseLong(read(d.resolve("size"), "0"));
        if (sectors == 0) continue; // an empty card reader or a drive without medium
        out.add(
            new Disk(
                "/dev/" + name,
                sectors * 512,
                read(d.resolve("removable"), "0").equals("1"),
                read(d.resolve("device/model"), ""),
                serial(d)));
      }
    }
    out.sort((a, b) -> a.path().compareTo(b.path()));
    return out;
  }

  private static String serial(Path d) throws IOException {
    String s = read(d.resolve("device/serial"), "");
    return s.isEmpty() ? read(d.resolve("serial"), read(d.resolve("device/wwid"), "")) : s;
  }

  private static String read(Path p, String dflt) throws IOException {
    return Files.isReadable(p) ? Files.readString(p).trim() : dflt;
  }
}

package org.clonecast.agent.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Facts about block devices from sysfs and /proc (Java's own size() reports 0 for them). */
final class BlockDevices {
  private BlockDevices() {}

  /** Size in bytes from /sys/class/block/NAME/size (512-byte sectors). */
  static long size(Path device) throws IOException {
    String name = device.toRealPath().getFileName().toString();
    Path sys = Path.of("/sys/class/block", name, "size");
    if (!Files.exists(sys))
      throw new IOException(device + " is not a block device (no " + sys + ")");
    return Long.parseLong(Files.readString(sys).trim()) * 512L;
  }

  /** Mount points of the device or any of its partitions. */
  static List<String> mountedParts(Path device) throws IOException {
    String real = device.toRealPath().toString();
    List<String> out = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
      String[] f = line.split(" ");
      if (f.length < 2 || !f[0].startsWith("/dev/")) continue;
      String src;
      try {
        src = Path.of(f[0]).toRealPath().toString();
      } catch (IOException e) {
        continue;
      }
      if (src.equals(real)
          || (src.startsWith(real) && isPartitionSuffix(src.substring(real.length())))) {
        out.add(f[0] + " on " + f[1]);
      }
    }
    return out;
  }

  private static boolean isPartitionSuffix(String s) {
    return s.matches("p?\\d+");
  }
}

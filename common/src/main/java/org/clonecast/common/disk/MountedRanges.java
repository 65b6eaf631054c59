package org.clonecast.common.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Which byte ranges of which disks are under a mounted filesystem, from {@code /proc/self/mounts}
 * and sysfs: a mount of {@code /dev/vda2} is bytes {@code start..start+size} of {@code vda}; a
 * mount of {@code /dev/loop3} (or {@code loop3p1}) is a range of the loop device's backing file
 * at its offset; a device-mapper device (an LVM volume) covers all of every device under it.
 * Capture refuses a partition a read-write mount overlaps: its blocks change while they are read.
 *
 * <p>Reads the system when built; immutable after. Thread-safe.
 */
final class MountedRanges {
  /**
   * A mounted range.
   *
   * @param disk the identity of what holds it: "dev:NAME" for a kernel block device, "file:PATH" for a loop's backing file
   * @param offset first byte
   * @param length bytes; Long.MAX_VALUE when to the end
   * @param source the mount's source device, e.g. /dev/vda2
   * @param mountPoint where it is mounted
   * @param readWrite mounted read-write
   */
  record Mounted(String disk, long offset, long length, String source, String mountPoint, boolean readWrite) {}

  private static final Path SYS_BLOCK = Path.of("/sys/class/block");
  private final List<Mounted> mounted;

  private MountedRanges(List<Mounted> mounted) {
    this.mounted = List.copyOf(mounted);
  }

  /** The mounts in {@code mountsText} (the format of /proc/self/mounts), resolved through sysfs. */
  static MountedRanges read(String mountsText) {
    List<Mounted> out = new ArrayList<>();
    for (String line : mountsText.split("\n")) {
      String[] f = line.split(" ");
      if (f.length < 4 || !f[0].startsWith("/dev/")) {
        continue;
      }
      boolean rw = List.of(f[3].split(",")).contains("rw");
      String mountPoint = f[1].replace("\\040", " ");
      try {
        Path src = Path.of(f[0]);
        if (!Files.exists(src)) {
          continue;
        }
        String name = src.toRealPath().getFileName().toString();
        resolve(name, 0, Long.MAX_VALUE, f[0], mountPoint, rw, out, 0);
      } catch (IOException | RuntimeException e) {
        // A mount we cannot resolve cannot be on the disk we were given as a file or device we can resolve.
      }
    }
    return new MountedRanges(out);
  }

  private static void resolve(String name, long offset, long length, String source, String mountPoint, boolean rw, List<Mounted> out,
      int depth) throws IOException {
    Path sys = SYS_BLOCK.resolve(name);
    if (depth > 8 || !Files.isDirectory(sys)) {
      return;
    }
    if (Files.exists(sys.resolve("partition"))) {
      long start = sectors(sys.resolve("start"));
      long size = sectors(sys.resolve("size"));
      String parent = sys.toRealPath().getParent().getFileName().toString();
      resolve(parent, start + offset, Math.min(length, size), source, mountPoint, rw, out, depth + 1);
      return;
    }
    Path backing = sys.resolve("loop").resolve("backing_file");
    if (Files.exists(backing)) {
      String file = Files.readString(backing).strip();
      long loopOffset = Long.parseLong(Files.readString(sys.resolve("loop").resolve("offset")).strip());
      long limit = Long.parseLong(Files.readString(sys.resolve("loop").resolve("sizelimit")).strip());
      long len = limit == 0 ? length : Math.min(length, limit);
      out.add(new Mounted("dev:" + name, offset, length, source, mountPoint, rw));
      Path bf = Path.of(file);
      if (Files.exists(bf) && Files.isRegularFile(bf)) {
        out.add(new Mounted("file:" + bf.toRealPath(), loopOffset + offset, len, source, mountPoint, rw));
      } else if (Files.exists(bf)) {
        resolve(bf.toRealPath().getFileName().toString(), loopOffset + offset, len, source, mountPoint, rw, out, depth + 1);
      }
      return;
    }
    Path slaves = sys.resolve("slaves");
    if (Files.isDirectory(slaves)) {
      try (var s = Files.list(slaves)) {
        for (Path slave : s.toList()) {
          resolve(slave.getFileName().toString(), 0, Long.MAX_VALUE, source, mountPoint, rw, out, depth + 1);
        }
      }
    }
    out.add(new Mounted("dev:" + name, offset, length, source, mountPoint, rw));
  }

  private static long sectors(Path p) throws IOException {
    return Long.parseLong(Files.readString(p).strip()) * 512;
  }

  /** The identity {@link Mounted#disk} has for {@code disk}: its kernel name for a block device, its real path for a file. */
  static String identity(Path disk, boolean blockDevice) throws IOException {
    Path real = disk.toRealPath();
    return blockDevice ? "dev:" + real.getFileName() : "file:" + real;
  }

  /** The mount overlapping bytes {@code [offset, offset+length)} of disk {@code identity}, read-write ones first. */
  Optional<Mounted> overlapping(String identity, long offset, long length) {
    Mounted found = null;
    for (Mounted m : mounted) {
      boolean overlaps = m.disk().equals(identity) && m.offset() < offset + length
          && (m.length() == Long.MAX_VALUE || m.offset() + m.length() > offset);
      if (overlaps && (found == null || m.readWrite() && !found.readWrite())) {
        found = m;
      }
    }
    return Optional.ofNullable(found);
  }
}

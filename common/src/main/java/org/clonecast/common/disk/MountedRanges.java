package org.clonecast.common.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Which byte ranges of which disks are under a mounted filesystem, in any mount namespace: a
 * filesystem mounted in a container's or a service's namespace (or copied into one) is as much in
 * use as one in ours. Read from {@code /proc/PID/mountinfo} of one process per namespace (ours
 * first) and resolved through sysfs: a mount of {@code /dev/vda2} is bytes {@code
 * start..start+size} of {@code vda}; a mount of {@code /dev/loop3} (or {@code loop3p1}) is a range
 * of the loop device's backing file at its offset; a device-mapper device (an LVM volume) covers
 * all of every device under it. Capture refuses a partition a read-write mount overlaps: its blocks
 * change while they are read.
 *
 * <p>Reads the system when built; immutable after. Thread-safe.
 */
final class MountedRanges {
  /**
   * A mounted range.
   *
   * @param disk the identity of what holds it: "dev:NAME" for a kernel block device, "file:PATH"
   *     for a loop's backing file
   * @param offset first byte
   * @param length bytes; Long.MAX_VALUE when to the end
   * @param source the mount's source device, e.g. /dev/vda2
   * @param mountPoint where it is mounted, with the namespace's process when not ours
   * @param readWrite the filesystem is mounted read-write (its superblock's flag)
   */
  record Mounted(
      String disk, long offset, long length, String source, String mountPoint, boolean readWrite) {}

  private static final Path SYS_BLOCK = Path.of("/sys/class/block");
  private static final Path SYS_DEV = Path.of("/sys/dev/block");
  private final List<Mounted> mounted;

  private MountedRanges(List<Mounted> mounted) {
    this.mounted = List.copyOf(mounted);
  }

  /** The mounts of every mount namespace visible under {@code proc} (normally /proc). */
  static MountedRanges read(Path proc) {
    List<Mounted> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    List<Path> pids = new ArrayList<>();
    pids.add(proc.resolve("self"));
    try (Stream<Path> s = Files.list(proc)) {
      s.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .sorted()
          .forEach(pids::add);
    } catch (IOException e) {
      // Only our own namespace then.
    }
    for (Path pid : pids) {
      try {
        String ns = Files.readSymbolicLink(pid.resolve("ns").resolve("mnt")).toString();
        if (!seen.add(ns)) {
          continue;
        }
        String where =
            pid.getFileName().toString().equals("self")
                ? ""
                : " (in the mount namespace of process "
                    + pid.getFileName()
                    + ", "
                    + Files.readString(pid.resolve("comm")).strip()
                    + ")";
        parse(Files.readString(pid.resolve("mountinfo")), where, out);
      } catch (IOException | RuntimeException e) {
        // A process that ended, or one we may not look into.
      }
    }
    return new MountedRanges(out);
  }

  /**
   * Lines of mountinfo (proc(5)): ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE
   * SOURCE SUPER_OPTIONS.
   */
  static void parse(String mountinfo, String where, List<Mounted> out) {
    for (String line : mountinfo.split("\n")) {
      String[] f = line.split(" ");
      int dash = List.of(f).indexOf("-");
      if (f.length < 7 || dash < 6 || dash + 3 >= f.length) {
        continue;
      }
      String source = f[dash + 2];
      boolean rw = List.of(f[dash + 3].split(",")).contains("rw");
      String mountPoint = f[4].replace("\\040", " ") + where;
      try {
        Optional<String> name = deviceName(f[2], source);
        if (name.isPresent()) {
          resolve(name.get(), 0, Long.MAX_VALUE, source, mountPoint, rw, out, 0);
        }
      } catch (IOException | RuntimeException e) {
        // A mount we cannot resolve to a block device holds no disk we can resolve either.
      }
    }
  }

  /**
   * The kernel name of a mount's block device: by its device number, or by its source for
   * filesystems that report an anonymous one (btrfs: major 0).
   */
  private static Optional<String> deviceName(String majMin, String source) throws IOException {
    if (!majMin.startsWith("0:")) {
      Path dev = SYS_DEV.resolve(majMin);
      if (Files.exists(dev)) {
        return Optional.of(dev.toRealPath().getFileName().toString());
      }
    }
    Path src = Path.of(source);
    if (source.startsWith("/dev/") && Files.exists(src)) {
      return Optional.of(src.toRealPath().getFileName().toString());
    }
    return Optional.empty();
  }

  private static void resolve(
      String name,
      long offset,
      long length,
      String source,
      String mountPoint,
      boolean rw,
      List<Mounted> out,
      int depth)
      throws IOException {
    Path sys = SYS_BLOCK.resolve(name);
    if (depth > 8 || !Files.isDirectory(sys)) {
      return;
    }
    if (Files.exists(sys.resolve("partition"))) {
      long start = sectors(sys.resolve("start"));
      long size = sectors(sys.resolve("size"));
      out.add(new Mounted("dev:" + name, offset, length, source, mountPoint, rw));
      String parent = sys.toRealPath().getParent().getFileName().toString();
      resolve(
          parent, start + offset, Math.min(length, size), source, mountPoint, rw, out, depth + 1);
      return;
    }
    Path loop = sys.resolve("loop");
    if (Files.exists(loop.resolve("backing_file"))) {
      Path bf = Path.of(Files.readString(loop.resolve("backing_file")).strip());
      long loopOffset = Long.parseLong(Files.readString(loop.resolve("offset")).strip());
      long limit = Long.parseLong(Files.readString(loop.resolve("sizelimit")).strip());
      long len = limit == 0 ? length : Math.min(length, limit);
      out.add(new Mounted("dev:" + name, offset, length, source, mountPoint, rw));
      if (Files.isRegularFile(bf)) {
        out.add(
            new Mounted(
                "file:" + bf.toRealPath(), loopOffset + offset, len, source, mountPoint, rw));
      } else if (Files.exists(bf)) {
        resolve(
            bf.toRealPath().getFileName().toString(),
            loopOffset + offset,
            len,
            source,
            mountPoint,
            rw,
            out,
            depth + 1);
      }
      return;
    }
    Path slaves = sys.resolve("slaves");
    if (Files.isDirectory(slaves)) {
      try (Stream<Path> s = Files.list(slaves)) {
        for (Path slave : s.toList()) {
          resolve(
              slave.getFileName().toString(),
              0,
              Long.MAX_VALUE,
              source,
              mountPoint,
              rw,
              out,
              depth + 1);
        }
      }
    }
    out.add(new Mounted("dev:" + name, offset, length, source, mountPoint, rw));
  }

  private static long sectors(Path p) throws IOException {
    return Long.parseLong(Files.readString(p).strip()) * 512;
  }

  /**
   * The identity {@link Mounted#disk} has for {@code disk}: its kernel name for a block device, its
   * real path for a file.
   */
  static String identity(Path disk, boolean blockDevice) throws IOException {
    Path real = disk.toRealPath();
    return blockDevice ? "dev:" + real.getFileName() : "file:" + real;
  }

  /**
   * The mount overlapping bytes {@code [offset, offset+length)} of disk {@code identity},
   * read-write ones first.
   */
  Optional<Mounted> overlapping(String identity, long offset, long length) {
    Mounted found = null;
    for (Mounted m : mounted) {
      boolean overlaps =
          m.disk().equals(identity)
              && m.offset() < offset + length
              && (m.length() == Long.MAX_VALUE || m.offset() + m.length() > offset);
      if (overlaps && (found == null || m.readWrite() && !found.readWrite())) {
        found = m;
      }
    }
    return Optional.ofNullable(found);
  }
}

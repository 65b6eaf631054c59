package org.clonecast.common.image;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What kind of file a path is and how many bytes it holds: regular files by their size, block
 * devices by {@link FileChannel#size()} (which reports the device size on current JDKs) or, when
 * that says 0, by {@code /sys/class/block/NAME/size} in 512-byte sectors.
 *
 * <p>Stateless and thread-safe.
 */
public final class SourceDevice {
  private static final int S_IFMT = 0170000;
  private static final int S_IFBLK = 0060000;
  private static final int S_IFCHR = 0020000;

  private SourceDevice() {}

  /** Whether {@code p} (after symlinks) is a block device. */
  public static boolean isBlockDevice(Path p) throws IOException {
    return (mode(p) & S_IFMT) == S_IFBLK;
  }

  /** Whether {@code p} (after symlinks) is a block or character device. */
  public static boolean isDevice(Path p) throws IOException {
    int type = mode(p) & S_IFMT;
    return type == S_IFBLK || type == S_IFCHR;
  }

  /**
   * Where block device {@code dev} or one of its partitions is mounted, per {@code mounts} (the
   * text of {@code /proc/self/mounts}); empty when nothing is. Writing over a mounted file system
   * corrupts it and the running system with it.
   */
  public static Optional<String> mountedAt(Path dev, String mounts) throws IOException {
    String name = dev.toRealPath().getFileName().toString();
    Path sys = Path.of("/sys/class/block", name);
    for (String line : mounts.split("\n")) {
      String[] f = line.split(" ");
      if (f.length < 2 || !f[0].startsWith("/dev/")) {
        continue;
      }
      Path src = Path.of(f[0]);
      String srcName =
          Files.exists(src)
              ? src.toRealPath().getFileName().toString()
              : src.getFileName().toString();
      // A partition of dev appears as /sys/class/block/dev/<partition>.
      if (srcName.equals(name) || Files.isDirectory(sys.resolve(srcName))) {
        return Optional.of(f[0] + " on " + f[1].replace("\\040", " "));
      }
    }
    return Optional.empty();
  }

  /** {@link #mountedAt(Path, String)} for this system's current mounts. */
  public static Optional<String> mountedAt(Path dev) throws IOException {
    Path mounts = Path.of("/proc/self/mounts");
    return Files.isReadable(mounts) ? mountedAt(dev, Files.readString(mounts)) : Optional.empty();
  }

  private static int mode(Path p) throws IOException {
    return (Integer) Files.getAttribute(p, "unix:mode");
  }

  /** The size in bytes of a regular file or block device open as {@code ch}. */
  public static long size(Path p, FileChannel ch) throws IOException {
    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || !isBlockDevice(p)) {
      return ch.size();
    }
    long size = ch.size();
    if (size > 0) {
      return size;
    }
    Path sys = Path.of("/sys/class/block", p.toRealPath().getFileName().toString(), "size");
    try {
      return Long.parseLong(Files.readString(sys).trim()) * 512;
    } catch (IOException | NumberFormatException e) {
      throw new IOException(
          p + ": cannot tell the size of this block device (" + sys + ": " + e.getMessage() + ")",
          e);
    }
  }
}

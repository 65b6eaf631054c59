package org.clonecast.common.image;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

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
      throw new IOException(p + ": cannot tell the size of this block device (" + sys + ": " + e.getMessage() + ")", e);
    }
  }
}

package org.clonecast.agent.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Whether a file exists on a FAT12/16/32 filesystem (an EFI system partition), found by its 8.3
 * short names (Microsoft's FAT specification, "FAT: General Overview of On-Disk Format"): enough to
 * check {@code \EFI\BOOT\BOOTX64.EFI} on a written disk without mounting it (the netboot
 * environment has no vfat driver). Long names are not read: every component of the paths asked for
 * is a valid short name, which FAT stores upper-cased. Reads through {@link Reader}; bounded on
 * hostile input (cluster chains are followed at most as many steps as the filesystem has clusters).
 * Stateless and thread-safe.
 */
public final class FatLookup {
  private static final int ATTR_LONG_NAME = 0x0f;
  private static final int ATTR_DIRECTORY = 0x10;
  private static final int ATTR_VOLUME_ID = 0x08;

  /** Reads {@code length} bytes at {@code offset} of the filesystem. */
  @FunctionalInterface
  public interface Reader {
    byte[] read(long offset, int length) throws IOException;
  }

  private FatLookup() {}

  /**
   * @param path like {@code /EFI/BOOT/BOOTX64.EFI}; components of at most 8 + 3 characters
   * @return whether that regular file exists
   * @throws IOException when the filesystem cannot be read or is not FAT (the message says which
   *     field)
   */
  public static boolean exists(Reader fs, String path) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(fs.read(0, 512)).order(ByteOrder.LITTLE_ENDIAN);
    int bps = Short.toUnsignedInt(b.getShort(11));
    int spc = Byte.toUnsignedInt(b.get(13));
    int reserved = Short.toUnsignedInt(b.getShort(14));
    int fats = Byte.toUnsignedInt(b.get(16));
    int rootEntries = Short.toUnsignedInt(b.getShort(17));
    long total =
        Short.toUnsignedInt(b.getShort(19)) != 0
            ? Short.toUnsignedInt(b.getShort(19))
            : Integer.toUnsignedLong(b.getInt(32));
    long fatSize =
        Short.toUnsignedInt(b.getShort(22)) != 0
            ? Short.toUnsignedInt(b.getShort(22))
            : Integer.toUnsignedLong(b.getInt(36));
    if (Integer.bitCount(bps) != 1 || bps < 512 || bps > 4096)
      throw new IOException("not FAT: bytes per sector " + bps);
    if (Integer.bitCount(spc) != 1) throw new IOException("not FAT: sectors per cluster " + spc);
    if (fats == 0 || reserved == 0 || fatSize == 0 || total == 0)
      throw new IOException("not FAT: an empty BPB field");
    long rootDirSectors = (rootEntries * 32L + bps - 1) / bps;
    long firstData = reserved + fats * fatSize + rootDirSectors;
    if (firstData >= total) throw new IOException("not FAT: no data area");
    long clusters = (total - firstData) / spc;
    int type = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
    Fs f = new Fs(fs, bps, spc, reserved * (long) bps, firstData * bps, clusters, type);

    Dir dir =
        type == 32
            ? f.chain(Integer.toUnsignedLong(b.getInt(44)))
            : new Dir((reserved + fats * fatSize) * bps, rootEntries * 32L, -1);
    String[] parts = path.replace('\\', '/').replaceFirst("^/+", "").split("/");
    for (int i = 0; i < parts.length; i++) {
      boolean last = i == parts.length - 1;
      long[] entry = f.find(dir, shortName(parts[i]));
      if (entry == null) return false;
      boolean isDir = (entry[0] & ATTR_DIRECTORY) != 0;
      if (last) return !isDir;
      if (!isDir) return false;
      dir = f.chain(entry[1]);
    }
    return false;
  }

  /** "bootx64.efi" as FAT stores it: "BOOTX64 EFI" (8 + 3, space-padded, upper case). */
  static String shortName(String name) {
    String n = name.toUpperCase(Locale.ROOT);
    int dot = n.lastIndexOf('.');
    String base = dot < 0 ? n : n.substring(0, dot);
    String ext = dot < 0 ? "" : n.substring(dot + 1);
    if (base.isEmpty() || base.length() > 8 || ext.length() > 3)
      throw new IllegalArgumentException("'" + name + "' is not an 8.3 name");
    return String.format(Locale.ROOT, "%-8s%-3s", base, ext);
  }

  /**
   * A directory's bytes: a fixed region (FAT12/16 root, {@code cluster} -1) or a cluster chain's
   * first cluster.
   */
  private record Dir(long offset, long length, long cluster) {}

  private record Fs(
      Reader r, int bps, int spc, long fatOffset, long dataOffset, long clusters, int type) {
    long clusterBytes() {
      return (long) bps * spc;
    }

    Dir chain(long cluster) {
      return new Dir(-1, -1, cluster);
    }

    /** The entry named {@code name} in {@code dir}: {attributes, first cluster}, or null. */
    long[] find(Dir dir, String name) throws IOException {
      if (dir.cluster() < 0) return scan(r.read(dir.offset(), (int) dir.length()), name);
      long c = dir.cluster();
      for (long steps = 0; steps <= clusters; steps++) {
        if (c < 2 || c >= clusters + 2) return null;
        byte[] data = r.read(dataOffset + (c - 2) * clusterBytes(), (int) clusterBytes());
        long[] found = scan(data, name);
        if (found != null) return found[0] == -1 ? null : found;
        c = next(c);
      }
      throw new IOException("FAT cluster chain loops");
    }

    /** {attr, cluster} if found; {-1, 0} at the directory's end marker; null to go on. */
    private static long[] scan(byte[] d, String name) {
      ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
      for (int e = 0; e + 32 <= d.length; e += 32) {
        int first = Byte.toUnsignedInt(d[e]);
        if (first == 0) return new long[] {-1, 0};
        int attr = Byte.toUnsignedInt(d[e + 11]);
        if (first == 0xe5 || attr == ATTR_LONG_NAME || (attr & ATTR_VOLUME_ID) != 0) continue;
        if (new String(d, e, 11, StandardCharsets.US_ASCII).equals(name)) {
          long cluster =
              ((long) Short.toUnsignedInt(b.getShort(e + 20)) << 16)
                  | Short.toUnsignedInt(b.getShort(e + 26));
          return new long[] {attr, cluster};
        }
      }
      return null;
    }

    private long next(long c) throws IOException {
      return switch (type) {
        case 12 -> {
          long at = c + c / 2;
          ByteBuffer b = ByteBuffer.wrap(r.read(fatOffset + at, 2)).order(ByteOrder.LITTLE_ENDIAN);
          int v = Short.toUnsignedInt(b.getShort(0));
          v = (c & 1) == 0 ? v & 0xfff : v >>> 4;
          yield v >= 0xff8 ? -1 : v;
        }
        case 16 -> {
          int v =
              Short.toUnsignedInt(
                  ByteBuffer.wrap(r.read(fatOffset + c * 2, 2))
                      .order(ByteOrder.LITTLE_ENDIAN)
                      .getShort(0));
          yield v >= 0xfff8 ? -1 : v;
        }
        default -> {
          long v =
              Integer.toUnsignedLong(
                      ByteBuffer.wrap(r.read(fatOffset + c * 4, 4))
                          .order(ByteOrder.LITTLE_ENDIAN)
                          .getInt(0))
                  & 0x0fffffffL;
          yield v >= 0x0ffffff8L ? -1 : v;
        }
      };
    }
  }
}

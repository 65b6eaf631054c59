package org.clonecast.protocol.disk;

import java.util.ArrayList;
import java.util.List;
import org.clonecast.protocol.image.AllocationMap.Extent;

/**
 * A partclone domain map ({@code partclone.<fs> -D -s DEV -o MAPFILE}): the GNU ddrescue mapfile
 * format (ddrescue manual §"Mapfile structure") in which partclone marks the filesystem's used
 * bytes "+" and the free ones "?". Comment lines start with '#'; the first other line is the
 * current position and status; every further line is {@code pos size status}, numbers in hex
 * ({@code 0x}) or decimal.
 *
 * <p>Strict, because a wrong map loses data on every clone: rows must start at 0, follow each other
 * without gap or overlap, have a positive size and a known status, and end within the partition.
 * Anything else is a {@link MalformedDiskException} naming the line; the caller then carries the
 * whole partition.
 *
 * <p>Pure. Immutable and thread-safe.
 *
 * @param covered bytes from the partition's start the rows describe (partclone stops at the
 *     filesystem's end, which may be short of the partition's)
 * @param used the "+" rows as disk extents (partition offset added), in order, adjacent rows merged
 */
public record DomainMap(long covered, List<Extent> used) {
  /** Lines we accept: a fragmented 16 TiB filesystem has far fewer runs than this. */
  static final int MAX_LINES = 16_000_000;

  public DomainMap {
    used = List.copyOf(used);
  }

  /**
   * Parses a mapfile.
   *
   * @param text the mapfile's content
   * @param offset the partition's byte offset on the disk, added to every row
   * @param limit the partition's size: rows must end within it
   * @throws MalformedDiskException naming the line that is wrong
   */
  public static DomainMap parse(String text, long offset, long limit) {
    if (offset < 0 || limit < 0 || offset > Long.MAX_VALUE - limit) {
      throw new IllegalArgumentException("partition at " + offset + " of " + limit + " bytes");
    }
    String[] lines = text.split("\n", -1);
    if (lines.length > MAX_LINES) {
      throw new MalformedDiskException(
          "domain map: " + lines.length + " lines, more than " + MAX_LINES);
    }
    List<Extent> used = new ArrayList<>();
    boolean sawCurrent = false;
    long next = 0;
    long runStart = -1;
    long runEnd = -1;
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.split("\\s+");
      int n = i + 1;
      if (!sawCurrent) {
        // current_pos current_status [current_pass]: where a run stopped; partclone writes the end.
        if (f.length < 2 || f.length > 3) {
          throw new MalformedDiskException(
              "domain map line "
                  + n
                  + ": want \"current_pos current_status\", got \""
                  + shorten(line)
                  + "\"");
        }
        number(f[0], n, "current_pos");
        sawCurrent = true;
        continue;
      }
      if (f.length != 3) {
        throw new MalformedDiskException(
            "domain map line " + n + ": want \"pos size status\", got \"" + shorten(line) + "\"");
      }
      long pos = number(f[0], n, "pos");
      long size = number(f[1], n, "size");
      if (f[2].length() != 1 || "?*/-+".indexOf(f[2].charAt(0)) < 0) {
        throw new MalformedDiskException(
            "domain map line " + n + ": status \"" + shorten(f[2]) + "\", want one of ? * / - +");
      }
      if (pos != next) {
        throw new MalformedDiskException(
            "domain map line "
                + n
                + ": row at "
                + hex(pos)
                + ", want "
                + hex(next)
                + (pos > next ? " (a gap)" : " (an overlap)"));
      }
      if (size == 0) {
        throw new MalformedDiskException(
            "domain map line " + n + ": row at " + hex(pos) + " of size 0");
      }
      if (size > limit - pos) {
        throw new MalformedDiskException(
            "domain map line "
                + n
                + ": row "
                + hex(pos)
                + "+"
                + hex(size)
                + " ends past the partition's "
                + limit
                + " bytes");
      }
      next = pos + size;
      if (f[2].charAt(0) == '+') {
        if (runStart >= 0 && runEnd == pos) {
          runEnd = next;
        } else {
          if (runStart >= 0) {
            used.add(new Extent(offset + runStart, runEnd - runStart));
          }
          runStart = pos;
          runEnd = next;
        }
      } else if (f[2].charAt(0) != '?') {
        // partclone writes only + and ?; a bad-sector or non-tried mark means this is not its map.
        throw new MalformedDiskException(
            "domain map line " + n + ": status " + f[2] + " (partclone writes only + and ?)");
      }
    }
    if (!sawCurrent) {
      throw new MalformedDiskException(
          "domain map: no current-position line (empty or not a mapfile)");
    }
    if (runStart >= 0) {
      used.add(new Extent(offset + runStart, runEnd - runStart));
    }
    return new DomainMap(next, used);
  }

  /** Bytes the map marks used. */
  public long usedBytes() {
    long n = 0;
    for (Extent e : used) {
      n += e.length();
    }
    return n;
  }

  private static long number(String s, int line, String field) {
    try {
      long v =
          s.startsWith("0x") || s.startsWith("0X")
              ? Long.parseLong(s.substring(2), 16)
              : Long.parseLong(s);
      if (v < 0) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw new MalformedDiskException(
          "domain map line " + line + ": " + field + " \"" + shorten(s) + "\" is not a number", e);
    }
  }

  private static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }

  private static String shorten(String s) {
    return s.length() <= 60 ? s : s.substring(0, 60) + "...";
  }
}

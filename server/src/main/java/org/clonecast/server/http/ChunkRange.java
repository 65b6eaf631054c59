package org.clonecast.server.http;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one {@code Range} a unicast fallback request may carry (docs/unicast.md): {@code
 * bytes=FIRST-LAST}, FIRST ≤ LAST, inside the image file's chunk region {@code [regionStart,
 * regionEnd)}, at most {@link #MAX_LENGTH} bytes. Stricter than {@link ByteRange} on purpose: a
 * boot loader may be answered with the whole file, a chunk request never.
 */
public sealed interface ChunkRange {
  /** The largest range one request may ask for: a stored chunk is at most a few MiB. */
  long MAX_LENGTH = 16L << 20;

  /** Serve bytes {@code [first, first + length)}. */
  record Ok(long first, long length) implements ChunkRange {}

  /** Not a range we serve (400): {@code why} says what is wrong and what is wanted. */
  record Bad(String why) implements ChunkRange {}

  /** A well-formed range outside the chunks (416). */
  record Outside(String why) implements ChunkRange {}

  /** Never throws, whatever the header holds. */
  static ChunkRange parse(String header, long regionStart, long regionEnd) {
    String want =
        "; want one range 'Range: bytes=FIRST-LAST' inside the image's chunks ("
            + regionStart
            + "-"
            + (regionEnd - 1)
            + "), at most "
            + MAX_LENGTH
            + " bytes";
    if (header == null) return new Bad("no Range header" + want);
    Matcher m = Holder.RANGE.matcher(header.trim());
    if (!m.matches()) {
      String shown = header.length() > 80 ? header.substring(0, 80) + "..." : header;
      return new Bad("Range '" + shown + "' is not one we serve" + want);
    }
    long first = Long.parseLong(m.group(1));
    long last = Long.parseLong(m.group(2));
    if (last < first || last - first >= MAX_LENGTH) {
      return new Bad("Range " + first + "-" + last + " is backwards or too long" + want);
    }
    if (first < regionStart || last >= regionEnd) {
      return new Outside("Range " + first + "-" + last + " is outside the image's chunks" + want);
    }
    return new Ok(first, last - first + 1);
  }

  /** The pattern, kept out of the interface's constants. */
  final class Holder {
    static final Pattern RANGE = Pattern.compile("bytes=(\\d{1,18})-(\\d{1,18})");

    private Holder() {}
  }
}

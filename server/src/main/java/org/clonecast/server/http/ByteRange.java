package org.clonecast.server.http;

import java.util.Optional;

/**
 * One byte range of a {@code Range: bytes=...} header (RFC 9110 §14.1.2), resolved against a
 * representation of {@code size} bytes.
 *
 * @param first first byte, inclusive
 * @param last last byte, inclusive
 */
public record ByteRange(long first, long last) {
  public long length() {
    return last - first + 1;
  }

  /** The outcome of reading a Range header. */
  public sealed interface Parsed {}

  /** Serve the whole representation (no header, a syntax we do not honour, or several ranges). */
  public record Whole() implements Parsed {}

  /** Serve this part (206). */
  public record Part(ByteRange range) implements Parsed {}

  /** The range lies outside the representation (416). */
  public record Unsatisfiable() implements Parsed {}

  /**
   * Reads {@code header} for a resource of {@code size} bytes. Multiple ranges are answered with
   * the whole body, which RFC 9110 allows and every boot loader accepts. Never throws: a header it
   * cannot read is answered with the whole body, and a {@link Part} always lies inside the file
   * (ByteRangePropertyTest).
   */
  public static Parsed parse(Optional<String> header, long size) {
    if (header.isEmpty()) {
      return new Whole();
    }
    String h = header.get().trim();
    if (!h.startsWith("bytes=") || h.indexOf(',') >= 0) {
      return new Whole();
    }
    String spec = h.substring(6).trim();
    int dash = spec.indexOf('-');
    if (dash < 0) {
      return new Whole();
    }
    String a = spec.substring(0, dash).trim();
    String b = spec.substring(dash + 1).trim();
    try {
      if (a.isEmpty()) { // suffix: the last N bytes
        if (b.isEmpty()) {
          return new Whole();
        }
        long n = Long.parseLong(b);
        if (n <= 0 || size == 0) {
          return new Unsatisfiable();
        }
        return new Part(new ByteRange(Math.max(0, size - n), size - 1));
      }
      long first = Long.parseLong(a);
      long last = b.isEmpty() ? size - 1 : Math.min(Long.parseLong(b), size - 1);
      if (first < 0 || first >= size || (!b.isEmpty() && Long.parseLong(b) < first)) {
        return first >= size ? new Unsatisfiable() : new Whole();
      }
      return new Part(new ByteRange(first, last));
    } catch (NumberFormatException e) {
      return new Whole();
    }
  }
}

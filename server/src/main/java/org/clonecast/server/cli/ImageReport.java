package org.clonecast.server.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.clonecast.common.cli.ProgressBar;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;

/** The facts about an image that create and info print, as aligned text or JSON. Stateless. */
final class ImageReport {
  private ImageReport() {}

  /** Label → value, in print order. */
  static Map<String, String> facts(Manifest m) {
    Map<String, String> f = new LinkedHashMap<>();
    f.put("image id", m.imageId().toString());
    f.put("logical size", size(m.logicalSize()));
    f.put("chunk size", ProgressBar.bytes(m.chunkSize()));
    f.put(
        "chunks",
        String.format(
            Locale.ROOT,
            "%d: %d zero, %d zstd, %d raw, %d unused",
            m.chunkCount(),
            m.count(ChunkKind.ZERO),
            m.count(ChunkKind.ZSTD),
            m.count(ChunkKind.RAW),
            m.count(ChunkKind.UNUSED)));
    f.put(
        "used",
        size(m.usedBytes())
            + ", "
            + percent(m.usedBytes(), m.logicalSize())
            + " of the disk"
            + (m.formatVersion() > 1 ? " (format version " + m.formatVersion() + ")" : ""));
    f.put("stored", size(m.storedBytes()) + ", ratio " + ratio(m));
    f.put("image sha256", m.imageHash().hex());
    return f;
  }

  /** "3.19:1" (logical over stored); "-" when nothing is stored. */
  static String ratio(Manifest m) {
    return m.storedBytes() == 0
        ? "-"
        : String.format(Locale.ROOT, "%.2f:1", (double) m.logicalSize() / m.storedBytes());
  }

  /** "37.5 %"; "100.0 %" of nothing. */
  static String percent(long part, long whole) {
    return String.format(Locale.ROOT, "%.1f %%", whole == 0 ? 100.0 : 100.0 * part / whole);
  }

  /** "256.0 MiB (268435456 bytes)". */
  static String size(long n) {
    return ProgressBar.bytes(n) + " (" + n + " bytes)";
  }

  /** "1.23 s, 208.1 MB/s" for {@code bytes} done in {@code nanos}. */
  static String speed(long bytes, long nanos) {
    double s = Math.max(nanos, 1) / 1e9;
    return String.format(Locale.ROOT, "%.2f s, %.1f MB/s", s, bytes / 1e6 / s);
  }

  static void print(PrintWriter out, Map<String, String> facts) {
    facts.forEach((k, v) -> out.printf(Locale.ROOT, "  %-14s %s%n", k, v));
    out.flush();
  }
}

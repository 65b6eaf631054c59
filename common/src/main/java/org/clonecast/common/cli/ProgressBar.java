package org.clonecast.common.cli;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A one-line progress display for long operations: label, bar, percent, MB/s and ETA, redrawn in
 * place ({@code \r}) at most ten times a second. Built for a terminal: {@link #forTerminal} turns
 * it off when there is no console, so scripts and logs stay clean. {@link Mode#LINES} prints a
 * plain line every few seconds instead, for logs that want progress.
 *
 * <pre>{@code
 * var bar = ProgressBar.forTerminal("create", size);
 * ImageCreator.create(src, out, chunk, level, threads, bar::update);
 * bar.finish();
 * }</pre>
 *
 * <p>Thread-safe: {@link #update} and {@link #finish} may be called from any thread.
 */
public final class ProgressBar {
  /** How progress is shown. */
  public enum Mode {
    /** Nothing. */
    OFF,
    /** One line redrawn in place. */
    BAR,
    /** A new plain line at most every {@code linesEveryNanos}. */
    LINES
  }

  private static final int WIDTH = 30;
  private static final long BAR_EVERY_NANOS = 100_000_000L;
  private static final long LINES_EVERY_NANOS = 5_000_000_000L;

  private final String label;
  private final long total;
  private final PrintStream out;
  private final Mode mode;
  private final LongSupplier nanoClock;
  private final long start;
  private long lastDraw;
  private int lastLength;
  private boolean finished;
  private long done;

  /** A bar on {@code out} when {@code enabled}, nothing otherwise. */
  public ProgressBar(String label, long total, PrintStream out, boolean enabled) {
    this(label, total, out, enabled ? Mode.BAR : Mode.OFF, System::nanoTime);
  }

  /** Progress on {@code out} in the given mode. */
  public ProgressBar(String label, long total, PrintStream out, Mode mode) {
    this(label, total, out, mode, System::nanoTime);
  }

  ProgressBar(String label, long total, PrintStream out, Mode mode, LongSupplier nanoClock) {
    this.label = label;
    this.total = Math.max(0, total);
    this.out = out;
    this.mode = mode;
    this.nanoClock = nanoClock;
    this.start = nanoClock.getAsLong();
    this.lastDraw = start;
  }

  /** A bar on stderr if this process has a console, otherwise silent. */
  public static ProgressBar forTerminal(String label, long total) {
    return new ProgressBar(label, total, System.err, System.console() != null);
  }

  /** {@code done} of the total is finished (values beyond the total count as the total). */
  public synchronized void update(long done) {
    this.done = Math.min(Math.max(done, 0), total);
    if (mode == Mode.OFF || finished) {
      return;
    }
    long now = nanoClock.getAsLong();
    if (now - lastDraw >= (mode == Mode.BAR ? BAR_EVERY_NANOS : LINES_EVERY_NANOS)) {
      lastDraw = now;
      draw(now, false);
    }
  }

  /** Draws the final state and ends the line; later calls do nothing. */
  public synchronized void finish() {
    if (mode == Mode.OFF || finished) {
      return;
    }
    finished = true;
    draw(nanoClock.getAsLong(), true);
  }

  private void draw(long now, boolean last) {
    String line = render(now);
    if (mode == Mode.BAR) {
      // Pad with spaces so a shorter line fully covers the previous one.
      String padded = line + " ".repeat(Math.max(0, lastLength - line.length()));
      lastLength = line.length();
      out.print("\r" + padded + (last ? System.lineSeparator() : ""));
    } else {
      out.println(line);
    }
    out.flush();
  }

  /** The line as it would be drawn at {@code now}. */
  synchronized String render(long now) {
    double fraction = total == 0 ? 1.0 : (double) done / total;
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    double rate = done / seconds;
    StringBuilder sb = new StringBuilder(label).append(' ');
    if (mode == Mode.BAR) {
      int filled = (int) Math.round(fraction * WIDTH);
      sb.append('[').append("#".repeat(filled)).append(".".repeat(WIDTH - filled)).append("] ");
    }
    sb.append(
        String.format(
            Locale.ROOT,
            "%3d%%  %s / %s  %.1f MB/s  ",
            (int) Math.floor(fraction * 100),
            bytes(done),
            bytes(total),
            rate / 1e6));
    if (done >= total) {
      sb.append("in ").append(duration(seconds));
    } else if (rate > 0) {
      sb.append("ETA ").append(duration((total - done) / rate));
    } else {
      sb.append("ETA --:--");
    }
    return sb.toString();
  }

  /** "1.5 GiB", "300.0 MiB", "12 B". */
  public static String bytes(long n) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = n;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u == 0 ? n + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  /** "0:07", "12:34", "1:02:03". */
  static String duration(double seconds) {
    long s = (long) Math.ceil(seconds);
    return s >= 3600
        ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}

package org.clonecast.server.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A registry of metric families, rendered in the Prometheus text format (version 0.0.4): one {@code
 * # HELP} and {@code # TYPE} line per family, then its samples. Values are read when the page is
 * rendered, from suppliers the subsystems register; nothing is copied in between.
 *
 * <p>Thread-safe: families are registered at start-up and rendered from any thread.
 */
public final class Metrics {
  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

  /** One value of a family, with its labels (in order). */
  public record Sample(Map<String, String> labels, double value) {
    public Sample {
      labels = new LinkedHashMap<>(labels);
      for (String l : labels.keySet()) {
        if (!LABEL.matcher(l).matches() || l.startsWith("__"))
          throw new IllegalArgumentException("label name " + l);
      }
    }

    public static Sample of(double value) {
      return new Sample(Map.of(), value);
    }

    public static Sample of(String label, String labelValue, double value) {
      return new Sample(Map.of(label, labelValue), value);
    }
  }

  private record Family(String name, String type, String help, Supplier<List<Sample>> samples) {}

  private final Map<String, Family> families = new LinkedHashMap<>();

  /** A counter: only ever goes up (while the daemon runs). */
  public Metrics counter(String name, String help, DoubleSupplier value) {
    return family(name, "counter", help, () -> List.of(Sample.of(value.getAsDouble())));
  }

  /** A gauge: a value that goes up and down. */
  public Metrics gauge(String name, String help, DoubleSupplier value) {
    return family(name, "gauge", help, () -> List.of(Sample.of(value.getAsDouble())));
  }

  /**
   * A family of labelled samples.
   *
   * @param type counter or gauge
   */
  public synchronized Metrics family(
      String name, String type, String help, Supplier<List<Sample>> samples) {
    if (!NAME.matcher(name).matches()) throw new IllegalArgumentException("metric name " + name);
    if (!type.equals("counter") && !type.equals("gauge"))
      throw new IllegalArgumentException("metric type " + type);
    if (type.equals("counter") && !name.endsWith("_total")) {
      throw new IllegalArgumentException(
          "counter " + name + " must end in _total (Prometheus naming)");
    }
    if (families.putIfAbsent(name, new Family(name, type, Objects.requireNonNull(help), samples))
        != null) {
      throw new IllegalArgumentException("metric " + name + " registered twice");
    }
    return this;
  }

  /**
   * The exposition text. A family whose supplier fails is left out (with a comment saying so), so
   * one broken subsystem cannot take the whole page down.
   */
  public String render() {
    List<Family> snapshot;
    synchronized (this) {
      snapshot = new ArrayList<>(families.values());
    }
    StringBuilder out = new StringBuilder(4096);
    for (Family f : snapshot) {
      List<Sample> samples;
      try {
        samples = f.samples().get();
      } catch (RuntimeException e) {
        out.append("# ")
            .append(f.name())
            .append(" unavailable: ")
            .append(oneLine(String.valueOf(e.getMessage())))
            .append('\n');
        continue;
      }
      out.append("# HELP ").append(f.name()).append(' ').append(escapeHelp(f.help())).append('\n');
      out.append("# TYPE ").append(f.name()).append(' ').append(f.type()).append('\n');
      for (Sample s : samples) {
        out.append(f.name());
        if (!s.labels().isEmpty()) {
          out.append('{');
          boolean first = true;
          for (Map.Entry<String, String> l : s.labels().entrySet()) {
            if (!first) out.append(',');
            first = false;
            out.append(l.getKey()).append("=\"").append(escapeLabel(l.getValue())).append('"');
          }
          out.append('}');
        }
        out.append(' ').append(number(s.value())).append('\n');
      }
    }
    return out.toString();
  }

  static String number(double v) {
    if (Double.isNaN(v)) return "NaN";
    if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
    return String.format(Locale.ROOT, "%s", v);
  }

  /** Label values escape backslash, double quote and newline. */
  static String escapeLabel(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** HELP text escapes backslash and newline. */
  static String escapeHelp(String v) {
    return v.replace("\\", "\\\\").replace("\n", "\\n");
  }

  private static String oneLine(String v) {
    return v.replace('\n', ' ');
  }
}

package org.clonecast.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class MetricsTest {
  @Test
  void rendersTheTextFormatWithCurrentValues() {
    AtomicLong n = new AtomicLong(3);
    Metrics m =
        new Metrics()
            .counter("clonecast_x_total", "Things done.", n::get)
            .gauge("clonecast_ratio", "A ratio.", () -> 0.25)
            .family(
                "clonecast_by_kind_total",
                "counter",
                "Per kind.",
                () ->
                    List.of(
                        Metrics.Sample.of("kind", "a", 1),
                        Metrics.Sample.of("kind", "b\"\\\n", 2)));
    n.set(5);
    assertEquals(
        """
        # HELP clonecast_x_total Things done.
        # TYPE clonecast_x_total counter
        clonecast_x_total 5
        # HELP clonecast_ratio A ratio.
        # TYPE clonecast_ratio gauge
        clonecast_ratio 0.25
        # HELP clonecast_by_kind_total Per kind.
        # TYPE clonecast_by_kind_total counter
        clonecast_by_kind_total{kind="a"} 1
        clonecast_by_kind_total{kind="b\\"\\\\\\n"} 2
        """,
        m.render());
  }

  @Test
  void aFailingFamilyIsLeftOutNotTheWholePage() {
    Metrics m =
        new Metrics()
            .family(
                "clonecast_broken",
                "gauge",
                "Broken.",
                () -> {
                  throw new IllegalStateException("database\nlocked");
                })
            .gauge("clonecast_fine", "Fine.", () -> 1);
    String page = m.render();
    assertTrue(page.contains("# clonecast_broken unavailable: database locked\n"), page);
    assertTrue(page.contains("clonecast_fine 1\n"), page);
  }

  @Test
  void namesAndTypesAreChecked() {
    Metrics m = new Metrics();
    assertThrows(
        IllegalArgumentException.class,
        () -> m.counter("clonecast_requests", "no _total", () -> 1));
    assertThrows(IllegalArgumentException.class, () -> m.gauge("1bad", "name", () -> 1));
    assertThrows(
        IllegalArgumentException.class,
        () -> m.family("clonecast_h", "histogram", "type", List::of));
    m.gauge("clonecast_once", "once", () -> 1);
    assertThrows(IllegalArgumentException.class, () -> m.gauge("clonecast_once", "twice", () -> 1));
    assertThrows(
        IllegalArgumentException.class, () -> new Metrics.Sample(Map.of("__reserved", "x"), 1));
  }

  @Test
  void numbersAreWrittenAsPrometheusReadsThem() {
    assertEquals("42", Metrics.number(42));
    assertEquals("0.5", Metrics.number(0.5));
    assertEquals("NaN", Metrics.number(Double.NaN));
    assertEquals("+Inf", Metrics.number(Double.POSITIVE_INFINITY));
    assertEquals("1.0E20", Metrics.number(1e20));
  }
}

package org.clonecast.common.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
  private final AtomicLong now = new AtomicLong();
  private final ByteArrayOutputStream sink = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(sink, true, StandardCharsets.UTF_8);

  private String printed() {
    return sink.toString(StandardCharsets.UTF_8);
  }

  @Test
  void barShowsPercentRateAndEta() {
    ProgressBar bar = new ProgressBar("create", 200_000_000, out, ProgressBar.Mode.BAR, now::get);
    now.set(1_000_000_000L);
    bar.update(100_000_000);
    assertEquals(
        "\rcreate [###############...............]  50%  95.4 MiB / 190.7 MiB  100.0 MB/s  ETA 0:01",
        printed());
    now.set(1_050_000_000L);
    bar.update(150_000_000); // within 100 ms of the last draw: not drawn
    assertEquals(1, printed().split("\r", -1).length - 1);
    now.set(2_000_000_000L);
    bar.update(200_000_000);
    bar.finish();
    assertTrue(
        printed()
            .endsWith(
                "] 100%  190.7 MiB / 190.7 MiB  100.0 MB/s  in 0:02" + System.lineSeparator()),
        printed());
    bar.update(5);
    bar.finish();
    assertEquals(3, printed().split("\r", -1).length - 1);
  }

  @Test
  void offPrintsNothingAndLinesPrintPlainLines() {
    ProgressBar off = new ProgressBar("x", 10, out, false);
    off.update(5);
    off.finish();
    assertEquals("", printed());
    ProgressBar lines = new ProgressBar("verify", 10, out, ProgressBar.Mode.LINES, now::get);
    now.set(6_000_000_000L);
    lines.update(5);
    lines.update(10); // within 5 s of the last line: not printed
    lines.finish();
    String[] l = printed().split(System.lineSeparator());
    assertEquals(2, l.length);
    assertTrue(l[0].startsWith("verify  50%  5 B / 10 B"), l[0]);
    assertTrue(l[1].startsWith("verify 100%"), l[1]);
  }

  @Test
  void formats() {
    assertEquals("0 B", ProgressBar.bytes(0));
    assertEquals("1.0 KiB", ProgressBar.bytes(1024));
    assertEquals("1.5 GiB", ProgressBar.bytes(3L << 29));
    assertEquals("0:07", ProgressBar.duration(6.2));
    assertEquals("1:02:03", ProgressBar.duration(3723));
    assertEquals(
        "empty 100%",
        new ProgressBar("empty", 0, out, ProgressBar.Mode.LINES, now::get)
            .render(0)
            .substring(0, 10));
  }
}

package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The check's warm-up: bounded by its chunk count, and it stops between chunks when asked. */
class TargetCheckWarmUpTest {
  @Test
  void itRunsItsChunksAndNoMore() {
    assertEquals(6, TargetCheck.warmUp(6, 64 * 1024, () -> false));
    assertEquals(0, TargetCheck.warmUp(0, 64 * 1024, () -> false));
  }

  @Test
  void itStopsBetweenChunksWhenAsked() {
    AtomicInteger asked = new AtomicInteger();
    // Asked before each chunk: true on the fourth ask, so three chunks were done.
    assertEquals(3, TargetCheck.warmUp(100, 64 * 1024, () -> asked.incrementAndGet() > 3));
    assertEquals(0, TargetCheck.warmUp(100, 64 * 1024, () -> true), "stopped before it began");
  }
}

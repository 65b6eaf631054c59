package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TargetCheckTest {
  /** The warm-up hashes on a daemon thread of its own, which ends by itself (bounded wait). */
  @Test
  void theWarmUpRunsAsideAndEnds() throws Exception {
    Thread t = TargetCheck.warmUp();
    assertTrue(t.isDaemon(), "never keeps the JVM alive");
    assertEquals("hash-warm-up", t.getName());
    t.join(60_000);
    assertFalse(t.isAlive(), "the warm-up ended");
  }
}

package org.clonecast.server.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class UploadTimesTest {
  private static final long S = 1_000_000_000L;

  @Test
  void overlappingRequestsCountOnceAndGapsAreIdle() {
    UploadTimes t = new UploadTimes();
    // Two requests overlap from 1 s to 3 s, then nothing until a third from 5 s to 6 s.
    t.started(1 * S);
    t.started(2 * S);
    t.ended(1 * S, S / 2, S / 10, 3 * S);
    t.ended(2 * S, S / 2, 0, 3 * S);
    t.started(5 * S);
    t.waited();
    t.ended(5 * S, S / 4, 0, 6 * S);
    // Two uploads of 1000 bytes and a reference the pool served with 700 of its own.
    t.counted(1000, 0);
    t.counted(1000, 0);
    t.counted(0, 700);
    assertEquals(2000, t.received());
    assertEquals(1, t.referenced());
    assertEquals(5 * S, t.span());
    assertEquals(3 * S, t.busy());
    assertEquals(
        "3 chunks in 5.0 s: handling chunks 3.0 s, idle between them 2.0 s;"
            + " checking 1.3 thread-s, appending 0.1 s; 1 arrived before their predecessor;"
            + " 2000 bytes received, 1 chunks (700 bytes) taken from the pool by reference",
        t.summary());
  }

  @Test
  void nothingYetIsZero() {
    UploadTimes t = new UploadTimes();
    assertEquals(0, t.span());
    assertEquals(
        "0 chunks in 0.0 s: handling chunks 0.0 s, idle between them 0.0 s;"
            + " checking 0.0 thread-s, appending 0.0 s; 0 arrived before their predecessor;"
            + " 0 bytes received, 0 chunks (0 bytes) taken from the pool by reference",
        t.summary());
    assertThrows(IllegalStateException.class, () -> t.ended(0, 0, 0, 1));
  }
}

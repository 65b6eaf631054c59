package org.clonecast.server.limit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Per-client and shared buckets against a fake clock. */
class RateLimiterTest {
  private static final long S = 1_000_000_000L;
  private final AtomicLong now = new AtomicLong(7 * S);

  @Test
  void oneClientIsHeldToItsOwnRateWhileOthersGoOn() {
    RateLimiter<String> l = new RateLimiter<>(new RateLimiter.Limits(1, 2, 100, 100, 10), now::get);
    assertTrue(l.tryAcquire("rogue"));
    assertTrue(l.tryAcquire("rogue"));
    for (int i = 0; i < 50; i++) {
      assertFalse(l.tryAcquire("rogue"));
    }
    assertTrue(l.tryAcquire("node"), "another client is not affected");
    assertEquals(50, l.refused());
    now.addAndGet(S);
    assertTrue(l.tryAcquire("rogue"), "one more a second");
    assertFalse(l.tryAcquire("rogue"));
  }

  @Test
  void theSharedBucketHoldsBackAFloodFromManyClients() {
    RateLimiter<Integer> l = new RateLimiter<>(new RateLimiter.Limits(1, 1, 1, 5, 1000), now::get);
    int allowed = 0;
    for (int client = 0; client < 100; client++) {
      if (l.tryAcquire(client)) allowed++;
    }
    assertEquals(5, allowed, "the shared burst");
    // A client refused by the shared bucket keeps its own token for later.
    now.addAndGet(S);
    assertTrue(l.tryAcquire(99));
  }

  @Test
  void clientBucketsAreBoundedAndTheOldestForgotten() {
    RateLimiter<Integer> l = new RateLimiter<>(new RateLimiter.Limits(1, 1, 1e6, 1e6, 3), now::get);
    assertTrue(l.tryAcquire(1));
    assertFalse(l.tryAcquire(1));
    for (int client = 2; client < 1000; client++) {
      l.tryAcquire(client);
      assertTrue(l.clients() <= 3, "at most 3 buckets: " + l.clients());
    }
    assertFalse(l.tryAcquire(999), "the newest bucket is kept");
    assertTrue(l.tryAcquire(1), "forgotten: starts full again");
  }

  @Test
  void perMinuteSpreadsARateOverAMinute() {
    RateLimiter.Limits lim = RateLimiter.Limits.perMinute(30, 8);
    assertEquals(0.5, lim.perClient(), 1e-9);
    assertEquals(30, lim.clientBurst(), 1e-9);
    assertEquals(4, lim.overall(), 1e-9);
    assertEquals(240, lim.overallBurst(), 1e-9);
    assertThrows(IllegalArgumentException.class, () -> new RateLimiter.Limits(0, 1, 1, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new RateLimiter.Limits(1, 1, 1, 1, 0));
  }
}

package org.clonecast.server.limit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The bucket against a fake clock: bursts, refill, the cap, a clock that jumps. */
class TokenBucketTest {
  private static final long S = 1_000_000_000L;

  @Test
  void aFullBucketAllowsItsBurstThenTheRate() {
    TokenBucket b = new TokenBucket(3, 2, 0);
    assertTrue(b.tryTake(0));
    assertTrue(b.tryTake(0));
    assertTrue(b.tryTake(0));
    assertFalse(b.tryTake(0), "burst of 3 used");
    assertFalse(b.tryTake(S / 4), "half a token after 0.25 s at 2/s");
    assertTrue(b.tryTake(S / 2), "one token after 0.5 s");
    assertFalse(b.tryTake(S / 2));
  }

  @Test
  void refillStopsAtTheCapacity() {
    TokenBucket b = new TokenBucket(2, 1, 0);
    assertTrue(b.tryTake(0));
    assertTrue(b.tryTake(0));
    assertEquals(2.0, b.tokens(1000 * S), 1e-9, "an idle hour refills only to the capacity");
    assertEquals(2.0, b.tokens(Long.MAX_VALUE), 1e-9, "no overflow after a huge gap");
  }

  @Test
  void aClockGoingBackGrantsNothing() {
    TokenBucket b = new TokenBucket(1, 1, 10 * S);
    assertTrue(b.tryTake(10 * S));
    assertFalse(b.tryTake(5 * S));
    assertFalse(b.tryTake(10 * S + S / 2), "the half second counts from the latest time seen");
    assertTrue(b.tryTake(11 * S));
  }

  @Test
  void giveBackReturnsATokenUpToTheCapacity() {
    TokenBucket b = new TokenBucket(1, 0.001, 0);
    assertTrue(b.tryTake(0));
    b.giveBack();
    b.giveBack();
    assertTrue(b.tryTake(0));
    assertFalse(b.tryTake(0), "giving back never exceeds the capacity");
  }

  @Test
  void invalidRatesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new TokenBucket(0.5, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new TokenBucket(1, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new TokenBucket(Double.NaN, 1, 0));
    assertThrows(
        IllegalArgumentException.class, () -> new TokenBucket(1, Double.POSITIVE_INFINITY, 0));
  }
}

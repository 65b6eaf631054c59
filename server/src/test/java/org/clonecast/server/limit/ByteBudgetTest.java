package org.clonecast.server.limit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class ByteBudgetTest {
  static final long S = 1_000_000_000L;

  @Test
  void aRequestTakesItsWholeSizeAndTheNextWaitsForTheDebt() {
    ByteBudget b = new ByteBudget(1_000_000, 100_000, 0);
    assertEquals(0, b.take(1_000_000, 0), "not in debt: granted whole");
    assertEquals(-900_000, b.available(0), 1e-6);
    long wait = b.take(1, 0);
    assertEquals(900_000_000L, wait, 1_000, "0.9 s pays the debt back at 1 MB/s");
    assertEquals(0, b.take(500_000, wait));
    assertTrue(b.take(1, wait) > 0);
  }

  @Test
  void overAnySpanTheGrantedBytesStayWithinTheRatePlusBurstAndOneRequest() {
    long rate = 2_000_000;
    long burst = 256_000;
    long max = 1 << 20;
    ByteBudget b = new ByteBudget(rate, burst, 0);
    Random r = new Random(7);
    long now = 0;
    long granted = 0;
    for (int i = 0; i < 10_000; i++) {
      now += r.nextInt(5_000_000); // several clients asking at random moments
      long n = 1 + r.nextInt((int) max);
      if (b.take(n, now) == 0) granted += n;
      assertTrue(
          granted <= rate * now / S + burst + max,
          "granted " + granted + " by " + now + " ns exceeds the rate");
    }
    assertTrue(granted > rate * now / S - max, "the rate was used: " + granted);
  }

  @Test
  void aQuietSpellRefillsOnlyUpToTheBurstAndAClockGoingBackGrantsNothing() {
    ByteBudget b = new ByteBudget(1_000, 500, 0);
    b.take(500, 0);
    assertEquals(500, b.available(100 * S), 1e-9);
    b.take(400, 100 * S);
    assertEquals(100, b.available(50 * S), 1e-9);
    assertThrows(IllegalArgumentException.class, () -> new ByteBudget(0, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> b.take(-1, 0));
  }
}

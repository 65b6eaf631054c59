package org.clonecast.server.limit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.clonecast.server.limit.Slots.Result;
import org.junit.jupiter.api.Test;

/** Both limits, release, and the operator's way past the overall one. */
class SlotsTest {
  @Test
  void oneClientGetsItsShareAndOthersTheRest() {
    Slots<String> s = new Slots<>(5, 2);
    assertEquals(Result.TAKEN, s.take("rogue"));
    assertEquals(Result.TAKEN, s.take("rogue"));
    for (int i = 0; i < 100; i++) {
      assertEquals(Result.CLIENT_FULL, s.take("rogue"));
    }
    assertEquals(2, s.held());
    assertEquals(Result.TAKEN, s.take("a"));
    assertEquals(Result.TAKEN, s.take("b"));
    assertEquals(Result.TAKEN, s.take("c"));
    assertEquals(Result.FULL, s.take("d"));
    s.release("rogue");
    assertEquals(1, s.held("rogue"));
    assertEquals(Result.TAKEN, s.take("d"), "a released slot is free again");
    s.release("rogue");
    assertEquals(0, s.held("rogue"));
    assertThrows(IllegalStateException.class, () -> s.release("rogue"), "nothing left to release");
  }

  @Test
  void beyondMaxStillCountsAndKeepsTheClientsOwnLimit() {
    Slots<String> s = new Slots<>(1, 2);
    assertEquals(Result.TAKEN, s.take("node"));
    assertEquals(Result.FULL, s.take("other"));
    assertEquals(Result.TAKEN, s.take("operator", true));
    assertEquals(Result.TAKEN, s.take("operator", true));
    assertEquals(Result.CLIENT_FULL, s.take("operator", true));
    assertEquals(3, s.held());
    assertThrows(IllegalArgumentException.class, () -> new Slots<String>(0, 1));
  }
}

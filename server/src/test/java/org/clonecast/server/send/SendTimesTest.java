package org.clonecast.server.send;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.clonecast.server.send.SendTimes.Wait;
import org.junit.jupiter.api.Test;

class SendTimesTest {
  private static final long MS = 1_000_000L;

  @Test
  void eachGapCountsAsWhatThePumpSaidItWaitsForAndEachRunAsBusy() {
    SendTimes t = new SendTimes();
    t.runStarted(1000 * MS); // the first run: nothing before it is counted
    t.waitFor(Wait.JOIN);
    t.runEnded(1000 * MS, 1002 * MS);
    t.runStarted(1500 * MS);
    t.waitFor(Wait.PACE);
    t.runEnded(1500 * MS, 1501 * MS);
    t.runStarted(1511 * MS);
    t.waitFor(Wait.ANSWERS);
    t.waitFor(Wait.SOCKET); // the last word counts
    t.runEnded(1511 * MS, 1514 * MS);
    t.runStarted(1520 * MS);

    assertEquals(498 * MS, t.nanos(Wait.JOIN));
    assertEquals(10 * MS, t.nanos(Wait.PACE));
    assertEquals(6 * MS, t.nanos(Wait.SOCKET));
    assertEquals(0, t.nanos(Wait.ANSWERS));
    assertEquals(6 * MS, t.busyNanos());
    assertEquals(
        "0.50 s waiting for receivers, 0.01 s paced, 0.00 s nothing to send, 0.01 s socket full, 0.01 s busy",
        t.describe(Wait.JOIN, Wait.PACE, Wait.IDLE, Wait.SOCKET));
  }
}

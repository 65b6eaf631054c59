package org.clonecast.protocol.pace;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class DeliveryRateTest {
  static final long MS = 1_000_000L;

  @Test
  void unknownUntilTwoHeartbeats() {
    DeliveryRate d = new DeliveryRate();
    assertEquals(-1, d.packetsPerSecond());
    d.onCount(0, 0);
    assertEquals(-1, d.packetsPerSecond());
    d.onCount(500, 100 * MS);
    assertEquals(5_000, d.packetsPerSecond(), 1e-9);
  }

  @Test
  void spansTheLastSixHeartbeats() {
    DeliveryRate d = new DeliveryRate();
    // 1000 packets a second for a second, then 4000: the rate over the last half second.
    for (int i = 0; i <= 10; i++) d.onCount(i * 100L, i * 100 * MS);
    for (int i = 11; i <= 15; i++) d.onCount(1000 + (i - 10) * 400L, i * 100 * MS);
    assertEquals(4_000, d.packetsPerSecond(), 1e-9);
  }

  @Test
  void aHeartbeatReadLateAndTheNextOnTimeDoNotLookFaster() {
    DeliveryRate d = new DeliveryRate();
    d.onCount(0, 50 * MS); // sent at 0, read 50 ms late
    d.onCount(1_000, 100 * MS); // sent at 100 ms and read on time: 50 ms apart at the sender
    // At the receiver they were 100 ms apart at least: 10 000 a second, not 20 000.
    assertEquals(10_000, d.packetsPerSecond(), 1e-9);
  }

  @Test
  void heartbeatsBeforeTheDataCameAreLeftOut() {
    DeliveryRate d = new DeliveryRate();
    // Four heartbeats with nothing (the receiver waits for the data), then 2000 a second.
    for (int i = 0; i < 4; i++) d.onCount(0, i * 100 * MS);
    d.onCount(200, 400 * MS);
    d.onCount(400, 500 * MS);
    // From the wait's last heartbeat on: 400 in 200 ms, not 400 in 500 ms.
    assertEquals(2_000, d.packetsPerSecond(), 1e-9);
  }

  @Test
  void aReceiverThatGetsNothingDeliversNothing() {
    DeliveryRate d = new DeliveryRate();
    for (int i = 0; i < 8; i++) d.onCount(700, i * 100 * MS);
    assertEquals(0, d.packetsPerSecond(), 1e-9);
  }

  @Test
  void aPauseInsideTheSpanStillCounts() {
    DeliveryRate d = new DeliveryRate();
    // Data, a pause of two heartbeats, data: only a pause at the span's start is left out.
    long[] counts = {0, 100, 200, 200, 200, 300};
    for (int i = 0; i < counts.length; i++) d.onCount(counts[i], i * 100 * MS);
    assertEquals(600, d.packetsPerSecond(), 1e-9);
  }

  @Test
  void aCountThatGoesBackStartsOver() {
    DeliveryRate d = new DeliveryRate();
    d.onCount(5_000, 0);
    d.onCount(6_000, 100 * MS);
    d.onCount(10, 200 * MS); // a restarted receiver
    assertEquals(-1, d.packetsPerSecond());
    d.onCount(1_010, 300 * MS);
    assertEquals(10_000, d.packetsPerSecond(), 1e-9);
  }
}

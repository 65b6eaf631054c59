package org.clonecast.protocol.pace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PacerTest {
  static final long MS = 1_000_000L;

  @Test
  void tokenBucketReleasesBytesAtTheRate() {
    Pacer p = new Pacer(new Pacer.Settings(10_000_000, 1_000_000, 10_000_000, 100_000, 30), 0);
    assertEquals(100_000, p.available(0));
    p.consume(100_000);
    assertEquals(0, p.available(0));
    assertEquals(50_000, p.available(5 * MS)); // 10 MB/s for 5 ms
    assertEquals(100_000, p.available(50 * MS)); // capped at the burst
    p.consume(150_000);
    assertEquals(5 * MS, p.nanosUntil(0, 50 * MS)); // 50 000 bytes in debt
  }

  @Test
  void theBucketGrowsWithTheRateUnlessItsDepthIsFixed() {
    // 1 GB/s for 4 ms is 4 MB: after an idle wait all of it may leave at once.
    Pacer timed =
        new Pacer(new Pacer.Settings(1_000_000_000, 1_000_000, 1_000_000_000, 100_000, 30), 0);
    assertEquals(4_000_000, timed.available(1_000 * MS));
    // A fixed depth: 100 kB, however long the wait and however high the rate.
    Pacer fixed =
        new Pacer(new Pacer.Settings(1_000_000_000, 1_000_000, 1_000_000_000, 100_000, 30, 0), 0);
    assertEquals(100_000, fixed.available(1_000 * MS));
    fixed.consume(100_000);
    assertEquals(10_000, fixed.available(1_000 * MS + 10_000)); // 10 µs at 1 GB/s
  }

  @Test
  void climbsToTheCapWithoutLoss() {
    Pacer p = new Pacer(Pacer.Settings.adaptive(200_000_000), 0);
    for (int i = 1; i <= 100; i++) p.onLoss(0, p.rateBytesPerSecond() / 10, i * 100 * MS);
    assertEquals(200_000_000, p.rateBytesPerSecond());
  }

  @Test
  void steadyRandomLossIsNotCongestion() {
    Pacer p = new Pacer(Pacer.Settings.adaptive(200_000_000), 0);
    for (int i = 1; i <= 100; i++)
      p.onLoss(
          20,
          p.rateBytesPerSecond() / 10,
          i * 100 * MS); // 2% at every rate: a bad cable, not a full queue
    assertEquals(200_000_000, p.rateBytesPerSecond());
  }

  @Test
  void lossAboveTheFloorBacksOffAndRecovers() {
    Pacer p = new Pacer(Pacer.Settings.adaptive(200_000_000), 0);
    long t = 0;
    for (int i = 0; i < 60; i++) p.onLoss(0, p.rateBytesPerSecond() / 10, t += 100 * MS);
    long before = p.rateBytesPerSecond();
    for (int i = 0; i < 10; i++) p.onLoss(150, p.rateBytesPerSecond() / 10, t += 100 * MS);
    long during = p.rateBytesPerSecond();
    assertTrue(during < before / 2, "rate " + during + " after congestion, " + before + " before");
    for (int i = 0; i < 60; i++) p.onLoss(0, p.rateBytesPerSecond() / 10, t += 100 * MS);
    assertTrue(p.rateBytesPerSecond() > during * 2, "recovered to " + p.rateBytesPerSecond());
  }

  @Test
  void anApplicationLimitedSenderDoesNotInflateItsRate() {
    Pacer p = new Pacer(Pacer.Settings.adaptive(1_000_000_000), 0);
    long t = 0;
    for (int i = 0; i < 100; i++) p.onLoss(0, 2_000_000, t += 100 * MS); // only 20 MB/s go out
    assertTrue(p.rateBytesPerSecond() < 100_000_000, "rate " + p.rateBytesPerSecond());
  }

  @Test
  void backOffStartsFromWhatWasActuallySent() {
    Pacer p = new Pacer(new Pacer.Settings(1_000_000_000, 1_000_000, 500_000_000, 65536, 30), 0);
    p.onLoss(300, 35_000_000, 100 * MS); // 350 MB/s of the 500 went out, and 30% was lost
    assertEquals(280_000_000, p.rateBytesPerSecond()); // four fifths of what was sent
    p.onLoss(300, 1_000_000, 400 * MS); // a stalled sender sent little: halve, no further
    assertEquals(140_000_000, p.rateBytesPerSecond());
    for (int i = 1; i <= 5; i++) p.onLoss(0, p.rateBytesPerSecond() / 10, (400 + 100 * i) * MS);
    assertTrue(
        p.rateBytesPerSecond() > 200_000_000, "climbs back quickly: " + p.rateBytesPerSecond());
  }

  @Test
  void neverBelowTheMinimum() {
    Pacer p = new Pacer(new Pacer.Settings(100_000_000, 5_000_000, 50_000_000, 65536, 30), 0);
    for (int i = 1; i <= 200; i++) p.onLoss(900, p.rateBytesPerSecond() * 3 / 10, i * 300 * MS);
    assertEquals(5_000_000, p.rateBytesPerSecond());
  }

  /**
   * Receivers that take all they are sent, whose first delivery reports lag (they were busy: a
   * delta session's check): the start is cut to the least rate, and the rate climbs back as the
   * delivery follows it, within about a second, not the four seconds a sixteenth per sample took (a
   * 5 % delta session's data phase in bench/delta.sh).
   */
  @Test
  void afterTheStartsCutTheRateClimbsBackAsFastAsTheDeliveryFollows() {
    Pacer p = new Pacer(Pacer.Settings.adaptiveWithDelivery(125_000_000), 0);
    long t = 0;
    for (int i = 0; i < 4; i++)
      p.onLoss(0, 0, p.rateBytesPerSecond() / 10, 300_000, t += 100 * MS); // reports lag
    assertEquals(1_000_000, p.rateBytesPerSecond(), "cut to the least rate");
    long sent = p.rateBytesPerSecond() / 10;
    int samples = 0;
    while (p.rateBytesPerSecond() < Pacer.DELIVERY_START_BYTES_PER_SECOND && samples < 100) {
      long delivered = sent * 10; // what went out in the sample before, all taken
      sent = p.rateBytesPerSecond() / 10;
      p.onLoss(0, 0, sent, delivered, t += 100 * MS);
      samples++;
    }
    assertTrue(samples <= 15, samples + " samples back to the start rate");
  }
}

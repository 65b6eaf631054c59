package org.clonecast.agent.unicast;

import static org.clonecast.agent.unicast.FallbackTrigger.Action.FETCH;
import static org.clonecast.agent.unicast.FallbackTrigger.Action.FETCH_BEHIND;
import static org.clonecast.agent.unicast.FallbackTrigger.Action.PROBE;
import static org.clonecast.agent.unicast.FallbackTrigger.Action.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * When a node stops waiting for multicast: silence while the multicast runs, never before; or
 * multicast that arrives but completes nothing the node lacks, for three times the bound.
 */
class FallbackTriggerTest {
  static final long S = 1_000_000_000L;
  static final long T0 = 1_000 * S;

  FallbackTrigger trigger() {
    return new FallbackTrigger(Duration.ofSeconds(10), Duration.ofSeconds(1), T0);
  }

  @Test
  void aNodeThatHearsNothingAsksThenFetchesOnceTheMulticastHasRunTheBound() {
    FallbackTrigger t = trigger();
    assertEquals(WAIT, t.decide(0, 0, T0 + 9 * S));
    assertEquals(PROBE, t.decide(0, 0, T0 + 10 * S), "silent for the bound: is the multicast on?");
    assertEquals(WAIT, t.decide(0, 0, T0 + 10 * S + S / 2), "asks at most once a second");
    t.transferRunning(12_000, T0 + 10 * S);
    assertEquals(FETCH, t.decide(0, 0, T0 + 10 * S + S / 2), "it ran 12 s and brought nothing");
  }

  @Test
  void aSessionWaitingForItsReceiversIsNoReasonToFallBack() {
    FallbackTrigger t = trigger();
    assertEquals(PROBE, t.decide(0, 0, T0 + 30 * S));
    t.notStarted(1_000_000_000L, T0 + 30 * S);
    assertEquals(WAIT, t.decide(0, 0, T0 + 30 * S + S / 2));
    assertEquals(PROBE, t.decide(0, 0, T0 + 31 * S));
    t.transferRunning(500, T0 + 31 * S); // it just started: multicast gets its full bound
    assertEquals(WAIT, t.decide(0, 0, T0 + 40 * S));
    assertEquals(FETCH, t.decide(0, 0, T0 + 41 * S));
  }

  @Test
  void multicastDataPutsOffAndEndsTheFallback() {
    FallbackTrigger t = trigger();
    t.decide(0, 0, T0 + 10 * S);
    t.transferRunning(10_000, T0 + 10 * S);
    assertEquals(FETCH, t.decide(T0 + S, 0, T0 + 11 * S), "cut after a second of data");
    assertEquals(WAIT, t.decide(T0 + 11 * S, 0, T0 + 11 * S + 1), "data again: wait");
    assertEquals(WAIT, t.decide(T0 + 11 * S, 0, T0 + 20 * S));
    assertEquals(FETCH, t.decide(T0 + 11 * S, 0, T0 + 21 * S), "silent again for the bound");
    assertEquals(10 * S, t.silentNanos(T0 + 11 * S, T0 + 21 * S));
    assertThrows(
        IllegalArgumentException.class,
        () -> new FallbackTrigger(Duration.ZERO, Duration.ofSeconds(1), 0));
  }

  @Test
  void multicastThatCompletesNothingTheNodeLacksMakesItFallBehindAfterThreeBounds() {
    FallbackTrigger t = trigger();
    // Packets every moment (the carousel serves others' chunks, or its losses beat the FEC), but
    // the last chunk it lacked came at T0 + 5 s.
    assertEquals(WAIT, t.decide(T0 + 34 * S, T0 + 5 * S, T0 + 34 * S));
    assertEquals(FETCH_BEHIND, t.decide(T0 + 35 * S, T0 + 5 * S, T0 + 35 * S));
    assertEquals(30 * S, t.stalledNanos(T0 + 5 * S, T0 + 35 * S));
    // A chunk completed by multicast: back to the carousel, for three bounds more.
    assertEquals(WAIT, t.decide(T0 + 36 * S, T0 + 36 * S, T0 + 36 * S));
    assertEquals(WAIT, t.decide(T0 + 65 * S, T0 + 36 * S, T0 + 65 * S));
    assertEquals(FETCH_BEHIND, t.decide(T0 + 66 * S, T0 + 36 * S, T0 + 66 * S));
  }

  @Test
  void aLagIsCountedFromTheReceivesStartAndNeedsMulticastToArrive() {
    FallbackTrigger t = trigger();
    assertEquals(WAIT, t.decide(T0 + 29 * S, 0, T0 + 29 * S), "nothing completed yet, 29 s in");
    assertEquals(FETCH_BEHIND, t.decide(T0 + 30 * S, 0, T0 + 30 * S));
    // No packet at all is silence, which asks the daemon first (not a lag).
    assertEquals(PROBE, trigger().decide(0, 0, T0 + 40 * S));
  }
}

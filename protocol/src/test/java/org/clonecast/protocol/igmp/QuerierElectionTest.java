package org.clonecast.protocol.igmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class QuerierElectionTest {
  private static final long S = 1_000_000_000L;
  private static final int SELF = 0x0a4d0001; // 10.77.0.1
  private static final int LOWER = 0x0a000001; // 10.0.0.1
  private static final int HIGHER = 0x0a4d000b; // 10.77.0.11
  private static final long QI = 125 * S;
  private static final long QRI = 10 * S;

  @Test
  void startsWithTwoQueriesAQuarterIntervalApartThenOneEveryInterval() {
    QuerierElection e = new QuerierElection(SELF, QI, QRI, 0);
    assertTrue(e.queryDue(0));
    assertFalse(e.queryDue(1), "not twice at once");
    assertEquals(QI / 4, e.nextDeadline());
    assertFalse(e.queryDue(QI / 4 - 1));
    assertTrue(e.queryDue(QI / 4));
    assertEquals(QI / 4 + QI, e.nextDeadline());
    assertTrue(e.queryDue(QI / 4 + QI));
    assertEquals(QI / 4 + 2 * QI, e.nextDeadline());
  }

  @Test
  void standsDownForALowerAddressAndTakesOverWhenItFallsSilent() {
    QuerierElection e = new QuerierElection(SELF, QI, QRI, 0);
    assertTrue(e.queryDue(0));
    assertTrue(e.heardQuery(LOWER, 10 * S), "a lower address wins the election");
    assertFalse(e.querier());
    assertEquals(LOWER, e.otherQuerier());
    long present = 2 * QI + QRI / 2;
    assertFalse(e.queryDue(10 * S + present - 1), "silent while the other querier is present");
    assertFalse(e.heardQuery(LOWER, 100 * S), "already stood down");
    assertEquals(100 * S + present, e.nextDeadline(), "each of its queries restarts the interval");
    assertFalse(e.queryDue(100 * S + present - 1));
    assertTrue(e.queryDue(100 * S + present), "the other fell silent: query at once");
    assertTrue(e.querier());
    assertEquals(100 * S + present + QI, e.nextDeadline(), "then every interval");
  }

  @Test
  void higherAddressesOurOwnAndProxyQueriesDoNotCount() {
    QuerierElection e = new QuerierElection(SELF, QI, QRI, 0);
    assertFalse(e.heardQuery(HIGHER, S));
    assertFalse(e.heardQuery(SELF, S));
    assertFalse(e.heardQuery(0, S), "0.0.0.0: a snooping switch's proxy query");
    assertTrue(e.querier());
    assertTrue(e.queryDue(S));
  }

  @Test
  void addressesCompareUnsigned() {
    QuerierElection high = new QuerierElection(0xc0a80001, QI, QRI, 0); // 192.168.0.1
    assertTrue(high.heardQuery(LOWER, 0), "10.0.0.1 is lower than 192.168.0.1");
    QuerierElection low = new QuerierElection(LOWER, QI, QRI, 0);
    assertFalse(low.heardQuery(0xc0a80001, 0), "192.168.0.1 is higher than 10.0.0.1");
  }

  @Test
  void theResponseTimeMustFitTheInterval() {
    assertThrows(IllegalArgumentException.class, () -> new QuerierElection(SELF, QI, QI, 0));
    assertThrows(IllegalArgumentException.class, () -> new QuerierElection(SELF, 0, QRI, 0));
  }

  @Test
  void autoListensOneIntervalThenStartsAsAStartingQuerier() {
    QuerierElection e = new QuerierElection(QuerierElection.Mode.AUTO, SELF, QI, QRI, 0);
    assertFalse(e.querier(), "listening first");
    assertFalse(e.queryDue(0));
    assertEquals(QI, e.nextDeadline(), "long enough to hear a querier that queries every QI");
    assertFalse(e.queryDue(QI - 1));
    assertTrue(e.queryDue(QI), "nobody heard: query");
    assertTrue(e.querier());
    assertEquals(QI + QI / 4, e.nextDeadline(), "the startup queries, a quarter apart");
    assertTrue(e.queryDue(QI + QI / 4));
    assertEquals(QI + QI / 4 + QI, e.nextDeadline());
    assertFalse(e.heardQuery(HIGHER, 2 * QI), "once querying, a higher address does not count");
    assertTrue(e.querier());
  }

  @Test
  void autoDefersToAnyQuerierAlreadyThereEvenAHigherOne() {
    QuerierElection e = new QuerierElection(QuerierElection.Mode.AUTO, SELF, QI, QRI, 0);
    assertFalse(e.heardQuery(HIGHER, S), "not querying yet: nothing to stand down from");
    assertFalse(e.querier());
    assertEquals(HIGHER, e.otherQuerier());
    long present = 2 * QI + QRI / 2;
    assertFalse(e.queryDue(QI), "it is there: keep listening");
    assertFalse(e.heardQuery(HIGHER, 100 * S));
    assertFalse(e.queryDue(100 * S + present - 1));
    assertTrue(e.queryDue(100 * S + present), "it fell silent: take over");
    assertEquals(100 * S + present + QI, e.nextDeadline(), "one query, then every interval");
    assertFalse(e.heardQuery(HIGHER, 101 * S), "the RFC's rules from here: it is higher");
    assertTrue(e.heardQuery(LOWER, 102 * S), "a lower one still wins");
  }

  @Test
  void offHasNoElection() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new QuerierElection(QuerierElection.Mode.OFF, SELF, QI, QRI, 0));
  }
}

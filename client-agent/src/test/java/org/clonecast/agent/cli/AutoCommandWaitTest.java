package org.clonecast.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.junit.jupiter.api.Test;

/**
 * {@code auto --wait-for-session}: a node booted ahead of its session registers again until the
 * server has something for it, within a bound; on a clock of its own (no real sleeping).
 */
class AutoCommandWaitTest {
  private static final Duration POLL = Duration.ofSeconds(1);
  private static final Duration LONG_POLL = Duration.ofSeconds(25);

  /** A clock that moves only when the command pauses, and the answers the server gives in turn. */
  private static final class Script {
    long now;
    final Deque<Assignment> answers = new ArrayDeque<>();
    final List<Duration> pauses = new ArrayList<>();
    final List<String> told = new ArrayList<>();
    final List<Duration> holds = new ArrayList<>();

    /** Whether the server holds a registration it has nothing for (a long poll), as asked. */
    boolean holding;

    /** A holding server's answer other than None comes this far into the hold. */
    Duration wokenAfter = Duration.ofMillis(300);

    int registrations;

    Assignment run(Duration wait) throws Exception {
      return AutoCommand.awaitAssignment(
          hold -> {
            registrations++;
            holds.add(hold);
            Assignment a = answers.size() > 1 ? answers.poll() : answers.peek();
            if (holding && !hold.isZero()) {
              now += (a instanceof Assignment.None ? hold : wokenAfter).toNanos();
            }
            return a;
          },
          wait,
          POLL,
          LONG_POLL,
          () -> now,
          d -> {
            pauses.add(d);
            now += d.toNanos();
          },
          told::add);
    }
  }

  private static Assignment reimage() {
    return new Assignment.Reimage(
        3, null, 1 << 20, "10.0.0.1:9000", "/dev/sda", "node01", null, Map.of(), false);
  }

  @Test
  void withoutAWaitOneRegistrationDecides() throws Exception {
    Script s = new Script();
    s.answers.add(new Assignment.None("no session is waiting for node01"));
    assertInstanceOf(Assignment.None.class, s.run(Duration.ZERO));
    assertEquals(1, s.registrations);
    assertEquals(List.of(), s.pauses);
    assertEquals(List.of(), s.told, "nothing to wait for, nothing said about waiting");
  }

  @Test
  void aServerThatDoesNotHoldIsAskedAtMostEverySecond() throws Exception {
    Script s = new Script();
    s.answers.add(new Assignment.None("no session is waiting for node01"));
    s.answers.add(new Assignment.None("no session is waiting for node01"));
    s.answers.add(new Assignment.None("no session is waiting for node01"));
    s.answers.add(reimage());
    Assignment a = s.run(Duration.ofSeconds(60));
    assertEquals(reimage(), a);
    assertEquals(4, s.registrations);
    // The first ask answered at once as always; the next ones ask for a hold, which this (older)
    // server ignores: they come a second apart.
    assertEquals(
        List.of(Duration.ZERO, LONG_POLL, LONG_POLL, LONG_POLL), s.holds, "holds asked for");
    assertEquals(List.of(POLL, POLL), s.pauses);
    assertEquals(List.of("no session is waiting for node01"), s.told, "said once");
  }

  @Test
  void aHoldingServerIsAskedAgainAtOnceAndItsAnswerTakenWhenItComes() throws Exception {
    Script s = new Script();
    s.holding = true;
    s.answers.add(new Assignment.None("no session is waiting for node01"));
    s.answers.add(new Assignment.None("no session is waiting for node01"));
    s.answers.add(new Assignment.None("no session is waiting for node01"));
    s.answers.add(reimage());
    Assignment a = s.run(Duration.ofSeconds(600));
    assertEquals(reimage(), a);
    assertEquals(List.of(Duration.ZERO, LONG_POLL, LONG_POLL, LONG_POLL), s.holds);
    assertEquals(List.of(), s.pauses, "never a pause of its own");
    assertEquals(LONG_POLL.multipliedBy(2).plus(s.wokenAfter).toNanos(), s.now);
    assertEquals(List.of("no session is waiting for node01"), s.told, "said once, at the start");
  }

  @Test
  void theLastHoldAskedForEndsWithTheWait() throws Exception {
    Script s = new Script();
    s.holding = true;
    s.answers.add(new Assignment.None(null));
    assertInstanceOf(Assignment.None.class, s.run(Duration.ofMillis(60_500)));
    // 25 + 25 + 10 s held, the last half second waited out here and asked without a hold.
    assertEquals(
        List.of(Duration.ZERO, LONG_POLL, LONG_POLL, Duration.ofSeconds(10), Duration.ZERO),
        s.holds);
    assertEquals(List.of(Duration.ofMillis(500)), s.pauses);
    assertEquals(Duration.ofMillis(60_500).toNanos(), s.now);
  }

  @Test
  void anAssignmentOtherThanNoneEndsTheWaitAtOnce() throws Exception {
    Script s = new Script();
    s.answers.add(new Assignment.Fail("no disk"));
    assertInstanceOf(Assignment.Fail.class, s.run(Duration.ofSeconds(60)));
    assertEquals(1, s.registrations);
  }

  @Test
  void theWaitIsBoundedAndItsLastPauseEndsAtTheBound() throws Exception {
    Script s = new Script();
    s.answers.add(new Assignment.None(null));
    assertInstanceOf(Assignment.None.class, s.run(Duration.ofMillis(2500)));
    // Registrations at 0 (twice: the first answered at once, the second asking for a hold this
    // server ignores), 1 s and at the bound itself (2.5 s): none asked after it.
    assertEquals(4, s.registrations);
    assertEquals(
        List.of(Duration.ZERO, Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ZERO),
        s.holds);
    assertEquals(List.of(POLL, POLL, Duration.ofMillis(500)), s.pauses);
    assertEquals(List.of("no session"), s.told);
    assertEquals(Duration.ofMillis(2500).toNanos(), s.now);
  }

  @Test
  void theWaitComesFromTheFlagThenTheKernelCommandLineElseThereIsNone() {
    Map<String, String> kernel = Map.of("clonecast.wait-for-session", "900");
    assertEquals(Duration.ofSeconds(60), AutoCommand.waitForSession(60L, kernel));
    assertEquals(Duration.ofSeconds(900), AutoCommand.waitForSession(null, kernel));
    assertEquals(Duration.ZERO, AutoCommand.waitForSession(null, Map.of()));
    for (String bad : new String[] {"-1", "abc", "1.5", "86401", ""}) {
      CliException e =
          assertThrows(
              CliException.class,
              () -> AutoCommand.waitForSession(null, Map.of("clonecast.wait-for-session", bad)),
              bad);
      assertEquals(ExitCodes.USAGE, e.exitCode());
      assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
  }

  @Test
  void theSignatureWarmUpRunsItsRoundsAndStopsWhenTheSessionComes() {
    assertEquals(AutoCommand.WARM_UP_SIGNATURES, AutoCommand.warmUpSignatures(new AtomicBoolean()));
    assertEquals(0, AutoCommand.warmUpSignatures(new AtomicBoolean(true)));
  }
}

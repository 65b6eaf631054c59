package org.clonecast.protocol.mcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Whole-session behaviour of the sender and receiver machines, without I/O (see {@link McastSimulation}). */
class McastSimulationTest {

  @Test
  void losslessReceiversGetEverythingInOnePassWithoutRepairs() {
    McastSimulation sim = new McastSimulation(1, 40, McastSimulation.settings(3));
    for (int i = 0; i < 3; i++) sim.add("r" + i, 0, 0, Long.MAX_VALUE);
    assertTrue(sim.run(2_000_000), "session did not complete");
    sim.receivers.forEach(r -> assertEquals(SenderMachine.ReceiverState.SUCCEEDED, sim.sender.receiver(r.id).state()));
    assertEquals(0, sim.sender.repairSymbolsSent());
    assertEquals(sim.sourceSymbolsOfOnePass(), sim.sender.sourceSymbolsSent());
  }

  @Test
  void independentLossIsRepairedByFecWithSmallOverhead() {
    McastSimulation sim = new McastSimulation(2, 60, McastSimulation.settings(8));
    for (int i = 0; i < 8; i++) sim.add("r" + i, 0.02, 0, Long.MAX_VALUE);
    assertTrue(sim.run(5_000_000), "session did not complete");
    sim.receivers.forEach(r -> assertEquals(SenderMachine.ReceiverState.SUCCEEDED, sim.sender.receiver(r.id).state(), r.name));
    long pass = sim.sourceSymbolsOfOnePass();
    long extra = sim.sender.sourceSymbolsSent() - pass + sim.sender.repairSymbolsSent();
    // Plain retransmission of every packet any of 8 receivers lost at 2% would cost ~15% (1 - 0.98^8);
    // merged FEC rows cost about the worst receiver's loss per stripe (6.5% measured with this seed).
    assertTrue(extra < pass * 0.08, "overhead " + extra + " of " + pass + ": " + (sim.sender.sourceSymbolsSent() - pass) + " resent, " + sim.sender.repairSymbolsSent() + " repair");
    assertTrue(sim.sender.repairSymbolsSent() > 0, "loss should have been repaired with FEC");
  }

  @Test
  void lateJoinerCatchesUpOnTheNextPass() {
    McastSimulation sim = new McastSimulation(3, 50, McastSimulation.settings(2));
    sim.add("early", 0, 0, Long.MAX_VALUE);
    sim.add("early2", 0, 0, Long.MAX_VALUE);
    McastSimulation.Sim late = sim.add("late", 0, 100_000_000L, Long.MAX_VALUE);
    assertTrue(sim.run(5_000_000), "session did not complete");
    assertEquals(SenderMachine.ReceiverState.SUCCEEDED, sim.sender.receiver(late.id).state());
    assertTrue(sim.sender.passes() >= 1, "the late joiner needed a second pass");
    assertEquals(sim.sender.receiver(late.id).symbolsNeeded(), sim.sender.receiver(1).symbolsNeeded());
  }

  @Test
  void deadReceiverIsDroppedAndTheRestFinish() {
    McastSimulation sim = new McastSimulation(4, 40, McastSimulation.settings(3));
    sim.add("a", 0.01, 0, Long.MAX_VALUE);
    sim.add("b", 0.01, 0, Long.MAX_VALUE);
    McastSimulation.Sim dead = sim.add("dead", 0, 0, 20_000_000L);
    assertTrue(sim.run(5_000_000), "session did not complete");
    SenderMachine.Receiver d = sim.sender.receiver(dead.id);
    assertEquals(SenderMachine.ReceiverState.FAILED, d.state());
    assertTrue(d.reason().startsWith("silent"), d.reason());
    for (McastSimulation.Sim s : sim.receivers) {
      if (s != dead) assertEquals(SenderMachine.ReceiverState.SUCCEEDED, sim.sender.receiver(s.id).state());
    }
  }

  @Test
  void lossyLaggardDoesNotDrawRepairsWhileOthersAreActive() {
    McastSimulation sim = new McastSimulation(5, 150, McastSimulation.settings(3));
    sim.add("a", 0, 0, Long.MAX_VALUE);
    sim.add("b", 0, 0, Long.MAX_VALUE);
    McastSimulation.Sim slow = sim.add("slow", 0.6, 0, Long.MAX_VALUE);
    assertTrue(sim.run(20_000_000), "session did not complete");
    assertEquals(SenderMachine.ReceiverState.SUCCEEDED, sim.sender.receiver(slow.id).state());
    // The fast ones finished after about one pass: the laggard's 60% loss did not set their pace.
    SenderMachine.Receiver a = sim.sender.receiver(1);
    SenderMachine.Receiver s = sim.sender.receiver(slow.id);
    assertTrue(a.endedNanos() < s.endedNanos(), "fast receiver finished first");
    long onePass = sim.sourceSymbolsOfOnePass() * McastSimulation.PACKET_NANOS;
    assertTrue(a.endedNanos() - a.joinedNanos() < onePass * 3 / 2,
        "fast receiver took " + (a.endedNanos() - a.joinedNanos()) + " ns, one pass is " + onePass);
  }
}

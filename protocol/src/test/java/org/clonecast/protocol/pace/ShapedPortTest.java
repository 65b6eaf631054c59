package org.clonecast.protocol.pace;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.LongToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * The pacer behind a switch port shaped with {@code tc tbf} (as bench/lib/lab.sh shapes the lab's
 * ports), in virtual time: a deterministic model of the port (a token bucket of 10 ms with a queue
 * of 50 ms; what finds the queue full is dropped) and of a receiver behind it that loses a fixed
 * share of what arrives at random (seeded), reports a STATUS every 100 ms and is sampled by the
 * sender as {@code SendDriver} does. Drops at the port are the sender's own doing; the receiver's
 * random loss is the path's.
 *
 * <p>Every test here fails with the loss-only pacing (no delivery rate, the 60 MB/s start): its
 * port carries 87–96 % of its rate and drops 7–22 % of the packets sent; with the delivery rate
 * 99.9–100 % and 0.6–1.7 % (measured 2026-12-07, docs/protocol.md §6).
 */
class ShapedPortTest {
  static final long MS = 1_000_000L;
  static final long SECOND = 1_000 * MS;
  static final int PACKET = 1452;

  /** One run's figures. */
  record Run(
      long sentPackets,
      long portDrops,
      long pathDrops,
      List<Double> sentPerSecond,
      List<Double> throughPortPerSecond) {

    /** Share of the packets sent that the port dropped. */
    double selfLoss() {
      return (double) portDrops / sentPackets;
    }

    /** Mean of {@code perSecond} from second {@code from} on, as a share of {@code rate}. */
    static double mean(List<Double> perSecond, int from, double rate) {
      return perSecond.subList(from, perSecond.size()).stream()
              .mapToDouble(x -> x)
              .average()
              .orElseThrow()
          / rate;
    }
  }

  /** tc tbf: rate, burst and a queue of {@code latency} worth of bytes. */
  static final class Tbf {
    double rate;
    final double burst;
    final double limit;
    double tokens;
    long at;
    final ArrayDeque<Integer> queue = new ArrayDeque<>();
    long queuedBytes;

    Tbf(double bytesPerSecond) {
      rate = bytesPerSecond;
      burst = Math.max(bytesPerSecond * 0.010, 32 * 1024); // as lab_rate sets it
      limit = bytesPerSecond * 0.050 + burst; // tc's limit from "latency 50ms"
      tokens = burst;
    }

    /** Packets (sequence numbers) that leave the port by {@code now}. */
    void drain(long now, List<Integer> out) {
      tokens = Math.min(burst, tokens + rate * (now - at) / 1e9);
      at = now;
      while (!queue.isEmpty() && tokens >= PACKET) {
        tokens -= PACKET;
        queuedBytes -= PACKET;
        out.add(queue.removeFirst());
      }
    }

    /** False: the queue is full and the packet is dropped. */
    boolean offer(int seq) {
      if (queuedBytes + PACKET > limit) return false;
      queue.addLast(seq);
      queuedBytes += PACKET;
      return true;
    }
  }

  /**
   * Runs a session of {@code seconds} against a port of {@code portBytesPerSecond} and a receiver
   * that loses {@code pathLoss} of what gets through it; {@code rateAt} may change the port's rate
   * (null: fixed).
   */
  static Run run(
      long seed,
      double portBytesPerSecond,
      double pathLoss,
      int seconds,
      LongToDoubleFunction rateAt) {
    return run(seed, portBytesPerSecond, pathLoss, 1, 0, seconds, rateAt);
  }

  /**
   * As above, with the path's loss in bursts of {@code lossBurst} packets (the lab's nftables rule
   * drops whole GSO batches) and each STATUS read by the sender up to {@code jitterMs} late (a
   * loaded host).
   */
  static Run run(
      long seed,
      double portBytesPerSecond,
      double pathLoss,
      int lossBurst,
      int jitterMs,
      int seconds,
      LongToDoubleFunction rateAt) {
    Random random = new Random(seed);
    long now = 0;
    // The sender's adaptive pacing as McastSender sets it, capped at 1 Gbit/s.
    Pacer pacer = new Pacer(Pacer.Settings.adaptiveWithDelivery(125_000_000), now);
    Tbf port = new Tbf(portBytesPerSecond);
    DeliveryRate delivery = new DeliveryRate();
    int seq = 0;
    long sent = 0;
    long portDrops = 0;
    long pathDrops = 0;
    // The receiver: its counts, as ReceiverMachine keeps them, and its STATUS's smoothed loss as
    // SenderMachine smooths it.
    long received = 0;
    int highest = -1;
    int statusSeq = -1;
    long statusReceived = 0;
    int smoothedLoss = -1;
    long sentAtSample = 0;
    long sentThisSecond = 0;
    long throughThisSecond = 0;
    List<Double> sentPerSecond = new ArrayList<>();
    List<Double> throughPerSecond = new ArrayList<>();
    List<Integer> out = new ArrayList<>();
    int lossGroup = -1;
    boolean groupLost = false;
    long statusReadAt = -1;
    int statusLoss = 0;
    long statusCount = 0;
    for (long tick = 1; tick <= seconds * 1000L; tick++) {
      now = tick * MS;
      if (rateAt != null) port.rate = rateAt.applyAsDouble(now);
      // The sender wakes every millisecond and sends what the bucket allows.
      while (pacer.available(now) >= PACKET) {
        pacer.consume(PACKET);
        sent++;
        sentThisSecond++;
        port.drain(now, out);
        if (!port.offer(seq++)) portDrops++;
      }
      port.drain(now, out);
      for (int s : out) {
        throughThisSecond++;
        if (s / lossBurst != lossGroup) {
          lossGroup = s / lossBurst;
          groupLost = random.nextDouble() < pathLoss;
        }
        if (groupLost) {
          pathDrops++;
          continue;
        }
        received++;
        highest = s;
      }
      out.clear();
      // The receiver's STATUS, 37 ms out of step with the sender's samples.
      if (tick % 100 == 37 && highest >= 0) {
        int expected = highest - statusSeq;
        long got = received - statusReceived;
        int loss = expected <= 0 ? 0 : (int) Math.max(0, 1000 - got * 1000 / expected);
        statusSeq = highest;
        statusReceived = received;
        statusLoss = loss;
        statusCount = received;
        statusReadAt = now + (jitterMs == 0 ? 0 : random.nextInt(jitterMs + 1) * MS);
      }
      if (statusReadAt >= 0 && now >= statusReadAt) {
        statusReadAt = -1;
        smoothedLoss = smoothedLoss < 0 ? statusLoss : (smoothedLoss * 7 + statusLoss * 3) / 10;
        delivery.onCount(statusCount, now);
      }
      if (tick % 100 == 0 && smoothedLoss >= 0) {
        double pps = delivery.packetsPerSecond();
        pacer.onLoss(
            0,
            smoothedLoss,
            (sent - sentAtSample) * PACKET,
            pps < 0 ? -1 : (long) (pps * PACKET),
            now);
        sentAtSample = sent;
      }
      if (tick % 1000 == 0) {
        sentPerSecond.add((double) sentThisSecond * PACKET);
        throughPerSecond.add((double) throughThisSecond * PACKET);
        sentThisSecond = 0;
        throughThisSecond = 0;
      }
    }
    return new Run(sent, portDrops, pathDrops, sentPerSecond, throughPerSecond);
  }

  private static void assertNearThePort(Run r, double port, String what) {
    // From the third second on the port carries at least 95 % of its rate, and no single second
    // falls below 90 % (each cut is to just under the bottleneck, not to four fifths).
    double through = Run.mean(r.throughPortPerSecond(), 3, port);
    assertTrue(through >= 0.95, what + ": the port carried " + through + " of its rate");
    for (int s = 3; s < r.throughPortPerSecond().size(); s++) {
      double x = r.throughPortPerSecond().get(s) / port;
      assertTrue(x >= 0.90, what + ": second " + s + " the port carried " + x);
    }
    // The sender does not keep sending far past it: the excess is what the port drops.
    double sentShare = Run.mean(r.sentPerSecond(), 3, port);
    assertTrue(sentShare <= 1.03, what + ": the sender sent " + sentShare + " of the port's rate");
    assertTrue(
        r.selfLoss() < 0.03,
        what + ": the port dropped " + r.selfLoss() + " of the packets sent (self-inflicted loss)");
  }

  @Test
  void behindA50MbitPortTheRateConvergesJustUnderIt() {
    double port = 50e6 / 8;
    assertNearThePort(run(1, port, 0, 60, null), port, "50 Mbit/s");
  }

  @Test
  void behindA200MbitPortTheRateConvergesJustUnderIt() {
    double port = 200e6 / 8;
    assertNearThePort(run(2, port, 0, 60, null), port, "200 Mbit/s");
  }

  @Test
  void aSteadyPathLossIsNotTakenForTheBottleneck() {
    for (double port : new double[] {50e6 / 8, 200e6 / 8}) {
      Run r = run(3, port, 0.01, 60, null);
      assertNearThePort(r, port, "1 % path loss at " + port * 8 / 1e6 + " Mbit/s");
      // The receiver's own random loss is there, about 1 % of what it is sent.
      double path = (double) r.pathDrops() / (r.sentPackets() - r.portDrops());
      assertTrue(path > 0.008 && path < 0.012, "path loss " + path);
    }
  }

  @Test
  void aHeavierPathLossStillLeavesTheRateAtThePort() {
    double port = 50e6 / 8;
    Run r = run(4, port, 0.04, 60, null);
    assertNearThePort(r, port, "4 % path loss");
  }

  /**
   * The lab's "1 % loss": its nftables rule drops whole GSO batches (here 32 packets), so a STATUS
   * says 0 or several percent, and the sender reads each STATUS up to 60 ms late, as on a loaded
   * host. Neither the bursts nor the late reads may be taken for a narrower or a wider port.
   */
  @Test
  void burstyPathLossAndLateStatusesAreNeitherCongestionNorBandwidth() {
    for (double port : new double[] {50e6 / 8, 200e6 / 8}) {
      Run r = run(7, port, 0.01, 32, 60, 60, null);
      assertNearThePort(r, port, "bursty loss and late STATUS at " + port * 8 / 1e6 + " Mbit/s");
    }
  }

  @Test
  void aPortThatSlowsDownIsFollowedWithinTwoSeconds() {
    double port = 200e6 / 8;
    Run r = run(5, port, 0.01, 60, now -> now < 30 * SECOND ? port : port / 2);
    // Two seconds after the change the sender sends no more than the slower port carries.
    double after = Run.mean(r.sentPerSecond().subList(0, 60), 32, port / 2);
    assertTrue(after <= 1.03, "after the port halved the sender sent " + after + " of it");
    double through = Run.mean(r.throughPortPerSecond(), 32, port / 2);
    assertTrue(through >= 0.95, "the slower port carried " + through + " of its rate");
    // The two seconds until the faster port's delivery leaves the window cost about half of what
    // is sent then: 1/30 of this run. Loss alone: 8.4 %.
    assertTrue(r.selfLoss() < 0.045, "self-inflicted loss " + r.selfLoss());
  }

  @Test
  void aPortThatSpeedsUpIsFoundWithinTenSeconds() {
    double port = 50e6 / 8;
    Run r = run(6, port, 0, 60, now -> now < 20 * SECOND ? port : port * 2);
    double through = Run.mean(r.throughPortPerSecond(), 30, port * 2);
    assertTrue(through >= 0.95, "the faster port carried " + through + " of its rate");
    assertTrue(r.selfLoss() < 0.03, "self-inflicted loss " + r.selfLoss());
  }
}

package org.clonecast.protocol.udpcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine.Block;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine.Send;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine.State;
import org.clonecast.protocol.udpcast.UdpcastSenderMachine.To;
import org.clonecast.protocol.wire.Ipv4;
import org.junit.jupiter.api.Test;

/**
 * {@link UdpcastSenderMachine} against simulated stock receivers (they answer REQACK exactly as
 * udp-receiver does, §1.7), with loss, reordering, duplicates, silence and DISCONNECT; no I/O.
 */
class UdpcastSenderMachineTest {
  private static final Inet4Address GROUP = Ipv4.fromInt(0xEA4D0001);
  private static final long MS = 1_000_000L;
  private static final int BS = Udpcast.DEFAULT_BLOCKSIZE;

  private static UdpcastSenderMachine.Settings settings(int min) {
    return new UdpcastSenderMachine.Settings(
        BS, 112, min, 60_000 * MS, 3_000 * MS, 1_000 * MS, 20 * MS, true, Optional.empty(), false);
  }

  private static UdpcastSenderMachine.Settings fec(int min, String spec, boolean async) {
    UdpcastFecSpec f = UdpcastFecSpec.parse(spec);
    return new UdpcastSenderMachine.Settings(
        BS,
        f.sliceBlocks(),
        min,
        (async ? 3_000 : 60_000) * MS,
        3_000 * MS,
        1_000 * MS,
        20 * MS,
        true,
        Optional.of(f),
        async);
  }

  @Test
  void fecBlocksFollowEachSliceOnTheFirstTransmissionOnly() {
    // 8x4/16: slices of 128 blocks, 32 FEC blocks after each; two receivers, one loses block 3.
    long total = 128L * BS + 10 * BS + 100;
    var m = new UdpcastSenderMachine(fec(2, "8x4/16", false), total, GROUP, 0);
    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
    m.receive(12, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
    m.drainControl();
    m.tick(30 * MS);
    m.tick(60 * MS);
    assertTrue(m.started());
    List<Block> slice0 = new ArrayList<>();
    for (Block b = m.nextBlock(61 * MS); b != null; b = m.nextBlock(61 * MS)) {
      slice0.add(b);
      if (b.sliceNo() == 1 && b.fec()) break;
    }
    List<Block> data0 = slice0.stream().filter(b -> b.sliceNo() == 0 && !b.fec()).toList();
    List<Block> fec0 = slice0.stream().filter(b -> b.sliceNo() == 0 && b.fec()).toList();
    assertEquals(128, data0.size());
    assertEquals(32, fec0.size());
    assertEquals(slice0.indexOf(fec0.get(0)), 128, "FEC right after the slice's data");
    for (int i = 0; i < 32; i++) {
      Block f = fec0.get(i);
      assertEquals(i, f.blockNo());
      assertEquals(8, f.stripes());
      assertEquals(128 * BS, f.sliceBytes());
      assertEquals(0, f.offset(), "FEC blocks carry the slice's offset");
      assertEquals(BS, f.length());
    }
    List<Send> c = m.drainControl();
    assertTrue(c.stream().anyMatch(s -> s.message() instanceof ReqAck ra && ra.sliceNo() == 0));
    BitSet have = new BitSet();
    have.set(0, 128);
    have.clear(3);
    m.receive(11, new Ok(0), 62 * MS);
    m.receive(12, new Retransmit(0, 0, Bitmap1024.fromBitSet(have)), 62 * MS);
    Block again = null;
    for (Block b = m.nextBlock(63 * MS); b != null; b = m.nextBlock(63 * MS)) {
      if (b.resend()) again = b;
    }
    assertEquals(3, again.blockNo());
    assertFalse(again.fec(), "retransmissions are data blocks, as stock sends them");
  }

  @Test
  void fecSpecParsesLikeUdpSender() {
    assertEquals(new UdpcastFecSpec(8, 8, 128), UdpcastFecSpec.parse("8x8/128"));
    assertEquals(new UdpcastFecSpec(8, 16, 128), UdpcastFecSpec.parse("8x16"));
    assertEquals(new UdpcastFecSpec(16, 4, 64), UdpcastFecSpec.parse("16x4"));
    assertEquals(1024, UdpcastFecSpec.parse("8x8").sliceBlocks());
    for (String bad :
        new String[] {"", "8", "8x", "x8", "8x8/", "16x8/128", "8x0", "8x200", "0x8"}) {
      try {
        UdpcastFecSpec.parse(bad);
        throw new AssertionError("accepted " + bad);
      } catch (IllegalArgumentException expected) {
        assertTrue(expected.getMessage().contains("FEC"), expected.getMessage());
      }
    }
  }

  @Test
  void asyncSendsEverySliceOnceWithFecAndEndsWithRepeatedZeroByteFec() {
    long total = 2L * 1024 * BS + 7 * BS;
    var m = new UdpcastSenderMachine(fec(1, "8x8/128", true), total, GROUP, 0);
    m.tick(0);
    Hello h = (Hello) m.drainControl().get(0).message();
    assertEquals(
        Udpcast.CAPS_DEFAULT | Udpcast.CAP_ASYNC, h.capabilities(), "HELLO announces async");
    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 10 * MS);
    assertTrue(m.drainControl().isEmpty(), "passive receivers: no CONNECT_REPLY");
    m.tick(2_999 * MS);
    assertFalse(m.started());
    m.tick(3_000 * MS);
    assertTrue(m.started(), "async starts after the wait, with nobody registered");
    assertEquals(0, m.pointToPointIp(), "async is never point-to-point");
    m.drainControl(); // the HELLO due at the same tick
    Map<Integer, int[]> perSlice = new HashMap<>();
    int endFec = 0;
    int n = 0;
    for (Block b = m.nextBlock(3_001 * MS);
        b != null || !m.complete();
        b = m.nextBlock(3_001 * MS)) {
      assertTrue(++n < 10_000, "async never ends");
      assertTrue(m.drainControl().isEmpty(), "no REQACK with FEC in async mode");
      if (b == null) continue;
      if (b.sliceBytes() == 0) {
        assertTrue(b.fec());
        endFec++;
        continue;
      }
      int[] counts = perSlice.computeIfAbsent(b.sliceNo(), k -> new int[2]);
      counts[b.fec() ? 1 : 0]++;
    }
    assertEquals(3, perSlice.size());
    assertEquals(1024, perSlice.get(0)[0]);
    assertEquals(64, perSlice.get(0)[1]);
    assertEquals(7, perSlice.get(2)[0]);
    assertEquals(64, perSlice.get(2)[1]);
    assertEquals(3 * 64, endFec, "the end marker, three times");
    assertEquals(2L * 1024 + 7 + 3 * 64, m.blocksSent());
  }

  @Test
  void asyncWithoutFecEndsWithRepeatedEmptyReqAck() {
    var m =
        new UdpcastSenderMachine(
            new UdpcastSenderMachine.Settings(
                BS, 112, 1, 0, 3_000 * MS, 1_000 * MS, 20 * MS, true, Optional.empty(), true),
            200L * BS,
            GROUP,
            0);
    m.tick(0);
    m.drainControl();
    assertTrue(m.started());
    int data = 0;
    int endAcks = 0;
    for (int i = 0; i < 1000 && !m.complete(); i++) {
      Block b = m.nextBlock(MS);
      for (Send s : m.drainControl()) {
        ReqAck ra = (ReqAck) s.message();
        assertEquals(0, ra.bytes());
        endAcks++;
      }
      if (b != null) {
        assertFalse(b.fec());
        data++;
      }
    }
    assertTrue(m.complete());
    assertEquals(200, data);
    assertEquals(3, endAcks);
  }

  @Test
  void helloRepeatsUntilTheStartAndEveryIpKeepsItsNumber() {
    var m = new UdpcastSenderMachine(settings(2), 10 * BS, GROUP, 0);
    m.tick(0);
    List<Send> out = m.drainControl();
    assertEquals(1, out.size());
    assertEquals(To.BROADCAST, out.get(0).to());
    assertEquals(Hello.of(GROUP, BS), out.get(0).message());
    m.tick(500 * MS);
    assertTrue(m.drainControl().isEmpty(), "HELLO once a second, not every tick");
    m.tick(1000 * MS);
    assertInstanceOf(Hello.class, m.drainControl().get(0).message());

    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT, 212992), 1001 * MS);
    m.receive(12, new ConnectReq(Udpcast.CAPS_DEFAULT, 212992), 1002 * MS);
    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT, 212992), 1003 * MS);
    List<Send> replies = m.drainControl();
    assertEquals(
        List.of(0, 1, 0), replies.stream().map(s -> ((ConnectReply) s.message()).clNr()).toList());
    assertEquals(List.of(11, 12, 11), replies.stream().map(Send::ip).toList());
    assertEquals(McastAddr.ofIpv4(GROUP), ((ConnectReply) replies.get(0).message()).mcastAddr());

    m.tick(1010 * MS);
    assertFalse(m.started(), "waits for the IGMP join to settle");
    m.tick(1023 * MS);
    assertInstanceOf(
        Hello.class, m.drainControl().get(0).message(), "a last HELLO before the start");
    assertFalse(m.started());
    m.receive(12, new ConnectReq(Udpcast.CAPS_DEFAULT, 212992), 1024 * MS);
    assertEquals(
        1, ((ConnectReply) m.drainControl().get(0).message()).clNr(), "a lost reply is repeated");
    m.tick(1040 * MS);
    assertFalse(m.started(), "the settle time restarts with the repeated reply");
    m.tick(1044 * MS);
    assertTrue(m.started(), "starts as soon as the rule holds, not on a 2 s poll");
    assertEquals(0, m.pointToPointIp(), "two receivers: multicast");
    m.tick(3000 * MS);
    assertTrue(m.drainControl().isEmpty(), "no HELLO after the start");
    m.receive(13, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 3001 * MS);
    assertTrue(m.drainControl().isEmpty(), "a late receiver is not answered");
  }

  /**
   * clonecast's extension: a receiver that offers CAP_CLONECAST gets it back and the image length,
   * and the hash before every REQACK of the end; a stock receiver (no bit) gets neither.
   */
  @Test
  void onlyReceiversOfferingTheExtensionGetImageInfo() {
    long total = 3L * BS;
    var m = new UdpcastSenderMachine(settings(2), total, GROUP, 0);
    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT | Udpcast.CAP_CLONECAST, 0), 0);
    m.receive(12, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
    List<Send> out = m.drainControl();
    assertEquals(3, out.size(), out.toString());
    assertEquals(
        Udpcast.CAPS_DEFAULT | Udpcast.CAP_CLONECAST,
        ((ConnectReply) out.get(0).message()).capabilities());
    assertEquals(new Send(To.RECEIVER, 11, new ImageInfo(total, Optional.empty())), out.get(1));
    assertEquals(
        Udpcast.CAPS_DEFAULT,
        ((ConnectReply) out.get(2).message()).capabilities(),
        "a stock receiver sees stock bits");
    byte[] hash = new byte[32];
    hash[31] = 7;
    m.imageHash(Sha256.of(hash));
    m.tick(100 * MS);
    m.drainControl();
    m.tick(200 * MS);
    m.drainControl();
    assertTrue(m.started());
    List<Send> sends = new ArrayList<>();
    for (int i = 0; i < 10 && m.nextBlock(300 * MS) != null; i++) {
      sends.addAll(m.drainControl());
    }
    sends.addAll(m.drainControl());
    m.receive(11, new Ok(0), 301 * MS);
    m.receive(12, new Ok(0), 301 * MS);
    for (int i = 0; i < 3; i++) {
      assertEquals(null, m.nextBlock(302 * MS), "no data left");
      sends.addAll(m.drainControl());
    }
    int end = sends.size() - 1;
    assertEquals(0, ((ReqAck) sends.get(end).message()).bytes(), "the end: " + sends);
    assertEquals(
        new Send(To.RECEIVER, 11, new ImageInfo(total, Optional.of(Sha256.of(hash)))),
        sends.get(end - 1),
        "the hash right before it");
    assertEquals(
        1,
        sends.stream().filter(x -> x.message() instanceof ImageInfo).count(),
        "to receiver 11 only: " + sends);
  }

  @Test
  void maxWaitStartsWithFewerAndOneReceiverGoesPointToPoint() {
    var m = new UdpcastSenderMachine(settings(3), 10 * BS, GROUP, 0);
    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
    m.tick(59_000 * MS);
    assertFalse(m.started());
    m.tick(60_000 * MS);
    m.tick(60_020 * MS);
    assertTrue(m.started());
    assertEquals(11, m.pointToPointIp());
  }

  @Test
  void slicesAreFullBlocksThenAShortOneThenAnEmptyOne() {
    long total = 2L * 112 * BS + 5 * BS + 64;
    Sim sim = new Sim(total, 1, 0, 1);
    sim.run();
    assertEquals(List.of(112 * BS, 112 * BS, 5 * BS + 64, 0), sim.sliceBytes());
    sim.assertEveryoneHasEverything();
    assertEquals(0, sim.m.blocksResent());
  }

  @Test
  void anExactMultipleStillEndsWithAnEmptySlice() {
    Sim sim = new Sim(112L * BS, 2, 0, 2);
    sim.run();
    assertEquals(List.of(112 * BS, 0), sim.sliceBytes());
    sim.assertEveryoneHasEverything();
  }

  @Test
  void lossReorderingAndDuplicatesAreRepairedAndTheWindowHolds() {
    Sim sim = new Sim(3_000_000, 3, 0.10, 3);
    sim.reorder = true;
    sim.duplicate = 0.05;
    sim.run();
    sim.assertEveryoneHasEverything();
    assertTrue(sim.m.blocksResent() > 0);
    for (var r : sim.m.receivers()) {
      assertEquals(State.DONE, r.state(), r.reason());
    }
  }

  @Test
  void aLostAnswerTimesOutAndTheRequestIsRepeatedWithTheNextRound() {
    Sim sim = new Sim(5L * BS, 1, 0, 4);
    sim.dropFirstAnswer = true;
    sim.run();
    sim.assertEveryoneHasEverything();
    assertTrue(sim.reqAckRounds.contains(1), "REQACK repeated with rxmit 1: " + sim.reqAckRounds);
  }

  @Test
  void aSilentReceiverIsDroppedAfterTheTimeoutAndTheOthersFinish() {
    Sim sim = new Sim(1_000_000, 3, 0.02, 5);
    sim.silentAfterSlice.put(1, 2);
    sim.run();
    var rs = sim.m.receivers();
    assertEquals(State.DROPPED, rs.get(1).state());
    assertEquals(State.DONE, rs.get(0).state());
    assertEquals(State.DONE, rs.get(2).state());
    assertTrue(sim.now < 10_000 * MS, "dropped after seconds, not minutes");
    sim.assertHasEverything(0);
    sim.assertHasEverything(2);
  }

  /**
   * As a driver does it: ticks exactly at the deadlines; one receiver has OKed, the other is dead.
   */
  @Test
  void aDropThatCompletesTheSliceIsNotHiddenByTheNextTimeout() {
    var m = new UdpcastSenderMachine(settings(2), 3L * BS, GROUP, 0);
    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
    m.receive(12, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
    long now = 100 * MS;
    m.tick(now);
    for (int i = 0; i < 10_000 && !m.complete(); i++) {
      List<ReqAck> asked = new ArrayList<>();
      Block b;
      do {
        b = m.nextBlock(now);
        for (Send s : m.drainControl()) {
          if (s.message() instanceof ReqAck ra) {
            asked.add(ra);
          }
        }
      } while (b != null);
      for (ReqAck ra : asked) {
        if (!ra.readySet().get(0)) {
          m.receive(11, new Ok(ra.sliceNo()), now); // receiver #0 has everything at once
        }
      }
      if (m.complete()) {
        break;
      }
      now = Math.max(now + 1, m.nextDeadlineNanos(now));
      m.tick(now);
    }
    assertTrue(m.complete(), m.describe());
    assertEquals(State.DONE, m.receivers().get(0).state());
    assertEquals(State.DROPPED, m.receivers().get(1).state());
    assertTrue(now < 10_000 * MS, "dropped after seconds, not minutes: " + now / MS + " ms");
  }

  @Test
  void aDisconnectRemovesTheReceiverAtOnce() {
    Sim sim = new Sim(1_000_000, 2, 0, 6);
    sim.disconnectAfterSlice.put(0, 2);
    sim.run();
    assertEquals(State.DISCONNECTED, sim.m.receivers().get(0).state());
    assertEquals(State.DONE, sim.m.receivers().get(1).state());
    sim.assertHasEverything(1);
    assertTrue(sim.now < 2_000 * MS, "no wait for the disconnected receiver");
  }

  @Test
  void theLastReceiverLeavingEndsTheSession() {
    var m = new UdpcastSenderMachine(settings(1), 1_000_000, GROUP, 0);
    m.receive(11, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
    m.tick(100 * MS);
    m.tick(200 * MS);
    assertTrue(m.started());
    assertInstanceOf(Block.class, m.nextBlock(100 * MS));
    m.receive(11, new Disconnect(), 101 * MS);
    assertTrue(m.complete());
    assertNull(m.nextBlock(102 * MS));
  }

  @Test
  void messagesFromStrangersAreIgnored() {
    var m = new UdpcastSenderMachine(settings(1), 1_000_000, GROUP, 0);
    m.receive(99, new Ok(0), 0);
    m.receive(99, new Retransmit(0, 0, Bitmap1024.EMPTY), 0);
    m.receive(99, new Disconnect(), 0);
    assertEquals(3, m.ignored());
    assertTrue(m.receivers().isEmpty());
  }

  /** A machine and stock-like receivers on a lossy, reordering link, on a simulated clock. */
  private static final class Sim {
    final UdpcastSenderMachine m;
    final long total;
    final int n;
    final double loss;
    final Random rnd;
    boolean reorder;
    double duplicate;
    boolean dropFirstAnswer;
    final Map<Integer, Integer> silentAfterSlice = new HashMap<>();
    final Map<Integer, Integer> disconnectAfterSlice = new HashMap<>();
    final Set<Integer> reqAckRounds = new HashSet<>();
    final List<Rx> rxs = new ArrayList<>();
    final Map<Integer, Integer> bytesOfSlice = new HashMap<>();
    long now;

    Sim(long total, int n, double loss, long seed) {
      this.total = total;
      this.n = n;
      this.loss = loss;
      this.rnd = new Random(seed);
      this.m = new UdpcastSenderMachine(settings(n), total, GROUP, 0);
      for (int i = 0; i < n; i++) {
        rxs.add(new Rx(100 + i, i));
      }
    }

    List<Integer> sliceBytes() {
      return bytesOfSlice.entrySet().stream()
          .sorted(Map.Entry.comparingByKey())
          .map(Map.Entry::getValue)
          .toList();
    }

    void run() {
      for (Rx r : rxs) {
        m.receive(r.ip, new ConnectReq(Udpcast.CAPS_DEFAULT, 0), 0);
        r.clNr = ((ConnectReply) m.drainControl().get(0).message()).clNr();
      }
      List<Object[]> uplink = new ArrayList<>();
      while (!m.complete()) {
        assertTrue(now < 60_000 * MS, "session did not end");
        now += MS / 10;
        m.tick(now);
        deliver(m.drainControl(), uplink);
        for (int i = 0; i < 8; i++) {
          Block b = m.nextBlock(now);
          List<Send> c = m.drainControl();
          deliver(c, uplink);
          if (b == null) {
            if (c.isEmpty()) {
              break;
            }
            continue;
          }
          checkWindow(b);
          for (Rx r : rxs) {
            if (rnd.nextDouble() >= loss) {
              r.data(b);
            }
          }
        }
        if (reorder) {
          Collections.shuffle(uplink, rnd);
        }
        for (Object[] u : uplink) {
          m.receive((Integer) u[0], (UdpcastMessage) u[1], now);
          if (rnd.nextDouble() < duplicate) {
            m.receive((Integer) u[0], (UdpcastMessage) u[1], now);
          }
        }
        uplink.clear();
      }
    }

    /** Block of slice k only once slice k−2 is acknowledged by every receiver still in. */
    private void checkWindow(Block b) {
      bytesOfSlice.put(b.sliceNo(), b.sliceBytes());
      for (Rx r : rxs) {
        if (r.gone || b.sliceNo() < 2) {
          continue;
        }
        var state =
            m.receivers().stream().filter(x -> x.ip() == r.ip).findFirst().orElseThrow().state();
        if (state == State.CONNECTED) {
          assertTrue(
              r.oked.contains(b.sliceNo() - 2),
              "slice " + b.sliceNo() + " before " + (b.sliceNo() - 2) + " was acknowledged");
        }
      }
    }

    private void deliver(List<Send> sends, List<Object[]> uplink) {
      for (Send s : sends) {
        if (s.message() instanceof ReqAck ra) {
          reqAckRounds.add(ra.rxmit());
          bytesOfSlice.putIfAbsent(ra.sliceNo(), ra.bytes());
          for (Rx r : rxs) {
            if (rnd.nextDouble() < loss) {
              continue;
            }
            UdpcastMessage answer = r.reqAck(ra);
            if (answer == null) {
              continue;
            }
            if (dropFirstAnswer) {
              dropFirstAnswer = false;
              continue;
            }
            if (answer instanceof Ok ok) {
              r.oked.add(ok.sliceNo());
            }
            uplink.add(new Object[] {r.ip, answer});
            if (disconnectAfterSlice.getOrDefault(r.index, -1) == ra.sliceNo()
                && answer instanceof Ok) {
              r.gone = true;
              uplink.add(new Object[] {r.ip, new Disconnect()});
            }
          }
        }
      }
    }

    void assertEveryoneHasEverything() {
      for (int i = 0; i < n; i++) {
        assertHasEverything(i);
      }
    }

    void assertHasEverything(int i) {
      long blocks = (total + BS - 1) / BS;
      assertEquals(blocks, rxs.get(i).fileBlocks.cardinality(), "receiver " + i + " misses blocks");
      assertTrue(rxs.get(i).finished, "receiver " + i + " saw no end slice");
    }

    /** udp-receiver's answers (§1.7): OK when complete, else RETRANSMIT with the have-map. */
    final class Rx {
      final int ip;
      final int index;
      int clNr;
      boolean gone;
      boolean finished;
      final Map<Integer, BitSet> have = new HashMap<>();
      final Set<Integer> oked = new HashSet<>();
      final BitSet fileBlocks = new BitSet();

      Rx(int ip, int index) {
        this.ip = ip;
        this.index = index;
      }

      void data(Block b) {
        if (gone || b.fec()) {
          return; // FEC recovery is the receiver's business; the sim repairs by retransmission
        }
        assertEquals(0, b.offset() % BS, "slices start on a block boundary");
        have.computeIfAbsent(b.sliceNo(), k -> new BitSet()).set(b.blockNo());
        fileBlocks.set((int) (b.offset() / BS));
      }

      UdpcastMessage reqAck(ReqAck ra) {
        if (gone || ra.readySet().get(clNr)) {
          return null;
        }
        if (silentAfterSlice.getOrDefault(index, Integer.MAX_VALUE) < ra.sliceNo()) {
          return null;
        }
        if (ra.bytes() == 0) {
          finished = true;
          return new Ok(ra.sliceNo());
        }
        int blocks = (ra.bytes() + BS - 1) / BS;
        BitSet h = have.computeIfAbsent(ra.sliceNo(), k -> new BitSet());
        if (h.cardinality() == blocks) {
          return new Ok(ra.sliceNo());
        }
        return new Retransmit(ra.sliceNo(), ra.rxmit(), Bitmap1024.fromBitSet(h));
      }
    }
  }
}

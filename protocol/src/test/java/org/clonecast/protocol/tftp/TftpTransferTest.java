package org.clonecast.protocol.tftp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.clonecast.protocol.tftp.TftpTransfer.Output;
import org.clonecast.protocol.tftp.TftpTransfer.Send;
import org.clonecast.protocol.tftp.TftpTransfer.SendData;
import org.clonecast.protocol.tftp.TftpTransfer.State;
import org.clonecast.protocol.tftp.TftpTransfer.Step;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The read-transfer machine: negotiation, windows, loss, reordering, duplicates, timeouts,
 * rollover.
 */
class TftpTransferTest {
  private static final long SEC = 1_000_000_000L;
  private static final TftpTransfer.Settings SETTINGS =
      new TftpTransfer.Settings(1468, 64, Duration.ofSeconds(1), 5);

  private static TftpReadRequest rrq(String... options) {
    return new TftpReadRequest("f", TftpMode.OCTET, TftpOptions.of(options));
  }

  private static List<SendData> data(Step s) {
    return s.send().stream().map(SendData.class::cast).toList();
  }

  private static TftpOptions oack(Step s) {
    assertEquals(1, s.send().size());
    return ((TftpOptionAck) ((Send) s.send().get(0)).packet()).options();
  }

  private static Step ack(TftpTransfer t, int block, long now) {
    return t.onPacket(new TftpAck(block), now);
  }

  @Test
  void plainRequestGetsData1AtOnceInLockStep() {
    TftpTransfer t = TftpTransfer.create(rrq(), 1500, SETTINGS);
    Step s = t.begin(0);
    assertEquals(List.of(new SendData(1, 0, 512, false)), s.send());
    assertEquals(SEC, s.deadlineNanos());
    assertEquals(List.of(new SendData(2, 512, 512, false)), ack(t, 1, 10).send());
    assertEquals(List.of(new SendData(3, 1024, 476, false)), ack(t, 2, 20).send());
    Step end = ack(t, 3, 30);
    assertEquals(State.DONE, end.state());
    assertTrue(end.send().isEmpty());
    assertEquals(TftpTransfer.NO_DEADLINE, end.deadlineNanos());
    assertEquals(1500, t.bytesAcked());
  }

  @Test
  void aSizeThatIsAMultipleOfBlksizeEndsWithAnEmptyBlock() {
    TftpTransfer t = TftpTransfer.create(rrq(), 1024, SETTINGS);
    t.begin(0);
    ack(t, 1, 1);
    assertEquals(List.of(new SendData(3, 1024, 0, false)), ack(t, 2, 2).send());
    assertEquals(State.DONE, ack(t, 3, 3).state());

    TftpTransfer empty = TftpTransfer.create(rrq(), 0, SETTINGS);
    assertEquals(List.of(new SendData(1, 0, 0, false)), empty.begin(0).send());
    assertEquals(State.DONE, ack(empty, 1, 1).state());
  }

  @Test
  void negotiationCapsIgnoresAndEchoes() {
    TftpTransfer t =
        TftpTransfer.create(
            rrq(
                "BlkSize",
                "65464",
                "tsize",
                "0",
                "timeout",
                "3",
                "windowsize",
                "500",
                "utimeout",
                "9",
                "x",
                "y"),
            123456,
            SETTINGS);
    assertEquals(
        TftpOptions.of("blksize", "1468", "tsize", "123456", "timeout", "3", "windowsize", "64"),
        oack(t.begin(0)));
    assertEquals(1468, t.blksize());
    assertEquals(64, t.windowsize());

    // invalid values are ignored, and with nothing accepted there is no OACK at all
    TftpTransfer bad =
        TftpTransfer.create(
            rrq("blksize", "7", "timeout", "0", "windowsize", "0", "tsize", "x"), 10, SETTINGS);
    assertEquals(List.of(new SendData(1, 0, 10, false)), bad.begin(0).send());
    assertTrue(bad.accepted().isEmpty());
    assertEquals(512, bad.blksize());
    assertEquals(1, bad.windowsize());
    assertTrue(
        TftpTransfer.create(rrq("multicast", "", "blksize", "-1", "timeout", "256"), 10, SETTINGS)
            .accepted()
            .isEmpty());
  }

  @Test
  void onlyOctetModeIsServed() {
    assertTrue(TftpTransfer.refusal(rrq()).isEmpty());
    assertEquals(
        new TftpError(Tftp.ERR_NOT_DEFINED, "netascii mode not supported; use octet (binary) mode"),
        TftpTransfer.refusal(new TftpReadRequest("f", TftpMode.NETASCII, TftpOptions.NONE))
            .orElseThrow());
    assertEquals(
        Tftp.ERR_ILLEGAL_OPERATION,
        TftpTransfer.refusal(new TftpReadRequest("f", TftpMode.MAIL, TftpOptions.NONE))
            .orElseThrow()
            .code());
  }

  @Test
  void theClientsTimeoutSetsTheRetransmissionDelayOnceItAnswered() {
    TftpTransfer t = TftpTransfer.create(rrq("timeout", "3"), 5000, SETTINGS);
    assertEquals(SEC, t.begin(0).deadlineNanos(), "before its first ACK: the server's timeout");
    Step again = t.onTimeout(SEC);
    assertEquals(1, again.send().size(), "OACK resent");
    assertEquals(SEC + 2 * SEC, again.deadlineNanos(), "doubled");
    Step first = ack(t, 0, 2 * SEC);
    assertEquals(2 * SEC + 3 * SEC, first.deadlineNanos(), "after it: the 3 s it asked for");
    assertEquals(5 * SEC + 6 * SEC, t.onTimeout(5 * SEC).deadlineNanos(), "doubled from there");
  }

  @Test
  void aClientThatNeverAnswersFreesItsTransferWithinTheServersBoundWhateverTimeoutItAsked() {
    for (String[] options :
        new String[][] {
          {}, {"timeout", "255"}, {"timeout", "255", "tsize", "0", "blksize", "1468"}
        }) {
      TftpTransfer t = TftpTransfer.create(rrq(options), 1 << 20, SETTINGS);
      Step s = t.begin(0);
      int steps = 0;
      while (!s.state().finished()) {
        s = t.onTimeout(s.deadlineNanos());
        assertTrue(++steps <= SETTINGS.maxRetries() + 1, "bounded resends");
      }
      assertEquals(State.FAILED, s.state());
      assertTrue(t.failure().contains("after 5 retransmissions"), t.failure());
    }
    // The bound: 1 + 2 + 4 + 8 + 8 + 8 s of silence with the 1 s base.
    TftpTransfer t = TftpTransfer.create(rrq("timeout", "255"), 1 << 20, SETTINGS);
    Step s = t.begin(0);
    long at = 0;
    while (!s.state().finished()) {
      at = s.deadlineNanos();
      s = t.onTimeout(at);
    }
    assertEquals(31 * SEC, at);
  }

  @Test
  void edk2SizeProbeEndsQuietly() {
    TftpTransfer t =
        TftpTransfer.create(
            rrq("tsize", "0", "blksize", "1468", "windowsize", "4"), 850528, SETTINGS);
    t.begin(0);
    Step s = t.onPacket(new TftpError(Tftp.ERR_OPTION_REFUSED, "User aborted the transfer"), 5);
    assertEquals(State.PROBE, s.state());
    assertEquals("", t.failure());
    assertTrue(s.send().isEmpty());
    assertEquals(State.PROBE, ack(t, 0, 6).state(), "nothing happens after the end");
  }

  @Test
  void otherErrorsAreFailures() {
    TftpTransfer noTsize = TftpTransfer.create(rrq("blksize", "1468"), 5000, SETTINGS);
    noTsize.begin(0);
    assertEquals(State.FAILED, noTsize.onPacket(new TftpError(8, "no"), 1).state());
    assertEquals("client sent ERROR 8 (no) to the OACK", noTsize.failure());

    TftpTransfer sending = TftpTransfer.create(rrq(), 5000, SETTINGS);
    sending.begin(0);
    ack(sending, 1, 1);
    assertEquals(State.FAILED, sending.onPacket(new TftpError(0, "disk full"), 2).state());
    assertEquals("client sent ERROR 0 (disk full) at block 2", sending.failure());
  }

  @Test
  void windowSlidesOnCumulativeAcksAndIgnoresStaleDuplicateAndFutureOnes() {
    TftpTransfer t = TftpTransfer.create(rrq("windowsize", "4"), 512 * 20, SETTINGS);
    assertEquals(TftpOptions.of("windowsize", "4"), oack(t.begin(0)));
    assertTrue(ack(t, 1, 1).send().isEmpty(), "only ACK 0 answers an OACK");
    assertEquals(List.of(1, 2, 3, 4), data(ack(t, 0, 2)).stream().map(SendData::block).toList());
    assertEquals(
        List.of(5, 6, 7, 8),
        data(ack(t, 4, 3)).stream().map(SendData::block).toList(),
        "a full window ACKed: the next one");
    assertEquals(0, t.retransmits());
    Step gap = ack(t, 6, 4);
    assertEquals(
        List.of(
            new SendData(7, 3072, 512, true),
            new SendData(8, 3584, 512, true),
            new SendData(9, 4096, 512, false),
            new SendData(10, 4608, 512, false)),
        gap.send(),
        "an ACK inside the window slides it and fills the gap at once");
    assertTrue(ack(t, 5, 5).send().isEmpty(), "stale");
    assertTrue(
        ack(t, 6, 6).send().isEmpty(), "duplicate: no second resend (Sorcerer's Apprentice)");
    assertTrue(ack(t, 11, 7).send().isEmpty(), "not sent yet");
    assertEquals(3, t.ignored() - 1, "plus the ACK 1 during negotiation");
    assertEquals(
        List.of(11, 12, 13, 14), data(ack(t, 10, 8)).stream().map(SendData::block).toList());
  }

  @Test
  void timeoutsResendFromTheFirstUnacknowledgedBlockWithBackoffThenGiveUp() {
    TftpTransfer t = TftpTransfer.create(rrq("windowsize", "4"), 512 * 20, SETTINGS);
    t.begin(0);
    ack(t, 0, 0);
    ack(t, 2, 50);
    assertEquals(2, t.retransmits(), "blocks 3 and 4 after the gap");
    Step s = ack(t, 2, 100);
    assertTrue(s.send().isEmpty(), "a duplicate ACK neither resends nor moves the deadline");
    assertEquals(50 + SEC, s.deadlineNanos());
    assertTrue(t.onTimeout(50 + SEC - 1).send().isEmpty(), "early timer: nothing");
    long now = 50 + SEC;
    long[] waits = {2, 4, 8, 8};
    Step r = t.onTimeout(now);
    assertEquals(
        List.of(
            new SendData(3, 1024, 512, true),
            new SendData(4, 1536, 512, true),
            new SendData(5, 2048, 512, true),
            new SendData(6, 2560, 512, true)),
        r.send());
    for (long w : waits) {
      assertEquals(now + w * SEC, r.deadlineNanos());
      now = r.deadlineNanos();
      r = t.onTimeout(now);
      assertEquals(State.SENDING, r.state());
    }
    assertEquals(22, t.retransmits());
    r = t.onTimeout(r.deadlineNanos());
    assertEquals(State.FAILED, r.state());
    assertEquals("no ACK for block 3 after 5 retransmissions", t.failure());
  }

  @Test
  void progressResetsTheRetryCount() {
    TftpTransfer t = TftpTransfer.create(rrq(), 512 * 100, SETTINGS);
    Step s = t.begin(0);
    long now = 0;
    for (int block = 1; block <= 50; block++) {
      for (int i = 0; i < 4; i++) {
        now = s.deadlineNanos();
        s = t.onTimeout(now);
      }
      s = ack(t, block, now);
      assertEquals(State.SENDING, s.state());
    }
  }

  @Test
  void blockNumbersRollOverPast65535() {
    int blk = 8;
    long size = 70_000L * blk + 3;
    TftpTransfer t = TftpTransfer.create(rrq("blksize", "8", "windowsize", "16"), size, SETTINGS);
    t.begin(0);
    Step s = ack(t, 0, 0);
    long sent = 0;
    int lastBlock = 0;
    while (s.state() == State.SENDING) {
      for (SendData d : data(s)) {
        sent++;
        assertEquals((int) (sent & 0xFFFF), d.block());
        assertEquals((sent - 1) * blk, d.offset());
        lastBlock = d.block();
      }
      s = ack(t, lastBlock, 0);
    }
    assertEquals(State.DONE, s.state());
    assertEquals(70_001, sent);
    assertEquals(70_001 - 65_536, lastBlock);
    assertEquals(size, t.bytesAcked());
  }

  @ParameterizedTest
  @CsvSource({
    "1,0,0,false,1",
    "4,10,5,true,2",
    "16,10,5,true,3",
    "64,20,10,true,4",
    "1,20,10,true,5",
    "8,5,20,true,6"
  })
  void lossyReorderingDuplicatingNetworkStillDeliversEveryByteInOrder(
      int window, int lossPct, int dupPct, boolean reorder, long seed) {
    TftpTransfer.Settings settings = new TftpTransfer.Settings(1468, 64, Duration.ofSeconds(1), 30);
    long size = 300L * 64 + 17;
    TftpTransfer t =
        TftpTransfer.create(
            rrq("blksize", "64", "windowsize", Integer.toString(window), "tsize", "0"),
            size,
            settings);
    Sim sim = new Sim(new Random(seed), lossPct, dupPct, reorder, window, 64);
    State end = sim.run(t, size);
    assertEquals(State.DONE, end, t.failure());
    assertEquals(size, sim.received);
    assertEquals(size, t.bytesAcked());
    if (lossPct > 0) {
      assertTrue(t.retransmits() > 0);
    }
  }

  /**
   * A virtual network and an RFC 7440 client: it ACKs every windowsize-th in-order block and the
   * short last one, and on an out-of-order block re-ACKs the last in-order one.
   */
  private static final class Sim {
    final Random rnd;
    final int lossPct;
    final int dupPct;
    final boolean reorder;
    final int window;
    final int blksize;
    long received;
    long inOrder;
    int sinceAck;
    boolean negotiated;

    Sim(Random rnd, int lossPct, int dupPct, boolean reorder, int window, int blksize) {
      this.rnd = rnd;
      this.lossPct = lossPct;
      this.dupPct = dupPct;
      this.reorder = reorder;
      this.window = window;
      this.blksize = blksize;
    }

    State run(TftpTransfer t, long size) {
      long now = 0;
      Step s = t.begin(now);
      for (int round = 0; round < 100_000 && !s.state().finished(); round++) {
        List<Output> toClient = net(s.send());
        List<TftpPacket> toServer = new ArrayList<>();
        for (Output o : toClient) {
          client(o, size, toServer);
        }
        List<TftpPacket> acks = net(toServer);
        if (acks.isEmpty()) {
          now = s.deadlineNanos();
          s = t.onTimeout(now);
          continue;
        }
        List<Output> out = new ArrayList<>();
        for (TftpPacket p : acks) {
          now += 1000;
          s = t.onPacket(p, now);
          out.addAll(s.send());
        }
        s = new Step(out, s.deadlineNanos(), s.state());
      }
      return s.state();
    }

    <T> List<T> net(List<T> in) {
      List<T> out = new ArrayList<>();
      for (T p : in) {
        if (rnd.nextInt(100) < lossPct) {
          continue;
        }
        out.add(p);
        if (rnd.nextInt(100) < dupPct) {
          out.add(p);
        }
      }
      if (reorder && out.size() > 1 && rnd.nextBoolean()) {
        int i = rnd.nextInt(out.size());
        int j = rnd.nextInt(out.size());
        Collections.swap(out, i, j);
      }
      return out;
    }

    void client(Output o, long size, List<TftpPacket> replies) {
      if (o instanceof Send s) {
        assertTrue(s.packet() instanceof TftpOptionAck);
        if (!negotiated) {
          negotiated = true;
        }
        replies.add(new TftpAck(0));
        return;
      }
      SendData d = (SendData) o;
      if (d.block() != (int) ((inOrder + 1) & 0xFFFF)) {
        replies.add(new TftpAck((int) (inOrder & 0xFFFF)));
        sinceAck = 0;
        return;
      }
      assertEquals(inOrder * blksize, d.offset(), "block " + d.block() + " carries the next bytes");
      inOrder++;
      received += d.length();
      sinceAck++;
      boolean last = d.length() < blksize;
      assertFalse(received > size);
      if (sinceAck == window || last) {
        replies.add(new TftpAck(d.block()));
        sinceAck = 0;
      }
    }
  }
}

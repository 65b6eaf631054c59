package org.clonecast.protocol.mcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.junit.jupiter.api.Test;

/**
 * What a rogue on the segment can do to a {@link SenderMachine}: forged or replayed feedback is not
 * counted, a joined receiver's pull on repair is bounded, loiterers are dropped by the deadline,
 * and a session whose receivers left before the start ends. The clock is a plain number.
 */
class SenderMachineTest {
  static final int SYMBOL = 1000;
  static final int CHUNKS = 4;
  static final int SOURCES = 10; // 10,000 stored bytes per chunk, one stripe
  static final long S = 1_000_000_000L;

  final InetAddress real = addr(10, 0, 0, 2);
  final InetAddress rogue = addr(10, 0, 0, 66);
  final byte[] key = key(1);
  long now = 5 * S;

  static InetAddress addr(int a, int b, int c, int d) {
    try {
      return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  static byte[] key(int seed) {
    byte[] k = new byte[McastAuth.KEY_BYTES];
    for (int i = 0; i < k.length; i++) k[i] = (byte) (seed * 31 + i);
    return k;
  }

  static Manifest manifest() {
    List<ChunkEntry> e = new ArrayList<>();
    for (int c = 0; c < CHUNKS; c++)
      e.add(
          new ChunkEntry(
              c, ChunkKind.ZSTD, 64 + (long) c * 10_000, 10_000, Sha256.of(new byte[32])));
    return new Manifest(
        UUID.randomUUID(), (long) CHUNKS * 16384, 16384, e, Sha256.of(new byte[32]));
  }

  static SenderMachine machine(long deadlineNanos) {
    return new SenderMachine(manifest(), settings(1, 20 * S, deadlineNanos));
  }

  /** A receiver drops after 10 s of silence and may take an hour. */
  static SenderMachine.Settings settings(int minReceivers, long maxWaitNanos) {
    return settings(
        minReceivers, maxWaitNanos, SenderMachine.Settings.DEFAULT_RECEIVER_DEADLINE_NANOS);
  }

  static SenderMachine.Settings settings(int minReceivers, long maxWaitNanos, long deadlineNanos) {
    return new SenderMachine.Settings(
        SYMBOL, minReceivers, maxWaitNanos, 10 * S, 300_000_000L, 30_000_000L, 200, deadlineNanos);
  }

  /** As {@link #settings}, with a check grace of a second. */
  static SenderMachine.Settings graced(
      int minReceivers, long maxWaitNanos, long receiverTimeoutNanos) {
    return new SenderMachine.Settings(
        SYMBOL,
        minReceivers,
        maxWaitNanos,
        receiverTimeoutNanos,
        300_000_000L,
        30_000_000L,
        200,
        SenderMachine.Settings.DEFAULT_RECEIVER_DEADLINE_NANOS,
        S);
  }

  static BitSet all() {
    BitSet b = new BitSet();
    b.set(0, CHUNKS);
    return b;
  }

  static Status status(int id, int loss) {
    return new Status(7, id, loss, 100, 100, 0, CHUNKS, 0, 0);
  }

  static Nak nakAll(int id, int chunk) {
    return new Nak(7, id, List.of(new Nak.Entry(chunk, new byte[] {(byte) 255}, new byte[] {0})));
  }

  @Test
  void feedbackCountsOnlyFromTheReceiversAddressPortAndKey() {
    SenderMachine m = machine(3600 * S);
    int id = m.join("node1@10.0.0.2", real, key, now);
    Status good = McastAuth.seal(status(id, 0), key, 1);
    assertEquals(
        SenderMachine.Feedback.UNKNOWN_RECEIVER,
        m.feedback(McastAuth.seal(status(99, 0), key, 1), real, 9400, now));
    assertEquals(SenderMachine.Feedback.WRONG_ADDRESS, m.feedback(good, rogue, 9400, now));
    assertEquals(
        SenderMachine.Feedback.BAD_SEAL, m.feedback(status(id, 1000), real, 9400, now), "unsealed");
    assertEquals(
        SenderMachine.Feedback.BAD_SEAL,
        m.feedback(McastAuth.seal(status(id, 1000), key(2), 5), real, 9400, now),
        "another key");
    Status tampered = McastAuth.seal(status(id, 0), key, 2);
    tampered = new Status(7, id, 1000, 100, 100, 0, CHUNKS, 0, 0, tampered.seal());
    assertEquals(
        SenderMachine.Feedback.BAD_SEAL,
        m.feedback(tampered, real, 9400, now),
        "a field changed under the seal");
    assertEquals(SenderMachine.Feedback.ACCEPTED, m.feedback(good, real, 9400, now));
    assertEquals(SenderMachine.Feedback.REPLAYED, m.feedback(good, real, 9400, now));
    assertEquals(
        SenderMachine.Feedback.WRONG_ADDRESS,
        m.feedback(McastAuth.seal(status(id, 0), key, 3), real, 9999, now),
        "the port of its first counted feedback is pinned");
    assertEquals(
        SenderMachine.Feedback.ACCEPTED,
        m.feedback(McastAuth.seal(status(id, 0), key, 3), real, 9400, now));
  }

  @Test
  void aReceiverThatDoesNotSealIsStillBoundToItsAddress() {
    SenderMachine m = machine(3600 * S);
    int id = m.join("old@10.0.0.2", real, null, now);
    assertEquals(SenderMachine.Feedback.WRONG_ADDRESS, m.feedback(status(id, 0), rogue, 9400, now));
    assertEquals(SenderMachine.Feedback.ACCEPTED, m.feedback(status(id, 0), real, 9400, now));
  }

  @Test
  void forgedLossReportsDoNotSlowTheGroup() {
    SenderMachine m = machine(3600 * S);
    int id = m.join("node1@10.0.0.2", real, key, now);
    m.need(id, all(), now);
    assertTrue(m.maybeStart(now));
    for (int i = 0; i < 50; i++) {
      now += 100_000_000L;
      m.feedback(status(id, 1000), rogue, 9400, now); // the rogue claims 100 % loss in node1's name
      m.feedback(
          McastAuth.seal(status(id, 1000), key(9), i + 1),
          real,
          9400,
          now); // even from a spoofed address
      m.feedback(McastAuth.seal(status(id, 0), key, i + 1), real, 9400, now);
    }
    assertEquals(0, m.pacingLossPermille(now));
  }

  @Test
  void aReceiverWhoseOwnKernelOverflowsIsSlowAndDoesNotPaceUntilItIsAlone() {
    SenderMachine m = machine(3600 * S);
    int[] ids = new int[4];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = m.join("node" + i, null, null, now);
      m.need(ids[i], all(), now);
    }
    assertTrue(m.maybeStart(now));
    int slow = ids[3];
    for (int t = 0; t < 10; t++) {
      now += 100_000_000L;
      for (int id : ids) {
        // node3's process is short of CPU: its kernel drops 3 % for want of socket buffer space.
        m.status(
            new Status(7, id, id == slow ? 30 : 0, 100, 100, 0, CHUNKS, 0, id == slow ? 30 : 0),
            now);
      }
    }
    assertTrue(m.isSlow(m.receiver(slow)));
    assertEquals(0, m.pacingOverflowPermille(now), "the others overflow nothing: the pace stays");
    assertEquals(0, m.pacingLossPermille(now));
    // Losing within the pace margin it is still repaired; a slow one losing more is not.
    assertFalse(m.isLagging(m.receiver(slow), now));
    m.status(new Status(7, slow, 300, 100, 100, 0, CHUNKS, 0, 300), now);
    assertTrue(
        m.isLagging(m.receiver(slow), now),
        "slow and 9 % above the median: no repairs while others are active");
    // Everyone overflowing alike is the sender's doing: nobody is slow, the pace follows.
    for (int t = 0; t < 10; t++) {
      now += 100_000_000L;
      for (int id : ids) m.status(new Status(7, id, 30, 100, 100, 0, CHUNKS, 0, 30), now);
    }
    assertFalse(m.isSlow(m.receiver(slow)));
    assertTrue(m.pacingOverflowPermille(now) > 10, "overflow everywhere cuts the rate");
    // Alone, it paces: it is its own median.
    for (int i = 0; i < 3; i++)
      m.finished(ids[i], new ControlMessage.Finished(false, "test", 0, 0, 0, 0), now);
    for (int t = 0; t < 10; t++) {
      now += 100_000_000L;
      m.status(new Status(7, slow, 30, 100, 100, 0, CHUNKS, 0, 30), now);
    }
    assertFalse(m.isSlow(m.receiver(slow)));
    assertTrue(m.pacingOverflowPermille(now) > 10);
  }

  @Test
  void aJoinedReceiversNaksDrawAtMostOneChunkPerPassAndBoundedRepairInAll() {
    SenderMachine m = machine(3600 * S);
    int id = m.join("rogue@10.0.0.66", rogue, key, now);
    m.need(id, all(), now);
    m.maybeStart(now);
    // One pass of the carousel goes out.
    while (m.next(now) != null) now += 10_000L;
    long counter = 0;
    long repairsBefore = m.repairSymbolsSent();
    // A flood of NAKs asking for every symbol of chunk 1, with nothing seen, while time passes.
    boolean newPass = false;
    for (int i = 0; i < 2000 && !newPass; i++) {
      now += 1_000_000L;
      m.feedback(McastAuth.seal(nakAll(id, 1), key, ++counter), rogue, 9400, now);
      m.feedback(McastAuth.seal(status(id, 0), key, ++counter), rogue, 9400, now);
      for (SenderMachine.Item it = m.next(now); it != null && !newPass; it = m.next(now)) {
        newPass =
            it.chunk() == 1
                && !it.repair(); // a new pass of chunk 1 renews its budget: stop counting there
      }
    }
    assertTrue(
        newPass,
        "once its NAKs draw nothing more, they no longer hold chunk 1 back from the carousel");
    assertTrue(
        m.repairSymbolsSent() - repairsBefore <= SOURCES,
        "repair within one pass of a chunk: "
            + (m.repairSymbolsSent() - repairsBefore)
            + " > "
            + SOURCES);
    // In all, across passes, at most what it needs plus the slack.
    for (int i = 0; i < 20_000; i++) {
      now += 1_000_000L;
      for (int c = 0; c < CHUNKS; c++)
        m.feedback(McastAuth.seal(nakAll(id, c), key, ++counter), rogue, 9400, now);
      m.feedback(McastAuth.seal(status(id, 0), key, ++counter), rogue, 9400, now);
      while (m.next(now) != null) {
        // drain
      }
    }
    SenderMachine.Receiver r = m.receiver(id);
    assertTrue(
        r.repairGranted() <= r.symbolsNeeded() + SenderMachine.REPAIR_SLACK,
        "granted " + r.repairGranted());
    assertTrue(
        m.repairSymbolsSent() <= r.symbolsNeeded() + SenderMachine.REPAIR_SLACK,
        "sent " + m.repairSymbolsSent());
  }

  @Test
  void aLoitererIsDroppedByTheDeadlineAsGoneAndTheSessionEnds() {
    SenderMachine m = machine(60 * S);
    int node = m.join("node1@10.0.0.2", real, key, now);
    int loiterer = m.join("rogue@10.0.0.66", rogue, key(3), now);
    m.need(node, all(), now);
    m.need(loiterer, all(), now);
    m.maybeStart(now);
    long counter = 0;
    m.done(node, new int[] {0, 1, 2, 3}, now);
    m.finished(node, new ControlMessage.Finished(true, "ok", 4 * 16384, 40, 0, 0), now);
    while (!m.over(now)) {
      now += S;
      m.feedback(
          McastAuth.seal(status(loiterer, 0), key(3), ++counter),
          rogue,
          9400,
          now); // it keeps talking
      m.expire(now);
      assertTrue(now < 100 * S, "the loiterer kept the session going");
    }
    assertEquals(SenderMachine.ReceiverState.SUCCEEDED, m.receiver(node).state());
    assertEquals(SenderMachine.ReceiverState.GONE, m.receiver(loiterer).state());
    assertTrue(
        m.receiver(loiterer).reason().contains("receiver deadline"), m.receiver(loiterer).reason());
  }

  @Test
  void aReceiverThatHadReceivedSomethingFailsRatherThanGoes() {
    SenderMachine m = machine(3600 * S);
    int id = m.join("node1@10.0.0.2", real, key, now);
    m.need(id, all(), now);
    m.maybeStart(now);
    m.done(id, new int[] {0}, now);
    m.disconnected(id, now);
    assertEquals(SenderMachine.ReceiverState.FAILED, m.receiver(id).state());
  }

  @Test
  void aSessionWhoseOnlyReceiverLeftBeforeTheStartEndsAfterMaxWait() {
    SenderMachine m = new SenderMachine(manifest(), settings(2, 20 * S));
    int id = m.join("node1@10.0.0.2", real, key, now);
    m.disconnected(id, now + S);
    assertEquals(SenderMachine.ReceiverState.GONE, m.receiver(id).state());
    assertFalse(m.maybeStart(now + 19 * S));
    assertFalse(m.over(now + 19 * S));
    assertEquals(now + 20 * S, m.overNanos());
    assertFalse(m.maybeStart(now + 21 * S), "nobody to start for");
    assertTrue(m.over(now + 21 * S));
  }

  @Test
  void sealsRoundTripThroughTheWire() {
    Nak n = McastAuth.seal(nakAll(3, 1), key, 77);
    ByteBuf b = Unpooled.buffer();
    n.encode(b);
    Nak back = (Nak) McastPacket.decode(b);
    assertEquals(n, back);
    assertNotNull(back.seal().orElse(null));
    assertTrue(McastAuth.verify(back.withSeal(Optional.empty()), back.seal().get(), key));
  }

  static ControlMessage.Checked checked(int right, int... chunks) {
    BitSet b = new BitSet();
    for (int c : chunks) b.set(c);
    return ControlMessage.Checked.of(right, right * 16384L, b);
  }

  /**
   * A delta session: receivers that check their targets first count toward the start only once they
   * said what they need; the sender then sends the union of their needs, each chunk once, and a
   * receiver that needs nothing succeeds without a chunk sent to it.
   */
  @Test
  void deltaReceiversStartTheSessionWhenCheckedAndGetOnlyTheUnionOfTheirNeeds() {
    SenderMachine m = new SenderMachine(manifest(), settings(3, 20 * S));
    int a = m.join("a", real, key, true, now);
    int b = m.join("b", real, key(2), true, now);
    int c = m.join("c", real, key(3), true, now);
    assertFalse(m.maybeStart(now), "three joined, none checked");
    assertEquals(0, m.checked(a, checked(3, 1), now));
    assertEquals(0, m.checked(b, checked(2, 1, 3), now));
    assertFalse(m.maybeStart(now), "c is still hashing its disk");
    assertEquals(0, m.checked(c, checked(4), now));
    m.finished(c, new ControlMessage.Finished(true, "ok", 0, 0, 0, 0), now);
    assertEquals(SenderMachine.ReceiverState.SUCCEEDED, m.receiver(c).state(), "it needed nothing");
    assertTrue(
        m.maybeStart(now), "a finished receiver that needed nothing counts toward the start");
    BitSet sent = new BitSet();
    for (SenderMachine.Item i; (i = m.next(now)) != null; ) {
      assertFalse(i.repair());
      sent.set(i.chunk());
    }
    BitSet union = new BitSet();
    union.set(1);
    union.set(3);
    assertEquals(union, sent);
    assertEquals(2, m.chunksSent(), "each chunk of the union once");
    assertEquals(2, m.distinctChunksSent());
    assertEquals(3, m.receiver(a).chunksRight());
    assertEquals(1, m.receiver(a).chunksAsked());
    assertEquals(2, m.receiver(b).chunksAsked());
    m.done(a, new int[] {1}, now);
    m.done(b, new int[] {1, 3}, now);
    assertEquals(0, m.chunksWanted());
  }

  /**
   * Every receiver held the image already: the session starts and is complete at once, without
   * waiting out maxWait.
   */
  @Test
  void aSessionWhoseReceiversNeedNothingEndsAtOnce() {
    SenderMachine m = new SenderMachine(manifest(), settings(2, 20 * S));
    for (int i = 0; i < 2; i++) {
      int id = m.join("n" + i, real, key(i), true, now);
      m.checked(id, checked(CHUNKS), now);
      m.finished(id, new ControlMessage.Finished(true, "ok", 0, 0, 0, 0), now);
    }
    assertTrue(m.maybeStart(now));
    assertTrue(m.complete());
    assertEquals(null, m.next(now));
    assertEquals(0, m.chunksSent());
  }

  /**
   * A receiver that says it checks its disk but refuses the image before its check (unsigned, or
   * too large for its disk) has ended: the session does not wait out maxWait for its CHECKED.
   */
  @Test
  void aReceiverThatFailsBeforeItsCheckDoesNotHoldTheStart() {
    SenderMachine m = new SenderMachine(manifest(), settings(1, 60 * S));
    int id = m.join("vm", real, key, true, now);
    assertFalse(m.maybeStart(now), "still checking its disk");
    m.finished(id, new ControlMessage.Finished(false, "refused the image", 0, 0, 0, 0), now);
    assertTrue(m.maybeStart(now), "it ended: nothing to wait for");
    assertTrue(m.complete());
  }

  /**
   * What a hostile or confused receiver puts in CHECKED is bounded: chunks past the manifest and
   * chunks that store nothing are dropped and counted, a second CHECKED and one from a receiver
   * that did not say it checks are dropped whole.
   */
  @Test
  void hostileCheckedFramesAreCountedAndDropped() {
    List<ChunkEntry> e = new ArrayList<>(manifest().chunks());
    e.set(2, ChunkEntry.zero(2, ChunkCodec.zeroHash(16384)));
    Manifest withZero =
        new Manifest(UUID.randomUUID(), (long) CHUNKS * 16384, 16384, e, Sha256.of(new byte[32]));
    SenderMachine m = new SenderMachine(withZero, settings(1, 20 * S));
    int id = m.join("n", real, key, true, now);
    BitSet b = new BitSet();
    b.set(0);
    b.set(2); // a ZERO chunk: never sent
    b.set(CHUNKS, CHUNKS + 1_000_000); // past the manifest
    assertEquals(
        1_000_001,
        m.checked(id, ControlMessage.Checked.of(Integer.MAX_VALUE, Long.MAX_VALUE, b), now));
    assertEquals(1, m.receiver(id).chunksPending());
    assertEquals(CHUNKS, m.receiver(id).chunksRight(), "its claim is capped at the manifest");
    assertEquals(1, m.checked(id, checked(0, 1), now), "a second CHECKED is dropped");
    assertEquals(1, m.receiver(id).chunksPending());
    int old = m.join("old", real, null, now);
    assertEquals(1, m.checked(old, checked(0, 3), now), "a receiver that did not say CAP_DELTA");
    assertEquals(0, m.receiver(old).chunksPending());
  }

  /**
   * With a check grace, the data starts once every awaited receiver joined and the first has been
   * ready for the grace, not when the last check is done; a late checker's needs that were sent
   * already go out again on the carousel's next pass. Without every receiver joined, the grace does
   * not start anything.
   */
  @Test
  void aCheckGraceStartsTheDataBeforeTheLastCheckAndTheLateCheckerGetsItsChunksLater() {
    SenderMachine.Settings graced = graced(3, 20 * S, 10 * S);
    SenderMachine m = new SenderMachine(manifest(), graced);
    int a = m.join("a", real, key, true, now);
    int b = m.join("b", real, key(2), true, now);
    assertEquals(Long.MAX_VALUE, m.quorumStartNanos(), "nobody ready yet");
    m.checked(a, checked(2, 1, 3), now);
    assertEquals(now + S, m.quorumStartNanos());
    assertFalse(m.maybeStart(now + 2 * S), "a third receiver is awaited and has not joined");
    int c = m.join("c", real, key(3), true, now + 2 * S);
    long t = now + 2 * S;
    assertTrue(m.maybeStart(t), "all joined, a ready for more than the grace: b and c still check");
    BitSet sent = new BitSet();
    for (SenderMachine.Item i; (i = m.next(t)) != null; ) sent.set(i.chunk());
    BitSet first = new BitSet();
    first.set(1);
    first.set(3);
    assertEquals(first, sent, "a's needs, before b's and c's checks");
    m.done(a, new int[] {1, 3}, t);
    m.finished(a, new ControlMessage.Finished(true, "ok", 0, 0, 0, 0), t);
    // b needs nothing; c, checked late, needs chunk 3 (sent before its check) and chunk 2.
    m.checked(b, checked(CHUNKS), t);
    m.finished(b, new ControlMessage.Finished(true, "ok", 0, 0, 0, 0), t);
    m.checked(c, checked(2, 2, 3), t);
    assertEquals(2, m.receiver(c).chunksPending());
    BitSet again = new BitSet();
    long later = t + S; // past the resend holdoff of chunk 3's first pass
    for (SenderMachine.Item i; (i = m.next(later)) != null; ) again.set(i.chunk());
    BitSet second = new BitSet();
    second.set(2);
    second.set(3);
    assertEquals(second, again, "what c lacks, chunk 3 a second time");
    m.done(c, new int[] {2, 3}, later);
    m.finished(c, new ControlMessage.Finished(true, "ok", 0, 0, 0, 0), later);
    assertTrue(m.complete());
    assertEquals(SenderMachine.ReceiverState.SUCCEEDED, m.receiver(c).state());
    assertEquals(4, m.chunksSent(), "chunk 3 twice");
    assertEquals(3, m.distinctChunksSent());
  }

  /** Without a grace (the protocol's default), the start waits for every check, as before. */
  @Test
  void withoutACheckGraceTheStartWaitsForEveryCheck() {
    SenderMachine m = new SenderMachine(manifest(), settings(2, 20 * S));
    int a = m.join("a", real, key, true, now);
    int b = m.join("b", real, key(2), true, now);
    m.checked(a, checked(2, 1), now);
    assertEquals(Long.MAX_VALUE, m.quorumStartNanos());
    assertFalse(m.maybeStart(now + 10 * S), "b still checks");
    m.checked(b, checked(2, 1), now + 10 * S);
    assertTrue(m.maybeStart(now + 10 * S));
  }

  /**
   * The grace is at least the first receiver's own check time: with large disks, whose checks take
   * minutes, the usual spread of similar nodes is still waited out; only a straggler that takes
   * more than twice the fastest is not.
   */
  @Test
  void theGraceGrowsWithTheFirstCheck() {
    SenderMachine.Settings graced = graced(2, 600 * S, 600 * S);
    SenderMachine m = new SenderMachine(manifest(), graced);
    int a = m.join("a", real, key, true, now);
    m.join("b", real, key(2), true, now);
    m.checked(a, checked(2, 1), now + 40 * S);
    assertEquals(now + 80 * S, m.quorumStartNanos(), "a's check took 40 s");
    assertFalse(m.maybeStart(now + 79 * S), "b may take twice as long as a");
    assertTrue(m.maybeStart(now + 80 * S), "b is a straggler");
  }
}

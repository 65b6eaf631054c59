package org.clonecast.protocol.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.junit.jupiter.api.Test;

/** The receiver machine alone: reordering, duplicates, repair, NAK timing and backoff. */
class ReceiverMachineTest {
  static final int S = 500;
  static final long MS = 1_000_000L;
  final Random random = new Random(42);
  final byte[][] stored = new byte[3][];
  final Manifest manifest;

  ReceiverMachineTest() {
    List<ChunkEntry> e = new ArrayList<>();
    long off = 64;
    for (int c = 0; c < 3; c++) {
      stored[c] = new byte[c == 2 ? 30_000 : 3_100]; // chunk 2 has 60 symbols: two stripes
      random.nextBytes(stored[c]);
      e.add(new ChunkEntry(c, ChunkKind.ZSTD, off, stored[c].length, Sha256.of(new byte[32])));
      off += stored[c].length;
    }
    manifest = new Manifest(UUID.randomUUID(), 3L * 131072, 131072, e, Sha256.of(new byte[32]));
  }

  ReceiverMachine machine() {
    BitSet need = new BitSet();
    need.set(0, 3);
    return new ReceiverMachine(manifest, 1, 9, S, need, ReceiverMachine.Settings.defaults());
  }

  DataPacket data(int seq, int c, int j) {
    SymbolLayout l = new SymbolLayout(stored[c].length, S);
    return new DataPacket(
        1,
        seq,
        c,
        j,
        l.sourceCount(),
        Unpooled.wrappedBuffer(stored[c], l.offsetOf(j), l.lengthOf(j)));
  }

  RepairPacket repair(int seq, int c, int stripe, int row) {
    SymbolLayout l = new SymbolLayout(stored[c].length, S);
    byte[] out = new byte[S];
    ChunkRebuilder.encodeRepair(stored[c], l, stripe, row, out);
    return new RepairPacket(1, seq, c, stripe, row, l.sourceCount(), Unpooled.wrappedBuffer(out));
  }

  @Test
  void reorderedAndDuplicatedSymbolsStillRebuildTheChunk() {
    ReceiverMachine m = machine();
    List<Integer> order = new ArrayList<>();
    for (int j = 0; j < 7; j++) order.add(j);
    Collections.shuffle(order, random);
    ReceiverMachine.CompleteChunk done = null;
    int seq = 0;
    for (int j : order) {
      assertNull(done);
      done = m.onData(data(seq++, 0, j), MS);
      if (done == null) assertNull(m.onData(data(seq++, 0, j), MS)); // a duplicate changes nothing
    }
    assertNotNull(done);
    assertArrayEquals(stored[0], Arrays.copyOf(ChunkRebuilder.rebuild(done), stored[0].length));
    assertTrue(m.duplicates() >= 6);
  }

  @Test
  void lossIsReportedAfterTheStreamMovesOnAndRepairedByAnyRows() {
    ReceiverMachine m = machine();
    int seq = 0;
    for (int j = 0; j < 7; j++) if (j != 2 && j != 5) m.onData(data(seq++, 0, j), MS);
    assertTrue(m.poll(2 * MS).isEmpty(), "no NAK while chunk 0 is still streaming");
    m.onData(data(seq++, 1, 0), 3 * MS); // the sender moved on
    assertTrue(
        m.poll(3 * MS + MS / 2).isEmpty(),
        "waits nakDelay after the chunk's last packet for stragglers");
    List<Nak> naks = m.poll(10 * MS);
    assertEquals(1, naks.size());
    Nak.Entry e = naks.get(0).entries().get(0);
    assertEquals(0, e.chunk());
    assertEquals(2, e.need(0));
    assertEquals(0, e.rowsSeen(0));
    // Rows 5 and 9, whichever the sender chose, rebuild the two missing symbols.
    assertNull(m.onRepair(repair(seq++, 0, 0, 5), 11 * MS));
    ReceiverMachine.CompleteChunk cc = m.onRepair(repair(seq++, 0, 0, 9), 11 * MS);
    assertNotNull(cc);
    assertArrayEquals(stored[0], Arrays.copyOf(ChunkRebuilder.rebuild(cc), stored[0].length));
  }

  @Test
  void naksBackOffWhileTheChunkStaysIncomplete() {
    ReceiverMachine m = machine();
    m.onData(data(0, 0, 0), 0);
    for (int j = 0; j < 7; j++)
      m.onData(data(1 + j, 1, j), MS); // chunk 1 completes: only chunk 0 is owed
    List<Long> times = new ArrayList<>();
    for (long t = 0; t < 2000 * MS; t += MS) {
      if (!m.poll(t).isEmpty()) times.add(t);
    }
    assertTrue(times.size() >= 5 && times.size() < 20, "NAK times " + times);
    for (int i = 2; i < times.size(); i++) {
      assertTrue(
          times.get(i) - times.get(i - 1) >= times.get(i - 1) - times.get(i - 2),
          "backoff grows: " + times);
    }
  }

  @Test
  void twoStripeChunkReportsEachStripe() {
    ReceiverMachine m = machine();
    SymbolLayout l = new SymbolLayout(30_000, S);
    assertEquals(2, l.stripes());
    int seq = 0;
    for (int j = 0; j < l.sourceCount(); j++)
      if (j != 0 && j != 1 && j != 3) m.onData(data(seq++, 2, j), MS);
    m.onData(data(seq++, 0, 0), 2 * MS);
    Nak.Entry e = m.poll(100 * MS).get(0).entries().get(0);
    assertEquals(1, e.need(0)); // stripe 0 holds the even symbols: 0 is missing
    assertEquals(2, e.need(1)); // stripe 1 the odd ones: 1 and 3
  }

  @Test
  void packetsOfOtherSessionsAndWrongLayoutsAreDropped() {
    ReceiverMachine m = machine();
    SymbolLayout l = new SymbolLayout(stored[0].length, S);
    assertNull(
        m.onData(
            new DataPacket(2, 0, 0, 0, l.sourceCount(), Unpooled.wrappedBuffer(stored[0], 0, S)),
            0));
    assertNull(
        m.onData(
            new DataPacket(
                1, 0, 0, 0, l.sourceCount() + 1, Unpooled.wrappedBuffer(stored[0], 0, S)),
            0));
    assertNull(
        m.onData(
            new DataPacket(1, 0, 0, 0, l.sourceCount(), Unpooled.wrappedBuffer(stored[0], 0, 10)),
            0));
    assertEquals(3, m.dropped());
    assertEquals(0, m.inProgress());
  }

  @Test
  void statusReportsLossFromSequenceGaps() {
    ReceiverMachine m = machine();
    m.status(0);
    for (int seq = 0; seq < 100; seq++) if (seq % 10 != 0) m.onData(data(seq, 0, seq % 7), MS);
    Status s = m.status(0);
    // seq 1..99 sent after the first status, 10, 20, …, 90 lost: 90 of 99 arrived
    assertEquals(1000 - 90 * 1000 / 99, s.lossPermille());
  }

  /**
   * Chunks taken while the writes are behind count as overflow, and from {@link
   * ReceiverMachine#MAX_PENDING_WRITES} on they are not taken but collected again; with the writes
   * keeping up, a whole chunk is no overflow.
   */
  @Test
  void chunksTakenBehindTheWritesAreOverflowAndPastTheLimitCollectedAgain() {
    ReceiverMachine m = machine();
    m.status(0);
    int seq = 0;
    int seven = new SymbolLayout(stored[0].length, S).sourceCount();
    for (int j = 0; j < seven; j++) m.onData(data(seq++, 0, j), MS);
    assertTrue(m.take(0, ReceiverMachine.BEHIND_PENDING_WRITES - 1), "taken");
    assertEquals(0, m.status(0).overflowPermille(), "the writes keep up");

    for (int j = 0; j < seven; j++) m.onData(data(seq++, 1, j), MS);
    assertTrue(m.take(1, ReceiverMachine.BEHIND_PENDING_WRITES), "taken, behind");
    Status behind = m.status(0);
    assertEquals(0, behind.lossPermille());
    assertEquals(1000, behind.overflowPermille(), "all its packets came faster than its writes");

    int sixty = new SymbolLayout(stored[2].length, S).sourceCount();
    for (int j = 0; j < sixty; j++) m.onData(data(seq++, 2, j), MS);
    assertFalse(m.take(2, ReceiverMachine.MAX_PENDING_WRITES), "not taken");
    assertEquals(1000, m.status(0).overflowPermille());
    assertEquals(0, m.status(0).overflowPermille(), "counted once");
    assertFalse(m.missing().get(1), "chunk 1 was taken");
    assertTrue(m.missing().get(2), "chunk 2 is collected again");
    ReceiverMachine.CompleteChunk again = null;
    for (int j = 0; j < sixty; j++) again = m.onData(data(seq++, 2, j), 2 * MS);
    assertNotNull(again, "from a later pass");
  }

  @Test
  void aChunkThatKeepsFailingItsCheckIsCountedUntilItIsHopeless() {
    ReceiverMachine m = machine();
    SymbolLayout l = new SymbolLayout(stored[0].length, S);
    int seq = 0;
    for (int round = 1; round <= ReceiverMachine.MAX_CHUNK_FAILURES; round++) {
      ReceiverMachine.CompleteChunk cc = null;
      for (int j = 0; j < l.sourceCount(); j++) cc = m.onData(data(seq++, 0, j), round * 1000 * MS);
      assertNotNull(cc, "taken again in round " + round);
      assertEquals(round, m.chunkFailed(0));
    }
    // Only failed checks count: a chunk put back because the disk is behind is not a failure.
    for (int j = 0; j < l.sourceCount(); j++) m.onData(data(seq++, 1, j), 9000 * MS);
    m.chunkRejected(1);
    assertEquals(1, m.chunkFailed(1));
  }

  /**
   * A chunk taken by the unicast fallback: its partial symbols are dropped (no NAK for it), later
   * symbols are duplicates, and it can be taken only once until given back.
   */
  @Test
  void aChunkHandedOffToUnicastIsNeitherNakedNorCollectedAgain() {
    ReceiverMachine m = machine();
    assertNull(m.onData(data(0, 2, 0), MS));
    assertNull(m.onData(data(1, 2, 1), MS));
    BitSet all = new BitSet();
    all.set(0, 3);
    assertEquals(all, m.missing());
    assertTrue(m.handOff(2));
    assertFalse(m.handOff(2), "taken once");
    assertFalse(m.handOff(3), "past the manifest");
    assertFalse(m.handOff(-1));
    assertEquals(0, m.inProgress());
    assertTrue(m.poll(500 * MS).isEmpty(), "no NAK for a handed-off chunk");
    assertNull(m.onData(data(2, 2, 2), 500 * MS));
    assertEquals(0, m.inProgress(), "later symbols of it are duplicates");
    BitSet rest = new BitSet();
    rest.set(0, 2);
    assertEquals(rest, m.missing());
    m.chunkRejected(2); // the fetch failed: multicast or unicast may take it again
    assertEquals(all, m.missing());
    assertTrue(m.handOff(2));
    m.chunkWritten(2);
    assertFalse(m.handOff(2), "written");
    assertEquals(1, m.chunksWritten());
  }
}

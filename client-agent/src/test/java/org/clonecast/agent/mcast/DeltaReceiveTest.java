package org.clonecast.agent.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.clonecast.agent.disk.Target;
import org.clonecast.agent.disk.TargetCheck;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.common.testing.SampleDisks;
import org.clonecast.common.testing.SampleDisks.UsedDisk;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.UsedBlocks;
import org.clonecast.protocol.mcast.SenderMachine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delta receives with the real sender and receiver in one process, on loopback only: a target that
 * holds an older image, or a damaged copy, is hashed first and only the chunks that differ cross
 * the wire; a target that holds the image needs nothing; a receiver that does not check (what a
 * first-version agent does) still gets everything from the new sender.
 */
class DeltaReceiveTest {
  private static final int CS = 64 * 1024;
  private static final int CHUNKS = 40;

  @TempDir Path dir;

  /** Random chunks but chunk 20, which is zeros. */
  private static byte[] v1() {
    byte[] b = new byte[CHUNKS * CS];
    new Random(1).nextBytes(b);
    Arrays.fill(b, 20 * CS, 21 * CS, (byte) 0);
    return b;
  }

  private static void scribble(byte[] b, int chunk, int seed) {
    byte[] x = new byte[100];
    new Random(seed).nextBytes(x);
    System.arraycopy(x, 0, b, chunk * CS + 1000, x.length);
  }

  private Path image(byte[] logical, String name) throws Exception {
    Path raw = Files.write(dir.resolve(name + ".raw"), logical);
    Path cci = dir.resolve(name + ".cci");
    ImageCreator.create(raw, cci, CS, 3, 2, ProgressListener.NONE);
    return cci;
  }

  @Test
  void aTargetHoldingTheOldImageReceivesOnlyTheChangedAndDamagedChunks() throws Exception {
    byte[] v1 = v1();
    byte[] v2 = v1.clone();
    for (int c : new int[] {3, 17, 30}) scribble(v2, c, c);
    Path cci = image(v2, "v2");
    byte[] held = v1.clone();
    scribble(held, 8, 99); // damaged on this node
    scribble(held, 20, 98); // the image's zero chunk holds something here: zero-filled, not sent
    Path target = Files.write(dir.resolve("node.img"), held);

    LoopbackSession.Outcome s = LoopbackSession.send(cci, target, true);
    assertTrue(s.result().ok(), s.result().reason());
    assertArrayEquals(v2, Files.readAllBytes(target));
    assertEquals(4, s.machine().chunksSent(), "chunks 3, 8, 17 and 30, each once");
    SenderMachine.Receiver r = s.machine().receivers().iterator().next();
    assertTrue(r.checked());
    assertEquals(CHUNKS - 5, r.chunksRight());
    assertEquals(4, r.chunksAsked());

    // Again: the target holds the image now and needs nothing; it is checked, not trusted.
    LoopbackSession.Outcome again = LoopbackSession.send(cci, target, true);
    assertTrue(again.result().ok(), again.result().reason());
    assertEquals(0, again.machine().chunksSent());
    assertEquals(CHUNKS, again.machine().receivers().iterator().next().chunksRight());
    assertEquals(
        SenderMachine.ReceiverState.SUCCEEDED,
        again.machine().receivers().iterator().next().state());
    assertArrayEquals(v2, Files.readAllBytes(target));
  }

  /**
   * What a first-version agent does (no CAP_DELTA): the new sender serves it every chunk, and its
   * file is replaced.
   */
  @Test
  void aReceiverThatDoesNotCheckGetsEveryChunk() throws Exception {
    byte[] v2 = v1();
    Path cci = image(v2, "v2");
    Path target = Files.write(dir.resolve("node.img"), v2);
    LoopbackSession.Outcome s = LoopbackSession.send(cci, target, false);
    assertTrue(s.result().ok(), s.result().reason());
    // Every stored chunk; a receiver starved of CPU on a loaded host may take some on a second
    // pass, so the count of sends is not the claim.
    assertEquals(CHUNKS - 1, s.machine().distinctChunksSent(), "every stored chunk");
    assertFalse(s.machine().receivers().iterator().next().checked());
    assertArrayEquals(v2, Files.readAllBytes(target));
  }

  /**
   * With a filesystem-aware image only the used blocks are read and compared: garbage in free space
   * does not make a chunk wrong, a changed used block does.
   */
  @Test
  void theCheckReadsOnlyUsedBlocks() throws Exception {
    UsedDisk d = SampleDisks.withFreeSpace(dir.resolve("golden.raw"), 6L * 1024 * 1024 + 12345, 21);
    Path cci = dir.resolve("golden.cci");
    Manifest m =
        ImageCreator.create(d.path(), cci, CS, 3, 2, false, d.map(), ProgressListener.NONE);
    byte[] disk = Files.readAllBytes(d.path());
    int partial = -1;
    int unusedBlockAt = -1;
    for (int c = 0; c < m.chunkCount() && partial < 0; c++) {
      UsedBlocks u = m.chunk(c).used();
      if (m.chunk(c).kind().isStored() && u.isPartial()) {
        partial = c;
        for (int b = 0; b < UsedBlocks.blockCount(m.logicalLength(c)); b++) {
          if (!u.used(b)) {
            unusedBlockAt = c * CS + b * UsedBlocks.BLOCK;
            break;
          }
        }
      }
    }
    assertTrue(partial >= 0 && unusedBlockAt >= 0, "a stored chunk with an unused block");
    Arrays.fill(
        disk, unusedBlockAt, unusedBlockAt + UsedBlocks.BLOCK, (byte) 0x5A); // free space: ignored
    Path target = Files.write(dir.resolve("node.img"), disk);
    try (Target t = Target.open(target, m.logicalSize(), m.dataBytes(), true)) {
      assertTrue(t.holdsData());
      TargetCheck.Result r = TargetCheck.run(t, m, 3);
      assertTrue(r.needed().isEmpty(), "needed " + r.needed());
      assertEquals(m.usedBytes(), r.bytesRead(), "only used blocks are read");
      assertEquals(m.chunkCount() - m.count(ChunkKind.UNUSED), r.chunksRight());
      t.write(
          (long) partial * CS + firstUsed(m.chunk(partial).used()) * UsedBlocks.BLOCK,
          new byte[] {1, 2, 3},
          3);
      r = TargetCheck.run(t, m, 3);
      assertEquals(List.of(partial), r.needed().stream().boxed().toList(), "a changed used block");
    }
  }

  private static int firstUsed(UsedBlocks u) {
    int b = 0;
    while (!u.used(b)) b++;
    return b;
  }
}

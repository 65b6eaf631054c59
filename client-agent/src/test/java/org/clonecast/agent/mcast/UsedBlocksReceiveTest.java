package org.clonecast.agent.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.common.testing.SampleDisks;
import org.clonecast.common.testing.SampleDisks.UsedDisk;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.UsedBlocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real multicast sender and receiver in one process, on loopback only: an image made with an
 * allocation map is received and only its used blocks are written. A block-device target (a loop
 * device, needs root; skipped without) first holds garbage everywhere: afterwards the used blocks
 * equal the source and every unused block still holds the garbage, so nothing was written there.
 */
class UsedBlocksReceiveTest {
  private static final int CS = 64 * 1024;
  private static final long SIZE = 6L * 1024 * 1024 + 12345;

  @TempDir Path dir;

  private record Image(Path cci, Manifest manifest, byte[] logical, UsedDisk disk) {}

  private Image image() throws IOException {
    UsedDisk d = SampleDisks.withFreeSpace(dir.resolve("golden.raw"), SIZE, 21);
    // The used blocks of the first partly used chunk hold zeros: a partial ZERO chunk, whose zeros
    // a device must get.
    int zeroChunk = 0;
    while (d.map().forChunk(zeroChunk, CS).map(UsedBlocks::isAll).orElse(true)) {
      zeroChunk++;
    }
    UsedBlocks zeroUsed = d.map().forChunk(zeroChunk, CS).orElseThrow();
    long zeroAt = (long) zeroChunk * CS;
    try (FileChannel ch = FileChannel.open(d.path(), StandardOpenOption.WRITE)) {
      zeroUsed.forEachRun(CS, (off, n) -> ch.write(ByteBuffer.allocate(n), zeroAt + off));
    }
    Path cci = dir.resolve("golden.cci");
    Manifest m =
        ImageCreator.create(d.path(), cci, CS, 3, 2, false, d.map(), ProgressListener.NONE);
    assertEquals(ChunkKind.ZERO, m.chunk(zeroChunk).kind());
    assertTrue(m.chunk(zeroChunk).isPartial());
    assertTrue(m.count(ChunkKind.UNUSED) > 0, "some chunk is UNUSED");
    assertTrue(
        m.chunks().stream().anyMatch(e -> e.isPartial() && e.kind().isStored()),
        "some stored chunk is partial");
    return new Image(cci, m, SampleDisks.logical(Files.readAllBytes(d.path()), d.map()), d);
  }

  /**
   * Sends {@code img} to one receiver writing {@code output}, unchecked (a fresh write); returns
   * the receiver's result.
   */
  private static ReceiveResult send(Image img, Path output) throws Exception {
    LoopbackSession.Outcome o = LoopbackSession.send(img.cci(), output, false);
    if (o.machine() != null) assertEquals(1, o.machine().receivers().size());
    return o.result();
  }

  @Test
  void aFileTargetGetsTheLogicalBytesAndStaysSparse() throws Exception {
    Image img = image();
    Path out = dir.resolve("out.raw");
    ReceiveResult r = send(img, out);
    assertTrue(r.ok(), r.reason());
    assertArrayEquals(img.logical(), Files.readAllBytes(out));
    Process stat = new ProcessBuilder("stat", "-c", "%b %B", out.toString()).start();
    String[] blocks = new String(stat.getInputStream().readAllBytes()).trim().split(" ");
    assertEquals(0, stat.waitFor());
    long allocated = Long.parseLong(blocks[0]) * Long.parseLong(blocks[1]);
    // Only used blocks of stored chunks are written (plus the byte that sizes the file, and slack
    // for filesystem extents).
    assertTrue(
        allocated <= img.manifest().dataBytes() + 256 * 1024,
        "allocated " + allocated + " bytes for " + img.manifest().dataBytes() + " data bytes");
  }

  @Test
  void aDeviceTargetIsWrittenOnlyWhereBlocksAreUsed() throws Exception {
    Image img = image();
    byte[] garbage =
        new byte
            [(int) (SIZE / CS + 4) * CS]; // a device larger than the image, whole 512-byte sectors
    new Random(77).nextBytes(garbage);
    Path backing = Files.write(dir.resolve("target.raw"), garbage);
    String loop = tryRun("losetup", "-f", "--show", backing.toString());
    assumeTrue(loop != null && loop.startsWith("/dev/"), "no loop device (needs root and losetup)");
    byte[] after;
    try {
      ReceiveResult r = send(img, Path.of(loop));
      assertTrue(r.ok(), r.reason());
    } finally {
      tryRun("losetup", "-d", loop);
    }
    after = Files.readAllBytes(backing);
    Manifest m = img.manifest();
    long usedChecked = 0;
    long unusedChecked = 0;
    for (long b = 0; b < SIZE; b += UsedBlocks.BLOCK) {
      int from = (int) b;
      int to = (int) Math.min(SIZE, b + UsedBlocks.BLOCK);
      if (SampleDisks.usedBlock(img.disk().map(), b)) {
        assertArrayEquals(
            Arrays.copyOfRange(img.logical(), from, to),
            Arrays.copyOfRange(after, from, to),
            "used block at " + b);
        usedChecked++;
      } else {
        assertArrayEquals(
            Arrays.copyOfRange(garbage, from, to),
            Arrays.copyOfRange(after, from, to),
            "unused block at " + b + " was written");
        unusedChecked++;
      }
    }
    assertArrayEquals(
        Arrays.copyOfRange(garbage, (int) SIZE, garbage.length),
        Arrays.copyOfRange(after, (int) SIZE, garbage.length));
    assertEquals(
        m.usedBytes(),
        usedChecked * UsedBlocks.BLOCK - (UsedBlocks.BLOCK - SIZE % UsedBlocks.BLOCK));
    assertTrue(unusedChecked > 0);
  }

  private static String tryRun(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 ? out : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}

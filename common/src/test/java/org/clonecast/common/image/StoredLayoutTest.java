package org.clonecast.common.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The unicast fallback's ranges are read from the stored chunks that fill them, not from one file
 * (an image in the store's chunk pool has no {@code .cci} file to read them from), found by binary
 * search over the stored offsets.
 */
class StoredLayoutTest {
  private static final int CHUNK = 64 * 1024;

  @Test
  void everyRangeIsTheCciFilesBytes(@TempDir Path dir) throws IOException {
    byte[] raw = new byte[9 * CHUNK];
    new Random(7).nextBytes(raw);
    Arrays.fill(raw, 2 * CHUNK, 3 * CHUNK, (byte) 0); // ZERO chunks, which store nothing
    Arrays.fill(raw, 6 * CHUNK, 7 * CHUNK, (byte) 0);
    Path src = Files.write(dir.resolve("disk.raw"), raw);
    Path cci = dir.resolve("disk.cci");
    ImageCreator.create(src, cci, CHUNK, 3, 1, ProgressListener.NONE);
    byte[] file = Files.readAllBytes(cci);
    try (ImageReader image = ImageReader.open(cci)) {
      StoredLayout layout = StoredLayout.of(image.manifest());
      long first = image.manifest().chunk(0).storedOffset();
      long end = image.manifest().chunk(8).storedEnd();
      assertEquals(first, layout.regionStart());
      assertEquals(end, layout.regionEnd());
      // Every range on a grid of starts and lengths: inside one chunk, across chunks and the gaps
      // the ZERO chunks leave, starting and ending on chunk boundaries and between them.
      Random r = new Random(11);
      for (int n = 0; n < 300; n++) {
        long from = first + r.nextInt((int) (end - first));
        int len = 1 + r.nextInt((int) (end - from));
        assertArrayEquals(
            Arrays.copyOfRange(file, (int) from, (int) from + len),
            layout.read(image, from, len),
            from + "+" + len);
      }
      for (int c : new int[] {0, 1, 3, 4, 5, 7, 8}) {
        ChunkEntry e = image.manifest().chunk(c);
        assertArrayEquals(
            Arrays.copyOfRange(file, (int) e.storedOffset(), (int) e.storedEnd()),
            layout.read(image, e.storedOffset(), e.storedLength()));
      }
      // Past the stored chunks' end (the manifest's bytes): not chunk data, refused.
      assertThrows(IOException.class, () -> layout.read(image, end - 10, 20));
      assertThrows(IOException.class, () -> layout.read(image, first - 1, 2));
    }
  }

  @Test
  void overlappingChunksAreRefusedWithTheirIndices(@TempDir Path dir) throws IOException {
    byte[] raw = new byte[3 * CHUNK];
    new Random(3).nextBytes(raw);
    Path cci = dir.resolve("disk.cci");
    ImageCreator.create(
        Files.write(dir.resolve("disk.raw"), raw), cci, CHUNK, 3, 1, ProgressListener.NONE);
    try (ImageReader image = ImageReader.open(cci)) {
      Manifest m = image.manifest();
      List<ChunkEntry> chunks = new ArrayList<>(m.chunks());
      ChunkEntry c2 = chunks.get(2);
      chunks.set(
          2,
          new ChunkEntry(
              2,
              c2.kind(),
              chunks.get(1).storedOffset() + 1,
              c2.storedLength(),
              c2.sha256(),
              c2.used()));
      StoredLayout layout =
          StoredLayout.of(
              new Manifest(
                  m.imageId(),
                  m.logicalSize(),
                  m.chunkSize(),
                  chunks,
                  m.imageHash(),
                  m.hashOfChunks()));
      IOException e =
          assertThrows(IOException.class, () -> layout.read(image, m.chunk(0).storedOffset(), 1));
      assertTrue(e.getMessage().contains("chunks 1 and 2 overlap"), e.getMessage());
    }
  }
}

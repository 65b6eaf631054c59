package org.clonecast.server.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.ProgressListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The unicast fallback's ranges are read from the stored chunks that fill them, not from one file:
 * an image in the store's chunk pool has no {@code .cci} file to read them from.
 */
class UnicastRoutesTest {
  private static final int CHUNK = 64 * 1024;

  @Test
  void aRangeAcrossChunksIsTheCciFilesBytes(@TempDir Path dir) throws IOException {
    byte[] raw = new byte[6 * CHUNK];
    new Random(7).nextBytes(raw);
    Arrays.fill(raw, 2 * CHUNK, 3 * CHUNK, (byte) 0); // a ZERO chunk, which stores nothing
    Path src = Files.write(dir.resolve("disk.raw"), raw);
    Path cci = dir.resolve("disk.cci");
    ImageCreator.create(src, cci, CHUNK, 3, 1, ProgressListener.NONE);
    byte[] file = Files.readAllBytes(cci);
    try (ImageReader image = ImageReader.open(cci)) {
      long first = image.manifest().chunk(0).storedOffset();
      long end = image.manifest().chunk(5).storedEnd();
      // Every chunk on its own, and ranges that start and end inside chunks and cross the gap.
      for (int c : new int[] {0, 1, 3, 4, 5}) {
        long at = image.manifest().chunk(c).storedOffset();
        int len = image.manifest().chunk(c).storedLength();
        assertArrayEquals(
            Arrays.copyOfRange(file, (int) at, (int) at + len),
            UnicastRoutes.readRange(image, at, len));
      }
      long from = first + 100;
      int len = (int) (end - from - 50);
      assertArrayEquals(
          Arrays.copyOfRange(file, (int) from, (int) from + len),
          UnicastRoutes.readRange(image, from, len));
      // Past the stored chunks' end (the manifest's bytes): not chunk data, refused.
      assertThrows(IOException.class, () -> UnicastRoutes.readRange(image, end - 10, 20));
    }
  }
}

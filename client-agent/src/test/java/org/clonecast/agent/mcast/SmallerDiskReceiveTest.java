package org.clonecast.agent.mcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.clonecast.agent.disk.DiskCommands;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ProgressListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An image onto loop devices smaller than itself (needs root; skipped without): one whose partition
 * fits gets every byte up to the partition's end; one too small is refused before anything is
 * written to it, naming the sizes.
 */
class SmallerDiskReceiveTest {
  private static final int MIB = 1 << 20;

  @TempDir Path dir;

  private static String run(String... cmd) throws IOException, InterruptedException {
    return DiskCommands.run(cmd);
  }

  /**
   * 32 MiB, GPT, one partition from 1 MiB to 20 MiB holding random data in its first 6 MiB, zeros
   * after.
   */
  private Path golden() throws Exception {
    Path g = dir.resolve("golden.raw");
    try (RandomAccessFile f = new RandomAccessFile(g.toFile(), "rw")) {
      f.setLength(32L * MIB);
      byte[] data = new byte[6 * MIB];
      new Random(9).nextBytes(data);
      f.seek(MIB);
      f.write(data);
    }
    DiskCommands.sfdisk(g, "label: gpt\nstart=2048, size=38912\n");
    return g;
  }

  private String loop(Path backing, int mib, long seed) throws Exception {
    byte[] old = new byte[mib * MIB];
    new Random(seed).nextBytes(old);
    Files.write(backing, old);
    Process p =
        new ProcessBuilder("losetup", "--find", "--show", backing.toString())
            .redirectErrorStream(true)
            .start();
    String dev = new String(p.getInputStream().readAllBytes()).trim();
    assumeTrue(
        p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 && dev.startsWith("/dev/"),
        "no loop device (needs root): " + dev);
    return dev;
  }

  @Test
  void aSmallerDiskThatHoldsThePartitionsIsWrittenOneTooSmallIsRefused() throws Exception {
    Path raw = golden();
    Path cci = dir.resolve("golden.cci");
    ImageCreator.create(raw, cci, MIB, 3, 2, ProgressListener.NONE);
    byte[] want = Files.readAllBytes(raw);

    Path fitsBacking = dir.resolve("fits.img");
    String fits = loop(fitsBacking, 24, 1);
    try {
      LoopbackSession.Outcome o = LoopbackSession.send(cci, Path.of(fits), true);
      assertTrue(o.result().ok(), o.result().reason());
    } finally {
      run("losetup", "-d", fits);
    }
    byte[] got = Files.readAllBytes(fitsBacking);
    assertEquals(
        -1,
        Arrays.mismatch(
            Arrays.copyOfRange(want, 0, 21 * MIB), Arrays.copyOfRange(got, 0, 21 * MIB)),
        "every byte up to past the partition, zeros included");

    Path smallBacking = dir.resolve("small.img");
    String small = loop(smallBacking, 16, 2);
    byte[] before = Files.readAllBytes(smallBacking);
    try {
      LoopbackSession.Outcome o = LoopbackSession.send(cci, Path.of(small), true);
      assertFalse(o.result().ok());
      assertEquals(
          "target "
              + small
              + " is too small: 16777216 bytes, the image is 33554432: its partition 1 ends at byte 20971520, and"
              + " the backup GPT takes 16896 more; the disk needs at least 20988416 bytes",
          o.result().reason());
    } finally {
      run("losetup", "-d", small);
    }
    assertArrayEquals(before, Files.readAllBytes(smallBacking), "nothing written");
  }
}

package org.clonecast.common.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.clonecast.common.testing.SampleDisks;
import org.clonecast.protocol.image.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Block devices (a loop device) and a full disk (a 1 MiB tmpfs). Both need root; without it these
 * tests are skipped (in CI, which runs as root, they run).
 */
class DeviceTest {
  private static final int CS = 64 * 1024;

  @TempDir Path dir;

  private static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).trim();
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }

  private static String tryRun(String... cmd) {
    try {
      return run(cmd);
    } catch (IOException | InterruptedException e) {
      return null;
    }
  }

  @Test
  void loopDeviceAsSourceAndTarget() throws Exception {
    Path backing = SampleDisks.mixed(dir.resolve("disk.raw"), 3L << 20, 7, 50_000);
    String loop = tryRun("losetup", "-f", "--show", backing.toString());
    assumeTrue(loop != null && loop.startsWith("/dev/"), "no loop device (needs root and losetup)");
    Path target =
        SampleDisks.write(dir.resolve("target.raw"), 4L << 20, SampleDisks.Fill.RANDOM, 9);
    String loop2 = tryRun("losetup", "-f", "--show", target.toString());
    try {
      assumeTrue(loop2 != null, "no second loop device");
      Path dev = Path.of(loop);
      assertTrue(SourceDevice.isBlockDevice(dev));
      Path cci = dir.resolve("dev.cci");
      Manifest m = ImageCreator.create(dev, cci, CS, 3, 2, ProgressListener.NONE);
      assertEquals(3L << 20, m.logicalSize());
      try (ImageReader r = ImageReader.open(cci)) {
        ImageExtractor.Result res =
            ImageExtractor.extract(r, Path.of(loop2), ImageExtractor.Options.defaults());
        assertTrue(res.device());
        assertEquals(m.logicalSize(), res.bytesWritten(), "zero chunks are written to devices");
      }
      run("sync");
      byte[] want = Files.readAllBytes(backing);
      byte[] got = Arrays.copyOf(Files.readAllBytes(Path.of(loop2)), want.length);
      assertArrayEquals(want, got);
    } finally {
      tryRun("losetup", "-d", loop);
      if (loop2 != null) {
        tryRun("losetup", "-d", loop2);
      }
    }
  }

  @Test
  void mountedDevicesAreRecognised() throws Exception {
    Path backing = SampleDisks.write(dir.resolve("m.raw"), 1L << 20, SampleDisks.Fill.ZERO, 1);
    String loop = tryRun("losetup", "-f", "--show", backing.toString());
    assumeTrue(loop != null && loop.startsWith("/dev/"), "no loop device (needs root and losetup)");
    try {
      Path dev = Path.of(loop);
      assertEquals(
          "",
          SourceDevice.mountedAt(dev, "proc /proc proc rw 0 0\n/dev/vda / ext4 rw 0 0\n")
              .orElse(""));
      assertEquals(
          loop + " on /mnt/my disk",
          SourceDevice.mountedAt(
                  dev, "/dev/vda / ext4 rw 0 0\n" + loop + " /mnt/my\\040disk ext4 rw 0 0\n")
              .orElseThrow());
      assertTrue(
          SourceDevice.mountedAt(Path.of("/dev/full"), "/dev/vda / ext4 rw 0 0\n").isEmpty());
    } finally {
      tryRun("losetup", "-d", loop);
    }
  }

  @Test
  void fullDiskRemovesThePartialFile() throws Exception {
    Path mnt = Files.createDirectory(dir.resolve("small"));
    assumeTrue(
        tryRun("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.toString()) != null,
        "cannot mount tmpfs (needs root)");
    try {
      Path raw = SampleDisks.write(dir.resolve("big.raw"), 4L << 20, SampleDisks.Fill.RANDOM, 3);
      Path out = mnt.resolve("big.cci");
      IOException e =
          assertThrows(
              IOException.class,
              () -> ImageCreator.create(raw, out, CS, 3, 2, ProgressListener.NONE));
      assertTrue(String.valueOf(e.getMessage()).contains("No space left on device"), e.toString());
      assertFalse(Files.exists(out));
      assertFalse(Files.exists(PartialFile.partialName(out)));
    } finally {
      tryRun("umount", mnt.toString());
    }
  }

  @Test
  void charDeviceTargetIsWrittenInPlace() throws Exception {
    Path full = Path.of("/dev/full");
    assumeTrue(Files.isWritable(full), "no /dev/full");
    Path cci = dir.resolve("f.cci");
    ImageCreator.create(
        SampleDisks.write(dir.resolve("f.raw"), 200_000, SampleDisks.Fill.TEXT, 1),
        cci,
        CS,
        3,
        1,
        ProgressListener.NONE);
    try (ImageReader r = ImageReader.open(cci)) {
      IOException e =
          assertThrows(
              IOException.class,
              () -> ImageExtractor.extract(r, full, ImageExtractor.Options.defaults()));
      assertTrue(String.valueOf(e.getMessage()).contains("No space left on device"), e.toString());
      assertEquals(
          r.manifest().logicalSize(),
          ImageExtractor.extract(r, Path.of("/dev/null"), ImageExtractor.Options.defaults())
              .bytesWritten());
    }
  }
}

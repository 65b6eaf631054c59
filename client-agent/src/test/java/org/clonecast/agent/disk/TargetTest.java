package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetTest {
  @TempDir Path dir;

  @Test
  void aFileIsTruncatedAndExtendedSoZeroChunksNeedNoWrites() throws Exception {
    Path f = Files.write(dir.resolve("disk.img"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    try (Target t = Target.open(f, 1 << 20, 4096)) {
      assertFalse(t.blockDevice());
      t.write(4096, new byte[] {9, 9, 9}, 3);
      t.sync();
    }
    byte[] back = Files.readAllBytes(f);
    assertEquals(1 << 20, back.length);
    assertEquals(0, back[0], "old contents are gone");
    assertArrayEquals(new byte[] {9, 9, 9}, Arrays.copyOfRange(back, 4096, 4099));
  }

  /** A loop device stands in for a worker's disk (the tests run as root, as the agent does). */
  @Test
  void aBlockDeviceSmallerThanTheImageIsRefused() throws Exception {
    Path backing = dir.resolve("small.disk");
    try (var f =
        FileChannel.open(backing, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      f.write(ByteBuffer.wrap(new byte[1]), (8 << 20) - 1);
    }
    Process p =
        new ProcessBuilder("losetup", "--find", "--show", backing.toString())
            .redirectErrorStream(true)
            .start();
    String dev = new String(p.getInputStream().readAllBytes()).trim();
    assertEquals(0, p.waitFor(), "losetup failed (needs root and loop devices): " + dev);
    try {
      TargetException e =
          assertThrows(
              TargetException.class, () -> Target.open(Path.of(dev), 64L << 20, 64L << 20));
      assertEquals(
          "target " + dev + " is too small: 8388608 bytes, the image needs 67108864",
          e.getMessage());
      try (Target t = Target.open(Path.of(dev), 4L << 20, 4L << 20)) {
        assertTrue(t.blockDevice());
        assertEquals(8L << 20, t.size());
        // A size learnt later (udpcast's image length arrives after the connection): the same
        // check.
        assertEquals(Optional.empty(), t.roomFor(8L << 20));
        assertEquals(
            Optional.of("target " + dev + " is too small: 8388608 bytes, the image needs 8388609"),
            t.roomFor((8L << 20) + 1));
      }
    } finally {
      new ProcessBuilder("losetup", "-d", dev).start().waitFor();
    }
  }

  @Test
  void problemsAreNamedWithTheFix() {
    TargetException missingDir =
        assertThrows(
            TargetException.class, () -> Target.open(dir.resolve("no/such/disk.img"), 4096, 4096));
    assertTrue(
        missingDir.getMessage().contains("does not exist; create it or choose another --output"),
        missingDir.getMessage());
    TargetException isDir = assertThrows(TargetException.class, () -> Target.open(dir, 4096, 4096));
    assertTrue(isDir.getMessage().contains("is a directory"), isDir.getMessage());
    TargetException full =
        assertThrows(
            TargetException.class,
            () -> Target.open(dir.resolve("huge.img"), Long.MAX_VALUE / 2, Long.MAX_VALUE / 2));
    assertTrue(full.getMessage().startsWith("not enough space for "), full.getMessage());
  }
}

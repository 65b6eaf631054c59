package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
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
    assertArrayEquals(new byte[] {9, 9, 9}, java.util.Arrays.copyOfRange(back, 4096, 4099));
  }

  @Test
  void problemsAreNamedWithTheFix() {
    TargetException missingDir = assertThrows(TargetException.class, () -> Target.open(dir.resolve("no/such/disk.img"), 4096, 4096));
    assertTrue(missingDir.getMessage().contains("does not exist; create it or choose another --output"), missingDir.getMessage());
    TargetException isDir = assertThrows(TargetException.class, () -> Target.open(dir, 4096, 4096));
    assertTrue(isDir.getMessage().contains("is a directory"), isDir.getMessage());
    TargetException full = assertThrows(TargetException.class, () -> Target.open(dir.resolve("huge.img"), Long.MAX_VALUE / 2, Long.MAX_VALUE / 2));
    assertTrue(full.getMessage().startsWith("not enough space for "), full.getMessage());
  }
}

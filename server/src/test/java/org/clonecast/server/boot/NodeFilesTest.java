package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeFilesTest {
  @TempDir Path dir;

  @Test
  void allThenTheNodesOwnWhichWin() throws IOException {
    Files.createDirectories(dir.resolve("all/etc/ssh"));
    Files.createDirectories(dir.resolve("node07/etc"));
    Files.writeString(dir.resolve("all/etc/motd"), "everyone\n");
    Files.writeString(dir.resolve("all/etc/ssh/banner"), "hello\n");
    Files.writeString(dir.resolve("node07/etc/motd"), "node07 only\n");
    assertEquals(
        Map.of("/etc/motd", "node07 only\n", "/etc/ssh/banner", "hello\n"),
        NodeFiles.forNode(dir, "node07"));
    assertEquals(
        Map.of("/etc/motd", "everyone\n", "/etc/ssh/banner", "hello\n"),
        NodeFiles.forNode(dir, "node08"));
    assertEquals(
        Map.of(), NodeFiles.forNode(dir.resolve("none"), "node07"), "no directory: no files");
  }

  @Test
  void symlinksBinariesAndTooMuchAreRefusedByName() throws IOException {
    Files.createDirectories(dir.resolve("all/etc"));
    Files.createSymbolicLink(dir.resolve("all/etc/passwd"), Path.of("/etc/passwd"));
    IOException link = assertThrows(IOException.class, () -> NodeFiles.forNode(dir, "n1"));
    assertTrue(link.getMessage().contains("not a regular file"), link.getMessage());
    Files.delete(dir.resolve("all/etc/passwd"));
    Files.write(dir.resolve("all/etc/blob"), new byte[] {(byte) 0xff, (byte) 0xfe, 0});
    IOException bin = assertThrows(IOException.class, () -> NodeFiles.forNode(dir, "n1"));
    assertTrue(bin.getMessage().contains("not UTF-8 text"), bin.getMessage());
    Files.delete(dir.resolve("all/etc/blob"));
    Files.writeString(dir.resolve("all/etc/big"), "x".repeat((int) NodeFiles.MAX_TOTAL + 1));
    IOException big = assertThrows(IOException.class, () -> NodeFiles.forNode(dir, "n1"));
    assertTrue(big.getMessage().contains("exceed"), big.getMessage());
    assertThrows(IllegalArgumentException.class, () -> NodeFiles.forNode(dir, "../etc"));
  }
}

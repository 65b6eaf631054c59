package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tables written by sfdisk (util-linux), read back: what the agent meets on a real golden image. */
class PartitionTableTest {
  private static Path disk(Path dir, String script) throws IOException, InterruptedException {
    Path d = dir.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "rw")) {
      f.setLength(64L << 20);
    }
    Process p = new ProcessBuilder("sfdisk", "--no-reread", "--no-tell-kernel", d.toString()).redirectErrorStream(true).start();
    p.getOutputStream().write(script.getBytes());
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    return d;
  }

  private static byte[] head(Path d) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "r")) {
      byte[] b = new byte[PartitionTable.HEAD_BYTES];
      f.readFully(b);
      return b;
    }
  }

  @Test
  void gptWithAnEspAndALinuxRoot(@TempDir Path dir) throws Exception {
    Path d = disk(dir, "label: gpt\nstart=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
        + "start=18432, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n");
    PartitionTable t = PartitionTable.parse(head(d)).orElseThrow();
    assertEquals("gpt", t.scheme());
    assertEquals(2, t.partitions().size());
    PartitionTable.Partition esp = t.partitions().get(0);
    assertEquals(1, esp.number());
    assertEquals("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", esp.type());
    assertEquals(2048L * 512, esp.offset());
    assertEquals(16384L * 512, esp.size());
    assertFalse(esp.linux());
    PartitionTable.Partition root = t.partitions().get(1);
    assertEquals(2, root.number());
    assertEquals(PartitionTable.GPT_LINUX_ROOT_X86_64, root.type());
    assertEquals(18432L * 512, root.offset());
    assertTrue(root.linux());
  }

  @Test
  void mbrWithALinuxPartition(@TempDir Path dir) throws Exception {
    Path d = disk(dir, "label: dos\nstart=2048, size=8192, type=c\nstart=10240, type=83\n");
    PartitionTable t = PartitionTable.parse(head(d)).orElseThrow();
    assertEquals("mbr", t.scheme());
    assertEquals(List.of("0c", "83"), t.partitions().stream().map(PartitionTable.Partition::type).toList());
    assertEquals(10240L * 512, t.partitions().get(1).offset());
    assertTrue(t.partitions().get(1).linux());
  }

  @Test
  void aBlankDiskHasNoTable() {
    assertEquals(Optional.empty(), PartitionTable.parse(new byte[PartitionTable.HEAD_BYTES]));
    assertEquals(Optional.empty(), PartitionTable.parse(new byte[100]));
  }

  @Test
  void ext4MagicIsRecognised(@TempDir Path dir) throws Exception {
    Path fs = dir.resolve("fs.img");
    try (RandomAccessFile f = new RandomAccessFile(fs.toFile(), "rw")) {
      f.setLength(8L << 20);
    }
    Process p = new ProcessBuilder("mkfs.ext4", "-q", "-F", fs.toString()).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    byte[] b = new byte[2048];
    try (RandomAccessFile f = new RandomAccessFile(fs.toFile(), "r")) {
      f.readFully(b);
    }
    assertTrue(PartitionTable.isExt(b));
    assertFalse(PartitionTable.isExt(new byte[2048]));
    assertTrue(Files.size(fs) > 0);
  }

  @Property
  void anyBytesParseOrYieldNothingNeverThrow(@ForAll @Size(max = 17408) byte[] bytes) {
    if (bytes.length >= 512) {
      bytes[510] = 0x55;
      bytes[511] = (byte) 0xaa;
    }
    PartitionTable.parse(bytes);
  }
}

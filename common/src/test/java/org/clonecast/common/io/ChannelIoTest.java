package org.clonecast.common.io;

import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChannelIoTest {
  @TempDir Path dir;

  @Test
  void writesEncodedBytesWhereAskedAndReadsThemBack() throws Exception {
    try (FileChannel ch = FileChannel.open(dir.resolve("f"), CREATE, READ, WRITE)) {
      assertEquals(3, ChannelIo.writeEncoded(ch, b -> b.writeBytes(new byte[] {1, 2, 3}), 5));
      ChannelIo.writeFully(ch, ByteBuffer.wrap(new byte[] {9}), 0);
      assertArrayEquals(new byte[] {9, 0, 0, 0, 0, 1, 2, 3}, Files.readAllBytes(dir.resolve("f")));

      ByteBuffer three = ByteBuffer.allocate(3);
      ChannelIo.readFully(ch, three, 5, "f");
      assertArrayEquals(new byte[] {1, 2, 3}, three.array());
    }
  }

  @Test
  void readUpToStopsAtTheEndAndReadFullyRefusesTo() throws Exception {
    Files.write(dir.resolve("f"), new byte[] {1, 2, 3, 4});
    try (FileChannel ch = FileChannel.open(dir.resolve("f"), READ)) {
      assertArrayEquals(new byte[] {3, 4}, ChannelIo.readUpTo(ch, 2, 10));
      assertArrayEquals(new byte[0], ChannelIo.readUpTo(ch, 9, 10));
      EOFException e =
          assertThrows(
              EOFException.class, () -> ChannelIo.readFully(ch, ByteBuffer.allocate(3), 2, "f"));
      assertEquals("f: unexpected end of file at byte 4, wanted 1 more", e.getMessage());
    }
  }
}

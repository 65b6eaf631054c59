package org.clonecast.server.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.UUID;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Sha256;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The partial image and its journal across simulated crashes. */
class CaptureUploadTest {
  static final int CHUNK = 4096;
  static final long SIZE = 10 * CHUNK;
  static final UUID ID = UUID.fromString("00000000-0000-0000-0000-00000000c0de");
  @TempDir Path dir;

  private static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Appends chunks 0, 2 and 5 (1000, 2000 and 3000 stored bytes). */
  private CaptureUpload threeChunks(Path file) throws Exception {
    CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK);
    int[] index = {0, 2, 5};
    for (int i = 0; i < 3; i++) {
      byte[] b = bytes(1000 * (i + 1), i);
      u.append(new JournalRecord(index[i], 1, u.end(), b.length, Sha256.digest(b, 0, b.length), new byte[i]), ByteBuffer.wrap(b));
    }
    return u;
  }

  @Test
  void aCleanRestartHoldsEveryJournalledChunk() throws Exception {
    Path file = dir.resolve("golden.cci");
    try (CaptureUpload u = threeChunks(file)) {
      assertEquals(5, u.lastIndex());
    }
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK)) {
      assertEquals(3, u.records().size());
      assertEquals(5, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH + 6000, u.end());
      assertTrue(u.record(2).isPresent() && u.record(3).isEmpty());
      assertEquals(2, u.record(5).orElseThrow().usedMap().length, "the used map came back");
    }
  }

  /**
   * A crash after a chunk's bytes were written but before its record, and one in the middle of a
   * record: the replay keeps the whole records, cuts the torn one and the unjournalled bytes, and
   * the upload goes on from there.
   */
  @Test
  void aTornRecordAndUnjournalledBytesAreCutOff() throws Exception {
    Path file = dir.resolve("golden.cci");
    threeChunks(file).close();
    Path data = CaptureUpload.dataPath(file);
    Path journal = CaptureUpload.journalPath(file);
    long journalGood = Files.size(journal);
    Files.write(data, bytes(777, 9), StandardOpenOption.APPEND); // a chunk's bytes, never journalled
    ByteBuf rec = Unpooled.buffer();
    new JournalRecord(7, 2, ImageFileHeader.LENGTH + 6000, 777, Sha256.digest(new byte[1], 0, 1), new byte[0]).encode(rec);
    byte[] torn = new byte[rec.readableBytes() - 5];
    rec.readBytes(torn);
    Files.write(journal, torn, StandardOpenOption.APPEND);
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK)) {
      assertEquals(3, u.records().size());
      assertEquals(5, u.lastIndex());
      assertEquals(journalGood, Files.size(journal), "the torn record is cut");
      assertEquals(ImageFileHeader.LENGTH + 6000, Files.size(data), "the unjournalled bytes are cut");
      byte[] b = bytes(500, 11);
      u.append(new JournalRecord(6, 1, u.end(), 500, Sha256.digest(b, 0, 500), new byte[0]), ByteBuffer.wrap(b));
    }
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK)) {
      assertEquals(6, u.lastIndex(), "what came after the repair is held too");
    }
  }

  /** A data file shorter than its journal says (damaged): the records past its end are dropped. */
  @Test
  void recordsBeyondATruncatedDataFileAreDropped() throws Exception {
    Path file = dir.resolve("golden.cci");
    threeChunks(file).close();
    try (FileChannel ch = FileChannel.open(CaptureUpload.dataPath(file), StandardOpenOption.WRITE)) {
      ch.truncate(ImageFileHeader.LENGTH + 2500);
    }
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK)) {
      assertEquals(1, u.records().size());
      assertEquals(0, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH + 1000, Files.size(CaptureUpload.dataPath(file)));
    }
  }

  @Test
  void anUploadOfAnotherImageStartsAgain() throws Exception {
    Path file = dir.resolve("golden.cci");
    threeChunks(file).close();
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE + CHUNK, CHUNK)) {
      assertEquals(-1, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH, Files.size(CaptureUpload.dataPath(file)));
      assertEquals(0, Files.size(CaptureUpload.journalPath(file)));
    }
  }

  @Test
  void chunksOnlyFollowTheLastOne() throws Exception {
    try (CaptureUpload u = threeChunks(dir.resolve("golden.cci"))) {
      byte[] b = bytes(10, 1);
      Sha256 sha = Sha256.digest(b, 0, 10);
      assertThrows(IllegalStateException.class, () -> u.append(new JournalRecord(4, 1, u.end(), 10, sha, new byte[0]), ByteBuffer.wrap(b)));
      assertThrows(IllegalStateException.class, () -> u.append(new JournalRecord(6, 1, u.end() - 1, 10, sha, new byte[0]),
          ByteBuffer.wrap(b)));
    }
  }

  /** Every truncation and every flipped byte of a record decodes to MalformedImageException or to the same record. */
  @Test
  void damagedRecordsAreMalformed() {
    ByteBuf buf = Unpooled.buffer();
    JournalRecord r = new JournalRecord(3, 1, 64, 100, Sha256.digest(new byte[3], 0, 3), new byte[] {1, 2});
    r.encode(buf);
    byte[] good = new byte[buf.readableBytes()];
    buf.readBytes(good);
    assertEquals(r, JournalRecord.decode(Unpooled.wrappedBuffer(good)));
    for (int n = 0; n < good.length; n++) {
      byte[] cut = java.util.Arrays.copyOf(good, n);
      assertThrows(MalformedImageException.class, () -> JournalRecord.decode(Unpooled.wrappedBuffer(cut)), "cut at " + n);
    }
    for (int i = 0; i < good.length; i++) {
      byte[] bad = good.clone();
      bad[i] ^= 0x40;
      assertThrows(MalformedImageException.class, () -> JournalRecord.decode(Unpooled.wrappedBuffer(bad)), "byte " + i);
    }
  }
}

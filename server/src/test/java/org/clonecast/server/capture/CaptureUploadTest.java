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
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.image.UsedBlocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The partial image and its journal across simulated crashes. */
class CaptureUploadTest {
  static final int CHUNK = 16384;
  static final long SIZE = 10 * CHUNK;
  static final UUID ID = UUID.fromString("00000000-0000-0000-0000-00000000c0de");
  /** Blocks 0 and 2 of a chunk's four used. */
  static final byte[] MAP = {(byte) 0xa0};
  @TempDir Path dir;

  private static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** A real RAW chunk (replay checks every held chunk's hash): random bytes, unused blocks zero. */
  private static void append(CaptureUpload u, int index, int seed, byte[] map) throws Exception {
    byte[] b = bytes(CHUNK, seed);
    if (map.length > 0) {
      UsedBlocks.of(map, UsedBlocks.blockCount(CHUNK)).zeroUnused(b, 0, CHUNK);
    }
    u.append(new JournalRecord(index, ChunkKind.RAW.code(), u.end(), CHUNK, Sha256.digest(b, 0, CHUNK), map), ByteBuffer.wrap(b));
  }

  /** Appends chunks 0, 2 and 5 (the last with a used-block map). */
  private CaptureUpload threeChunks(Path file) throws Exception {
    CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK);
    append(u, 0, 0, new byte[0]);
    append(u, 2, 1, new byte[0]);
    append(u, 5, 2, MAP);
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
      assertEquals(ImageFileHeader.LENGTH + 3 * CHUNK, u.end());
      assertTrue(u.record(2).isPresent() && u.record(3).isEmpty());
      assertEquals(1, u.record(5).orElseThrow().usedMap().length, "the used map came back");
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
    new JournalRecord(7, 2, ImageFileHeader.LENGTH + 3 * CHUNK, 777, Sha256.digest(new byte[1], 0, 1), new byte[0]).encode(rec);
    byte[] torn = new byte[rec.readableBytes() - 5];
    rec.readBytes(torn);
    Files.write(journal, torn, StandardOpenOption.APPEND);
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK)) {
      assertEquals(3, u.records().size());
      assertEquals(5, u.lastIndex());
      assertEquals(journalGood, Files.size(journal), "the torn record is cut");
      assertEquals(ImageFileHeader.LENGTH + 3 * CHUNK, Files.size(data), "the unjournalled bytes are cut");
      append(u, 6, 11, new byte[0]);
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
      ch.truncate(ImageFileHeader.LENGTH + CHUNK + CHUNK / 2);
    }
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK)) {
      assertEquals(1, u.records().size());
      assertEquals(0, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH + CHUNK, Files.size(CaptureUpload.dataPath(file)));
    }
  }

  /**
   * Fsyncs are grouped, so a crash can leave a journalled chunk whose bytes never fully reached
   * the disk: replay checks every held chunk against its hash and stops at the first that fails.
   */
  @Test
  void aJournalledChunkWhoseBytesAreDamagedIsDroppedWithAllAfterIt() throws Exception {
    Path file = dir.resolve("golden.cci");
    threeChunks(file).close();
    try (FileChannel ch = FileChannel.open(CaptureUpload.dataPath(file), StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(new byte[100]), ImageFileHeader.LENGTH + CHUNK + 10); // inside chunk 2
    }
    try (CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK)) {
      assertEquals(0, u.lastIndex(), "chunk 2 no longer verifies, so neither it nor chunk 5 is held");
      assertEquals(ImageFileHeader.LENGTH + CHUNK, Files.size(CaptureUpload.dataPath(file)));
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

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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Executor;
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

  /** Grouped fsyncs run at once, on the appending thread. */
  static final Executor SYNC = Runnable::run;

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
    u.append(
        new JournalRecord(
            index, ChunkKind.RAW.code(), u.end(), CHUNK, Sha256.digest(b, 0, CHUNK), map),
        ByteBuffer.wrap(b),
        b);
  }

  /**
   * The SHA-256 of a logical image of SIZE bytes holding chunk {@code seeds[i]}'s bytes at {@code
   * indexes[i]}, zeros elsewhere.
   */
  private static Sha256 imageOf(int[] indexes, int[] seeds, byte[][] maps) {
    byte[] image = new byte[(int) SIZE];
    for (int i = 0; i < indexes.length; i++) {
      byte[] b = bytes(CHUNK, seeds[i]);
      if (maps[i].length > 0) {
        UsedBlocks.of(maps[i], UsedBlocks.blockCount(CHUNK)).zeroUnused(b, 0, CHUNK);
      }
      System.arraycopy(b, 0, image, indexes[i] * CHUNK, CHUNK);
    }
    return Sha256.digest(image, 0, image.length);
  }

  /** Appends chunks 0, 2 and 5 (the last with a used-block map). */
  private CaptureUpload threeChunks(Path file) throws Exception {
    CaptureUpload u = CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime);
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
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(3, u.records().size());
      assertEquals(5, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH + 3 * CHUNK, u.end());
      assertTrue(u.record(2).isPresent() && u.record(3).isEmpty());
      assertEquals(1, u.record(5).orElseThrow().usedMap().length, "the used map came back");
    }
  }

  /**
   * The image hash is kept as chunks are appended (chunks that store nothing count as zeros) and
   * redone by the replay: the same as hashing the whole logical image, before and after a restart,
   * and after a replay that drops damaged chunks.
   */
  @Test
  void theImageHashIsKeptAcrossAppendsAndRestarts() throws Exception {
    Path file = dir.resolve("golden.cci");
    Sha256 want = imageOf(new int[] {0, 2, 5}, new int[] {0, 1, 2}, new byte[][] {{}, {}, MAP});
    try (CaptureUpload u = threeChunks(file)) {
      assertEquals(want, u.imageHash());
      assertEquals(want, u.imageHash(), "asking does not change it");
    }
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(want, u.imageHash(), "the replay hashes what it checks");
      append(u, 9, 3, new byte[0]);
      assertEquals(
          imageOf(new int[] {0, 2, 5, 9}, new int[] {0, 1, 2, 3}, new byte[][] {{}, {}, MAP, {}}),
          u.imageHash());
    }
    try (FileChannel ch =
        FileChannel.open(CaptureUpload.dataPath(file), StandardOpenOption.WRITE)) {
      ch.write(
          ByteBuffer.wrap(new byte[100]), ImageFileHeader.LENGTH + CHUNK + 10); // inside chunk 2
    }
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(
          imageOf(new int[] {0}, new int[] {0}, new byte[][] {{}}),
          u.imageHash(),
          "only chunk 0 is left");
    }
  }

  /**
   * An upload of a version 3 image keeps no hash of the logical bytes and takes no logical bytes,
   * but its replay still checks every held chunk: a damaged one is dropped with those after it.
   */
  @Test
  void aVersion3UploadKeepsNoImageHashButReplayStillChecksChunks() throws Exception {
    Path file = dir.resolve("golden.cci");
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, true, SYNC, System::nanoTime)) {
      assertTrue(u.hashesChunkDigests());
      for (int[] c : new int[][] {{0, 0}, {2, 1}, {5, 2}}) {
        byte[] b = bytes(CHUNK, c[1]);
        u.append(
            new JournalRecord(
                c[0],
                ChunkKind.RAW.code(),
                u.end(),
                CHUNK,
                Sha256.digest(b, 0, CHUNK),
                new byte[0]),
            ByteBuffer.wrap(b),
            null);
      }
      assertThrows(IllegalStateException.class, u::imageHash);
    }
    try (FileChannel ch =
        FileChannel.open(CaptureUpload.dataPath(file), StandardOpenOption.WRITE)) {
      ch.write(
          ByteBuffer.wrap(new byte[100]), ImageFileHeader.LENGTH + CHUNK + 10); // inside chunk 2
    }
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, true, SYNC, System::nanoTime)) {
      assertEquals(
          0,
          u.lastIndex(),
          "the replay checked chunk 2 against its hash and dropped it and chunk 5");
      assertEquals(ImageFileHeader.LENGTH + CHUNK, u.end());
    }
    // Opened for an older agent, the same files give the hash of the logical bytes again.
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(imageOf(new int[] {0}, new int[] {0}, new byte[][] {{}}), u.imageHash());
    }
  }

  /** Grouped fsyncs run on the syncer, not on the appending thread. */
  @Test
  void groupedFsyncsRunOnTheSyncer() throws Exception {
    List<Runnable> queued = new ArrayList<>();
    long[] now = {0};
    try (CaptureUpload u =
        CaptureUpload.open(
            dir.resolve("golden.cci"), ID, SIZE, CHUNK, false, queued::add, () -> now[0])) {
      byte[] big = bytes(CHUNK, 4);
      for (int i = 0; i < 2; i++) {
        u.append(
            new JournalRecord(
                i, ChunkKind.RAW.code(), u.end(), CHUNK, Sha256.digest(big, 0, CHUNK), new byte[0]),
            ByteBuffer.wrap(big),
            big);
      }
      assertTrue(queued.isEmpty(), "32 KiB within a second wait for the group");
      now[0] += CaptureUpload.SYNC_NANOS;
      append(u, 2, 5, new byte[0]);
      assertEquals(1, queued.size(), "a second later the group is fsync'd, on the syncer");
      append(u, 3, 6, new byte[0]);
      assertEquals(1, queued.size(), "one fsync at a time");
      queued.get(0).run();
      assertEquals(3, u.lastIndex());
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
    Files.write(
        data, bytes(777, 9), StandardOpenOption.APPEND); // a chunk's bytes, never journalled
    ByteBuf rec = Unpooled.buffer();
    new JournalRecord(
            7,
            2,
            ImageFileHeader.LENGTH + 3 * CHUNK,
            777,
            Sha256.digest(new byte[1], 0, 1),
            new byte[0])
        .encode(rec);
    byte[] torn = new byte[rec.readableBytes() - 5];
    rec.readBytes(torn);
    Files.write(journal, torn, StandardOpenOption.APPEND);
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(3, u.records().size());
      assertEquals(5, u.lastIndex());
      assertEquals(journalGood, Files.size(journal), "the torn record is cut");
      assertEquals(
          ImageFileHeader.LENGTH + 3 * CHUNK, Files.size(data), "the unjournalled bytes are cut");
      append(u, 6, 11, new byte[0]);
    }
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(6, u.lastIndex(), "what came after the repair is held too");
    }
  }

  /** A data file shorter than its journal says (damaged): the records past its end are dropped. */
  @Test
  void recordsBeyondATruncatedDataFileAreDropped() throws Exception {
    Path file = dir.resolve("golden.cci");
    threeChunks(file).close();
    try (FileChannel ch =
        FileChannel.open(CaptureUpload.dataPath(file), StandardOpenOption.WRITE)) {
      ch.truncate(ImageFileHeader.LENGTH + CHUNK + CHUNK / 2);
    }
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(1, u.records().size());
      assertEquals(0, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH + CHUNK, Files.size(CaptureUpload.dataPath(file)));
    }
  }

  /**
   * Fsyncs are grouped, so a crash can leave a journalled chunk whose bytes never fully reached the
   * disk: replay checks every held chunk against its hash and stops at the first that fails.
   */
  @Test
  void aJournalledChunkWhoseBytesAreDamagedIsDroppedWithAllAfterIt() throws Exception {
    Path file = dir.resolve("golden.cci");
    threeChunks(file).close();
    try (FileChannel ch =
        FileChannel.open(CaptureUpload.dataPath(file), StandardOpenOption.WRITE)) {
      ch.write(
          ByteBuffer.wrap(new byte[100]), ImageFileHeader.LENGTH + CHUNK + 10); // inside chunk 2
    }
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE, CHUNK, false, SYNC, System::nanoTime)) {
      assertEquals(
          0, u.lastIndex(), "chunk 2 no longer verifies, so neither it nor chunk 5 is held");
      assertEquals(ImageFileHeader.LENGTH + CHUNK, Files.size(CaptureUpload.dataPath(file)));
    }
  }

  @Test
  void anUploadOfAnotherImageStartsAgain() throws Exception {
    Path file = dir.resolve("golden.cci");
    threeChunks(file).close();
    try (CaptureUpload u =
        CaptureUpload.open(file, ID, SIZE + CHUNK, CHUNK, false, SYNC, System::nanoTime)) {
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
      byte[] logical = new byte[CHUNK];
      assertThrows(
          IllegalStateException.class,
          () ->
              u.append(
                  new JournalRecord(4, 1, u.end(), 10, sha, new byte[0]),
                  ByteBuffer.wrap(b),
                  logical));
      assertThrows(
          IllegalStateException.class,
          () ->
              u.append(
                  new JournalRecord(6, 1, u.end() - 1, 10, sha, new byte[0]),
                  ByteBuffer.wrap(b),
                  logical));
    }
  }

  /**
   * Every truncation and every flipped byte of a record decodes to MalformedImageException or to
   * the same record.
   */
  @Test
  void damagedRecordsAreMalformed() {
    ByteBuf buf = Unpooled.buffer();
    JournalRecord r =
        new JournalRecord(3, 1, 64, 100, Sha256.digest(new byte[3], 0, 3), new byte[] {1, 2});
    r.encode(buf);
    byte[] good = new byte[buf.readableBytes()];
    buf.readBytes(good);
    assertEquals(r, JournalRecord.decode(Unpooled.wrappedBuffer(good)));
    for (int n = 0; n < good.length; n++) {
      byte[] cut = Arrays.copyOf(good, n);
      assertThrows(
          MalformedImageException.class,
          () -> JournalRecord.decode(Unpooled.wrappedBuffer(cut)),
          "cut at " + n);
    }
    for (int i = 0; i < good.length; i++) {
      byte[] bad = good.clone();
      bad[i] ^= 0x40;
      assertThrows(
          MalformedImageException.class,
          () -> JournalRecord.decode(Unpooled.wrappedBuffer(bad)),
          "byte " + i);
    }
  }
}

package org.clonecast.server.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.EncodedChunk;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.image.UsedBlocks;
import org.clonecast.server.store.ChunkPool;
import org.clonecast.server.store.JournalRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A capture's journal and the chunks it names in the pool, across simulated crashes: each chunk is
 * written once, into the pool, and the journal names it.
 */
class CaptureUploadTest {
  static final int CHUNK = 16384;
  static final long SIZE = 10 * CHUNK;
  static final UUID ID = UUID.fromString("00000000-0000-0000-0000-00000000c0de");

  /** Blocks 0 and 2 of a chunk's four used. */
  static final byte[] MAP = {(byte) 0xa0};

  /** Grouped fsyncs run at once, on the appending thread. */
  static final Executor SYNC = Runnable::run;

  @TempDir Path dir;

  private ChunkPool pool() {
    return new ChunkPool(dir.resolve("chunks"));
  }

  private Path journal() {
    return dir.resolve("golden.ccj");
  }

  private CaptureUpload open(ChunkPool pool, long size, boolean v3) throws Exception {
    return open(pool, size, v3, SYNC, System::nanoTime);
  }

  private CaptureUpload open(
      ChunkPool pool, long size, boolean v3, Executor syncer, LongSupplier clock) throws Exception {
    return CaptureUpload.open(
        journal(), pool, pool.hold(), ID, size, CHUNK, v3, syncer, Runnable::run, clock);
  }

  private static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Chunk {@code seed}'s logical bytes: random, unused blocks zero. */
  private static byte[] chunk(int seed, byte[] map) {
    byte[] b = bytes(CHUNK, seed);
    if (map.length > 0) {
      UsedBlocks.of(map, UsedBlocks.blockCount(CHUNK)).zeroUnused(b, 0, CHUNK);
    }
    return b;
  }

  /**
   * A real RAW chunk (replay checks every held chunk's hash) staged into the pool and journalled,
   * as the capture does.
   */
  private static void append(CaptureUpload u, int index, int seed, byte[] map, boolean v3)
      throws Exception {
    byte[] b = chunk(seed, map);
    Sha256 sha = Sha256.digest(b, 0, CHUNK);
    int pooled = u.stage(sha, CHUNK, ByteBuffer.wrap(b));
    u.append(
        new JournalRecord(index, ChunkKind.RAW.code(), u.end(), pooled, sha, map), v3 ? null : b);
  }

  private static void append(CaptureUpload u, int index, int seed, byte[] map) throws Exception {
    append(u, index, seed, map, false);
  }

  /** The pool file of chunk {@code seed}. */
  private static Path pooled(ChunkPool pool, int seed, byte[] map) {
    byte[] b = chunk(seed, map);
    return pool.path(Sha256.digest(b, 0, CHUNK));
  }

  /**
   * The SHA-256 of a logical image of SIZE bytes holding chunk {@code seeds[i]}'s bytes at {@code
   * indexes[i]}, zeros elsewhere.
   */
  private static Sha256 imageOf(int[] indexes, int[] seeds, byte[][] maps) {
    byte[] image = new byte[(int) SIZE];
    for (int i = 0; i < indexes.length; i++) {
      System.arraycopy(chunk(seeds[i], maps[i]), 0, image, indexes[i] * CHUNK, CHUNK);
    }
    return Sha256.digest(image, 0, image.length);
  }

  /** Appends chunks 0, 2 and 5 (the last with a used-block map). */
  private CaptureUpload threeChunks(ChunkPool pool) throws Exception {
    CaptureUpload u = open(pool, SIZE, false);
    append(u, 0, 0, new byte[0]);
    append(u, 2, 1, new byte[0]);
    append(u, 5, 2, MAP);
    return u;
  }

  /** Damages chunk {@code seed}'s pool file: 100 zeros inside it. */
  private static void damage(ChunkPool pool, int seed) throws Exception {
    try (FileChannel ch =
        FileChannel.open(pooled(pool, seed, new byte[0]), StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(new byte[100]), 10);
    }
  }

  @Test
  void aCleanRestartHoldsEveryJournalledChunk() throws Exception {
    ChunkPool pool = pool();
    try (CaptureUpload u = threeChunks(pool)) {
      assertEquals(5, u.lastIndex());
    }
    assertEquals(
        ImageFileHeader.LENGTH + 3L * JournalRecord.FIXED_LENGTH + MAP.length,
        Files.size(journal()),
        "the journal holds a header and three records, no chunk bytes");
    try (CaptureUpload u = open(pool, SIZE, false)) {
      assertEquals(3, u.records().size());
      assertEquals(5, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH + 3 * CHUNK, u.end());
      assertTrue(u.record(2).isPresent() && u.record(3).isEmpty());
      assertEquals(1, u.record(5).orElseThrow().usedMap().length, "the used map came back");
      assertEquals(0, pool.sweep(Set::of)[0], "the replay holds its chunks again: none is swept");
    }
    assertEquals(3, pool.sweep(Set::of)[0], "closed, the upload holds them no more");
  }

  /**
   * The image hash is kept as chunks are appended (chunks that store nothing count as zeros) and
   * redone by the replay: the same as hashing the whole logical image, before and after a restart,
   * and after a replay that drops damaged chunks.
   */
  @Test
  void theImageHashIsKeptAcrossAppendsAndRestarts() throws Exception {
    ChunkPool pool = pool();
    Sha256 want = imageOf(new int[] {0, 2, 5}, new int[] {0, 1, 2}, new byte[][] {{}, {}, MAP});
    try (CaptureUpload u = threeChunks(pool)) {
      assertEquals(want, u.imageHash());
      assertEquals(want, u.imageHash(), "asking does not change it");
    }
    try (CaptureUpload u = open(pool, SIZE, false)) {
      assertEquals(want, u.imageHash(), "the replay hashes what it checks");
      append(u, 9, 3, new byte[0]);
      assertEquals(
          imageOf(new int[] {0, 2, 5, 9}, new int[] {0, 1, 2, 3}, new byte[][] {{}, {}, MAP, {}}),
          u.imageHash());
    }
    damage(pool, 1); // chunk 2
    try (CaptureUpload u = open(pool, SIZE, false)) {
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
    ChunkPool pool = pool();
    try (CaptureUpload u = open(pool, SIZE, true)) {
      assertTrue(u.hashesChunkDigests());
      append(u, 0, 0, new byte[0], true);
      append(u, 2, 1, new byte[0], true);
      append(u, 5, 2, new byte[0], true);
      assertThrows(IllegalStateException.class, u::imageHash);
    }
    damage(pool, 1); // chunk 2
    try (CaptureUpload u = open(pool, SIZE, true)) {
      assertEquals(
          0,
          u.lastIndex(),
          "the replay checked chunk 2 against its hash and dropped it and chunk 5");
      assertEquals(ImageFileHeader.LENGTH + CHUNK, u.end());
    }
    // Opened for an older agent, the same journal gives the hash of the logical bytes again.
    try (CaptureUpload u = open(pool, SIZE, false)) {
      assertEquals(imageOf(new int[] {0}, new int[] {0}, new byte[][] {{}}), u.imageHash());
    }
  }

  /** Grouped fsyncs run on the syncer, not on the appending thread. */
  @Test
  void groupedFsyncsRunOnTheSyncer() throws Exception {
    List<Runnable> queued = new ArrayList<>();
    long[] now = {0};
    try (CaptureUpload u = open(pool(), SIZE, false, queued::add, () -> now[0])) {
      append(u, 0, 4, new byte[0]);
      append(u, 1, 5, new byte[0]);
      assertTrue(queued.isEmpty(), "32 KiB within a second wait for the group");
      now[0] += CaptureUpload.SYNC_NANOS;
      append(u, 2, 6, new byte[0]);
      assertEquals(1, queued.size(), "a second later the group is fsync'd, on the syncer");
      append(u, 3, 7, new byte[0]);
      assertEquals(1, queued.size(), "one fsync at a time");
      queued.get(0).run();
      assertEquals(3, u.lastIndex());
    }
  }

  /**
   * A crash after a chunk went into the pool but before its record, and one in the middle of a
   * record: the replay keeps the whole records and cuts the torn one; the chunk staged but never
   * journalled is in the pool, so sending it again writes nothing, and the upload goes on.
   */
  @Test
  void aTornRecordIsCutOffAndAnUnjournalledChunkIsNotWrittenAgain() throws Exception {
    ChunkPool pool = pool();
    threeChunks(pool).close();
    long journalGood = Files.size(journal());
    byte[] b = chunk(9, new byte[0]);
    Sha256 sha = Sha256.digest(b, 0, CHUNK);
    try (CaptureUpload u = open(pool, SIZE, false)) {
      u.stage(sha, CHUNK, ByteBuffer.wrap(b)); // then the crash, before its record
    }
    ByteBuf rec = Unpooled.buffer();
    new JournalRecord(7, 2, ImageFileHeader.LENGTH + 3 * CHUNK, CHUNK, sha, new byte[0])
        .encode(rec);
    byte[] torn = new byte[rec.readableBytes() - 5];
    rec.readBytes(torn);
    Files.write(journal(), torn, StandardOpenOption.APPEND);
    long written = Files.getLastModifiedTime(pool.path(sha)).toMillis();
    try (CaptureUpload u = open(pool, SIZE, false)) {
      assertEquals(3, u.records().size());
      assertEquals(5, u.lastIndex());
      assertEquals(journalGood, Files.size(journal()), "the torn record is cut");
      append(u, 7, 9, new byte[0]);
      assertEquals(
          written,
          Files.getLastModifiedTime(pool.path(sha)).toMillis(),
          "the chunk in the pool was kept, not written again");
    }
    try (CaptureUpload u = open(pool, SIZE, false)) {
      assertEquals(7, u.lastIndex(), "what came after the repair is held too");
    }
  }

  /**
   * A record whose chunk is not in the pool (a crash lost its rename: records and renames are
   * synced in groups) or is shorter than it says: the records from there on are dropped, the agent
   * sends those chunks again.
   */
  @Test
  void recordsWhoseChunksAreMissingOrShortAreDropped() throws Exception {
    ChunkPool pool = pool();
    threeChunks(pool).close();
    Files.delete(pooled(pool, 2, MAP)); // chunk 5
    try (CaptureUpload u = open(pool, SIZE, false)) {
      assertEquals(2, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH + 2 * CHUNK, u.end());
    }
    try (FileChannel ch =
        FileChannel.open(pooled(pool, 1, new byte[0]), StandardOpenOption.WRITE)) {
      ch.truncate(CHUNK / 2); // chunk 2
    }
    try (CaptureUpload u = open(pool, SIZE, false)) {
      assertEquals(0, u.lastIndex());
      append(u, 2, 1, new byte[0]);
    }
    assertEquals(
        CHUNK, Files.size(pooled(pool, 1, new byte[0])), "a short copy is replaced with its group");
  }

  /**
   * A chunk the pool holds already in another encoding (another image's, at another zstd level) is
   * not written again: its record takes the pool's length, and the pool's copy is what the image
   * will name.
   */
  @Test
  void aChunkThePoolHoldsInAnotherEncodingIsTakenAsThePoolHoldsIt() throws Exception {
    ChunkPool pool = pool();
    byte[] text = new byte[CHUNK];
    Arrays.fill(text, (byte) 'x');
    EncodedChunk z = ChunkCodec.encode(0, text, 0, CHUNK, 3);
    assertEquals(ChunkKind.ZSTD, z.kind());
    try (ChunkPool.Hold other = pool.hold()) {
      other.put(z.sha256(), CHUNK, ByteBuffer.wrap(z.stored()));
    }
    try (CaptureUpload u = open(pool, SIZE, true)) {
      assertEquals(z.storedLength(), u.stage(z.sha256(), CHUNK, ByteBuffer.wrap(text)));
      assertEquals(z.storedLength(), Files.size(pool.path(z.sha256())), "the pool's copy stays");
    }
  }

  @Test
  void anUploadOfAnotherImageStartsAgain() throws Exception {
    ChunkPool pool = pool();
    threeChunks(pool).close();
    try (CaptureUpload u = open(pool, SIZE + CHUNK, false)) {
      assertEquals(-1, u.lastIndex());
      assertEquals(ImageFileHeader.LENGTH, Files.size(journal()));
    }
    assertEquals(3, pool.sweep(Set::of)[0], "its chunks are no longer held");
  }

  @Test
  void theUploadOfAnEarlierBuildIsRemoved() throws Exception {
    Path file = dir.resolve("golden.cci");
    Files.write(dir.resolve("golden.cci.partial"), bytes(100, 1));
    Files.write(dir.resolve("golden.cci.journal"), bytes(10, 1));
    assertTrue(CaptureUpload.deleteLegacy(file));
    assertFalse(Files.exists(dir.resolve("golden.cci.partial")));
    assertFalse(Files.exists(dir.resolve("golden.cci.journal")));
    assertFalse(CaptureUpload.deleteLegacy(file));
  }

  @Test
  void chunksOnlyFollowTheLastOne() throws Exception {
    try (CaptureUpload u = threeChunks(pool())) {
      Sha256 sha = Sha256.digest(new byte[10], 0, 10);
      byte[] logical = new byte[CHUNK];
      assertThrows(
          IllegalStateException.class,
          () -> u.append(new JournalRecord(4, 1, u.end(), 10, sha, new byte[0]), logical));
      assertThrows(
          IllegalStateException.class,
          () -> u.append(new JournalRecord(6, 1, u.end() - 1, 10, sha, new byte[0]), logical));
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

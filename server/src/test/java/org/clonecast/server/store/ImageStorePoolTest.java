package org.clonecast.server.store;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.ImageVerifier;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.common.trust.KeyRing;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store's chunk pool: an updated image stores only its changed chunks, removing any image never
 * loses a chunk another needs, a crash at any step leaves every published image whole, and a store
 * of the previous build (one .cci per image) opens and moves into the pool.
 */
class ImageStorePoolTest {
  static final int CHUNK = 64 * 1024;
  static final int CHUNKS = 128; // 8 MiB

  @TempDir Path dir;
  Database db;
  ExecutorService worker;
  ImageStore images;
  byte[] v1;
  byte[] v2;
  Set<Integer> changed = new HashSet<>();

  @BeforeEach
  void setUp() throws Exception {
    db = Database.open(dir.resolve("state"));
    worker = Executors.newSingleThreadExecutor();
    Files.createDirectories(dir.resolve("state/images")); // as the daemon makes it
    images = store();
    images.recover();
    Random rnd = new Random(16);
    v1 = new byte[CHUNK * CHUNKS];
    // Half compressible text-like bytes, half random; every chunk distinct.
    for (int i = 0; i < v1.length; i++) {
      v1[i] = (byte) ((i / CHUNK) % 2 == 0 ? 'a' + (i * 7 + i / CHUNK) % 13 : rnd.nextInt());
    }
    for (int c = 0; c < CHUNKS; c++) {
      ByteBuffer.wrap(v1, c * CHUNK, 4).putInt(c);
    }
    v2 = v1.clone();
    // 5 % of the chunks changed (6 of 128, of either kind).
    for (int c : new int[] {3, 17, 40, 41, 90, 127}) {
      changed.add(c);
      for (int i = 0; i < 4096; i++) {
        v2[c * CHUNK + 1000 + i] = (byte) rnd.nextInt();
      }
    }
  }

  ImageStore store() {
    return new ImageStore(
        db,
        dir.resolve("state/images"),
        Clock.systemUTC(),
        new EventLog(db, Clock.systemUTC()),
        worker);
  }

  @AfterEach
  void tearDown() throws Exception {
    worker.shutdownNow();
    db.close();
  }

  Path cci(String name, byte[] disk, int level) throws IOException {
    Path raw = dir.resolve(name + ".raw");
    Files.write(raw, disk);
    Path out = dir.resolve(name + ".cci");
    ImageCreator.create(raw, out, CHUNK, level, 2, ProgressListener.NONE);
    return out;
  }

  Image addAndWait(String name, Path source) {
    images.add(name, source);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> !images.find(name).orElseThrow().state().equals("adding"));
    Image i = images.find(name).orElseThrow();
    assertEquals("ready", i.state(), name + ": " + i.detail());
    return i;
  }

  /** Every chunk of the image decodes to the bytes of {@code disk}. */
  void assertHolds(String name, byte[] disk) throws IOException {
    try (ChunkSource s = images.open(name)) {
      ImageVerifier.verify(s, 2, ProgressListener.NONE);
      byte[] out = new byte[CHUNK];
      for (int c = 0; c < CHUNKS; c++) {
        s.readLogical(c, out);
        assertEquals(
            ByteBuffer.wrap(disk, c * CHUNK, CHUNK), ByteBuffer.wrap(out), name + " chunk " + c);
      }
    }
  }

  long poolFiles() throws IOException {
    Path p = dir.resolve("state/images/chunks");
    if (!Files.isDirectory(p)) return 0;
    try (Stream<Path> s = Files.walk(p)) {
      return s.filter(Files::isRegularFile).count();
    }
  }

  long bytesOf(Manifest m, Set<Integer> which) {
    return m.chunks().stream()
        .filter(e -> which.contains(e.index()))
        .mapToLong(ChunkEntry::storedLength)
        .sum();
  }

  @Test
  void anUpdatedImageStoresOnlyItsChangedChunksAndOutlivesTheOld() throws Exception {
    Path c1 = cci("v1", v1, 3);
    Path c2 = cci("v2", v2, 3);
    Image i1 = addAndWait("v1", c1);
    assertEquals(i1.storedSize(), i1.ownSize(), "alone, an image owns all it stores");
    long afterV1 = poolFiles();
    Image i2 = addAndWait("v2", c2);
    Manifest m2;
    try (ImageReader r = ImageReader.open(c2)) {
      m2 = r.manifest();
    }
    i1 = images.find("v1").orElseThrow();
    assertEquals(bytesOf(m2, changed), i2.ownSize(), "v2 owns exactly its changed chunks");
    assertEquals(i2.storedSize() - i2.ownSize(), i2.sharedSize());
    assertEquals(i1.sharedSize(), i2.sharedSize(), "what they share, both share");
    assertEquals(afterV1 + changed.size(), poolFiles(), "the pool grew by the changed chunks");
    assertTrue(
        i2.ownSize() * 10 < i2.storedSize(),
        "a 5 % change stores under a tenth: " + i2.ownSize() + " of " + i2.storedSize());
    assertFalse(Files.exists(dir.resolve("state/images/v2.cci")), "no .cci in the store");
    assertHolds("v1", v1);
    assertHolds("v2", v2);

    // Removing the old image frees its own chunks only; the new one still verifies.
    assertTrue(images.remove("v1"));
    assertEquals(CHUNKS, poolFiles(), "v2's chunks remain, v1's own are gone");
    Image after = images.find("v2").orElseThrow();
    assertEquals(after.storedSize(), after.ownSize(), "v2 now owns all it stores");
    assertHolds("v2", v2);

    // Exported, it is one self-contained .cci again; imported again, it stores nothing new.
    Path out = dir.resolve("v2-export.cci");
    try (ChunkSource s = images.open("v2")) {
      ImageCreator.export(s, out, false);
      try (ImageReader r = ImageReader.open(out)) {
        assertEquals(s.manifest(), r.manifest());
        assertEquals(s.signature(), r.signature());
        ImageVerifier.verify(r, 2, ProgressListener.NONE);
      }
    }
    Image again = addAndWait("v2again", out);
    assertEquals(0, again.ownSize(), "every chunk of the export is in the pool already");
    assertTrue(images.remove("v2again"));
    assertTrue(images.remove("v2"));
    assertEquals(0, poolFiles(), "the last image's removal empties the pool");
  }

  @Test
  void theContentHashIgnoresTheEncodingAndTheStoreRecordsItAndTheCopy() throws Exception {
    addAndWait("slow", cci("slow", v1, 19));
    Path fast = cci("fast", v1, 1);
    Manifest given;
    try (ImageReader f = ImageReader.open(fast)) {
      given = f.manifest();
    }
    addAndWait("fast", fast);
    // The pool held every chunk at level 19: the stored manifest took those encodings.
    Manifest stored = PooledImage.read(images.manifestFor("fast")).manifest();
    assertFalse(given.equals(stored), "other stored lengths");
    assertEquals(ImageStore.contentHash(given), ImageStore.contentHash(stored));
    assertEquals(Optional.of(ImageStore.contentHash(given)), images.storedContentHash("fast"));
    assertFalse(images.storedContentHash("slow").equals(images.storedContentHash("fast")));
    assertEquals(
        List.of(ImageCopies.State.READY),
        images.copies().of("fast").stream().map(ImageCopies.Copy::state).toList());
    assertTrue(images.holds("fast"));
    assertTrue(images.remove("fast"));
    assertEquals(List.of(), images.copies().of("fast"));
  }

  @Test
  void theSameContentInAnotherEncodingIsStoredOnce() throws Exception {
    addAndWait("fast", cci("fast", v1, 1));
    Image slow = addAndWait("slow", cci("slow", v1, 19));
    assertEquals(0, slow.ownSize(), "identical content, other zstd level: nothing new stored");
    assertEquals(CHUNKS, poolFiles());
    assertHolds("slow", v1);
    assertTrue(images.remove("fast"));
    assertHolds("slow", v1);
  }

  @Test
  void aReaderKeepsItsChunksWhenItsImageIsRemoved() throws Exception {
    addAndWait("v1", cci("v1", v1, 3));
    try (ChunkSource s = images.open("v1")) {
      assertTrue(images.remove("v1"));
      assertEquals(CHUNKS, poolFiles(), "a session still sending it holds its chunks");
      ImageVerifier.verify(s, 2, ProgressListener.NONE);
    }
    images.collect();
    assertEquals(0, poolFiles(), "once closed, the next sweep frees them");
  }

  @Test
  void anUnpublishedWritersChunksSurviveASweepUntilItCloses() throws Exception {
    ChunkPool pool = images.pool();
    byte[] data = "not yet in any manifest".getBytes();
    Sha256 d = Sha256.digest(data, 0, data.length);
    try (ChunkPool.Hold h = pool.hold()) {
      assertEquals(data.length, h.put(d, data.length, ByteBuffer.wrap(data)));
      h.sync();
      images.collect();
      assertEquals(data.length, pool.length(d), "held: not swept");
    }
    images.collect();
    assertEquals(-1, pool.length(d), "released and unreferenced: swept");
  }

  /**
   * A capture stages its chunks as they arrive: a staged chunk is in the pool and held from the
   * sweep, not counted until the put that names it, which reads nothing and counts it as new once;
   * a chunk another image stored first is neither written nor counted as new; one found damaged is
   * replaced.
   */
  @Test
  void aStagedChunkIsWrittenOnceAndCountedByThePutThatNamesIt() throws Exception {
    addAndWait("v1", cci("v1", v1, 3));
    ChunkPool pool = images.pool();
    byte[] data = "a captured chunk, staged on arrival".getBytes();
    Sha256 d = Sha256.digest(data, 0, data.length);
    Sha256 shared;
    try (ChunkSource s = images.open("v1")) {
      shared = s.manifest().chunk(0).sha256();
    }
    long sharedLength = pool.length(shared);
    Path sharedFile = pool.path(shared);
    long sharedMtime = Files.getLastModifiedTime(sharedFile).toMillis();
    try (ChunkPool.Hold h = pool.hold()) {
      h.stage(d, data.length, ByteBuffer.wrap(data));
      h.stage(shared, CHUNK, ByteBuffer.wrap(new byte[] {1, 2, 3}));
      assertEquals(data.length, pool.length(d), "staged: in the pool");
      assertEquals(sharedLength, pool.length(shared), "held already: not written again");
      assertEquals(sharedMtime, Files.getLastModifiedTime(sharedFile).toMillis());
      assertEquals(0, h.written() + h.reused(), "nothing counted before the put");
      images.collect();
      assertEquals(data.length, pool.length(d), "held: not swept");

      ChunkPool.StoredBytes unread =
          () -> {
            throw new AssertionError("the put read a chunk the pool holds");
          };
      assertEquals(data.length, h.put(d, data.length, unread));
      assertEquals(data.length, h.written(), "the stage's write counts once, as new");
      assertEquals(data.length, h.put(d, data.length, unread));
      assertEquals(data.length, h.reused(), "the same chunk again in the image: shared");
      assertEquals((int) sharedLength, h.put(shared, CHUNK, unread));
      assertEquals(data.length + sharedLength, h.reused());
      assertEquals(data.length, h.written());

      byte[] fixed = "the same content, another encoding".getBytes();
      h.restage(d, ByteBuffer.wrap(fixed));
      assertEquals(fixed.length, pool.length(d), "a copy found damaged is replaced");
    }
    images.collect();
    assertEquals(-1, pool.length(d), "released and unreferenced: swept");
  }

  @Test
  void aMissingManifestStopsTheSweepRatherThanLoseChunks() throws Exception {
    addAndWait("v1", cci("v1", v1, 3));
    Path ccm = images.manifestFor("v1");
    Path aside = dir.resolve("v1.ccm.aside");
    Files.move(ccm, aside);
    addAndWait("v2", cci("v2", v2, 3));
    images.collect();
    assertEquals(
        CHUNKS + changed.size(), poolFiles(), "a ready image whose manifest is missing: no sweep");
    Files.move(aside, ccm);
    assertHolds("v1", v1);
  }

  @Test
  void anInterruptedImportLeavesEveryPublishedImageWhole() throws Exception {
    addAndWait("v1", cci("v1", v1, 3));
    Path images1 = dir.resolve("state/images");
    // A crash mid-import of v2: some of its chunks written (the hold never closed), one chunk
    // half-written under its temporary name, and its manifest file written without its row.
    Manifest m2;
    try (ImageReader r = ImageReader.open(cci("v2", v2, 3))) {
      m2 = r.manifest();
      ChunkPool.Hold crashed = images.pool().hold();
      for (int c : changed) {
        ChunkEntry e = r.manifest().chunk(c);
        crashed.put(e.sha256(), r.manifest().logicalLength(c), r.readStored(c));
      }
      // an unchanged chunk, shared with v1, touched by the same writer
      ChunkEntry shared = r.manifest().chunk(0);
      crashed.put(shared.sha256(), CHUNK, r.readStored(0));
    }
    Path tmp = images.pool().path(m2.chunk(5).sha256()).resolveSibling("half-written.tmp.1");
    Files.createDirectories(tmp.getParent());
    Files.write(tmp, new byte[100]);
    Files.write(images1.resolve("v2.ccm"), Files.readAllBytes(images1.resolve("v1.ccm")));
    assertEquals(CHUNKS + changed.size(), poolFiles() - 1);

    // The daemon starts again: a new store on the same directory and database.
    images = store();
    images.recover();
    assertFalse(Files.exists(tmp), "temporary files removed");
    assertFalse(Files.exists(images1.resolve("v2.ccm")), "a manifest file no row names removed");
    assertEquals(CHUNKS, poolFiles(), "the interrupted import's own chunks collected");
    assertHolds("v1", v1);
    // The import runs again and completes.
    addAndWait("v2", dir.resolve("v2.cci"));
    assertHolds("v2", v2);
  }

  @Test
  void aRemovalInterruptedAfterItsRowNeverLosesASharedChunk() throws Exception {
    addAndWait("v1", cci("v1", v1, 3));
    addAndWait("v2", cci("v2", v2, 3));
    // A crash right after the row was deleted: v1's manifest file and chunks are still there.
    db.write(c -> NodeStore.update(c, "DELETE FROM images WHERE name = ?", "v1"));
    images = store();
    images.recover();
    assertFalse(Files.exists(dir.resolve("state/images/v1.ccm")));
    assertEquals(CHUNKS, poolFiles(), "only v1's own chunks went");
    assertHolds("v2", v2);
  }

  @Test
  void aStoreOfThePreviousBuildOpensAndMovesIntoThePool() throws Exception {
    // As the previous build left it: <name>.cci in the store, stored_size its size, no own_size.
    Path old = dir.resolve("state/images/old.cci");
    Files.copy(cci("v1", v1, 3), old);
    Manifest m;
    try (ImageReader r = ImageReader.open(old)) {
      m = r.manifest();
    }
    long size = Files.size(old);
    db.write(
        c ->
            NodeStore.update(
                c,
                "INSERT INTO images (name, file, state, detail, image_id, logical_size,"
                    + " stored_size, chunks, image_hash, created)"
                    + " VALUES ('old', ?, 'ready', NULL, ?, ?, ?, ?, ?, 0)",
                old.toString(),
                m.imageId().toString(),
                m.logicalSize(),
                size,
                m.chunkCount(),
                m.imageHash().toString()));
    Image legacy = images.find("old").orElseThrow();
    assertEquals(size, legacy.ownSize(), "a .cci of the previous build shares nothing");
    assertHolds("old", v1); // readable before it moves

    images = store();
    images.recover();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> images.find("old").orElseThrow().file().toString().endsWith(".ccm"));
    assertFalse(Files.exists(old), "the .cci is gone once the pool holds it");
    assertHolds("old", v1);
    Image next = addAndWait("v2", cci("v2", v2, 3));
    assertTrue(next.ownSize() < next.storedSize() / 10, "the moved image shares with the new one");
  }

  @Test
  void theDaemonsKeySignsThePooledManifestAndAKeyRotationResigns() throws Exception {
    ImageKey key = ImageKey.loadOrCreate(dir.resolve("state"));
    images =
        new ImageStore(
            db,
            dir.resolve("state/images"),
            Clock.systemUTC(),
            new EventLog(db, Clock.systemUTC()),
            worker,
            Optional.of(new KeyRing(dir.resolve("state"))));
    addAndWait("v1", cci("v1", v1, 3));
    try (ChunkSource s = images.open("v1")) {
      assertTrue(s.signature().isPresent(), "signed when stored");
      assertTrue(s.signature().get().problem(s.manifest(), key.publicKey()).isEmpty());
    }
    ImageKey next = ImageKey.rotate(dir.resolve("state"));
    PooledImage.sign(images.manifestFor("v1"), next);
    try (ChunkSource s = images.open("v1")) {
      assertTrue(s.signature().get().problem(s.manifest(), next.publicKey()).isEmpty());
    }
    assertThrows(NotFoundException.class, () -> images.open("nope"));
  }
}

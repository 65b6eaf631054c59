package org.clonecast.server.capture;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.image.UsedBlocks;
import org.clonecast.server.store.ChunkPool;
import org.clonecast.server.store.JournalRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One capture's upload in the image store, each chunk written once: into the store's chunk pool
 * ({@link #stage}: under its digest's name, fsync'd before its rename, as every chunk of the pool,
 * by a write on one of the {@code settlers}, off the request), and a {@link JournalRecord} naming
 * it in {@code NAME.ccj} (the journal: the image's {@code .cci} header, then one record per chunk
 * held, in index order, with the offset the chunk has in the image's {@code .cci} layout).
 * Publishing the image writes only its manifest file; no chunk is copied at the end
 * (docs/capture.md, "Each chunk written once").
 *
 * <p>Durability is grouped: once {@link #SYNC_BYTES} or {@link #SYNC_NANOS} have gone by since the
 * last group, the syncer thread waits for the pool writes started since, syncs their directories,
 * then fsyncs the journal, so that no upload waits for the disk; and always before the image is
 * published. The writes (each with its fsync, several at once so that the fsyncs share the
 * filesystem's journal commits) run on the settlers: done in the request, file creations and fsyncs
 * held the daemon's few request threads (docs/benchmarks.md, "Capture"). A crash or a killed daemon
 * can lose the last second or so of chunks the agent was told were stored, and the agent's next
 * {@code begin} shows it fewer held chunks, so it sends them again. {@link #open} replays the
 * journal: it stops at the first torn or inconsistent record, or at the first chunk the pool does
 * not hold intact (one whose write a crash cut short), and cuts the journal there.
 *
 * <p>The chunks are held ({@link ChunkPool.Hold}) from their staging until the image is published
 * or the upload fails; across a restart the journal keeps them from the sweep (the store reads the
 * journals of images being captured) and {@link #open} holds them again. A capture that fails or is
 * cancelled removes its journal, and the next sweep frees every chunk no image references.
 *
 * <p>Chunks are journalled in increasing index order (the caller puts chunks that arrive early in
 * order first), so the offsets are exactly those {@code clonecast image create} gives, and what the
 * daemon holds is every stored chunk up to {@link #lastIndex()}.
 *
 * <p>For an agent whose manifest will carry the image hash of versions 1 and 2 (the SHA-256 of the
 * whole logical image), that hash is kept as chunks are appended (the chunks that store nothing
 * count as zeros) and redone by the replay from the bytes it checks anyway. For one whose manifest
 * is of version 3 ({@code hashOfChunks}: the image hash is that of the chunk digests, which the
 * manifest checks itself) nothing is kept, and the logical bytes of a chunk are not needed once it
 * is checked.
 *
 * <p>Not thread-safe, but for {@link #stage}: the caller serialises the other calls per capture.
 */
final class CaptureUpload implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CaptureUpload.class);

  /** Stored bytes journalled since the last fsync that make the next append fsync. */
  static final long SYNC_BYTES = 64L << 20;

  /** Time since the last fsync that makes the next append fsync. */
  static final long SYNC_NANOS = 1_000_000_000L;

  /** Zeros fed to the image hash for chunks that store nothing. */
  private static final byte[] ZEROS = new byte[64 * 1024];

  private final Path journal;
  private final LongSupplier nanoTime;
  private long unsyncedBytes;
  private long lastSyncNanos;
  private final ImageFileHeader header;
  private final FileChannel journalCh;
  private final List<JournalRecord> records;
  private final Executor syncer;
  private final ChunkPool pool;
  private final ChunkPool.Hold hold;
  private final Executor settlers;

  /**
   * Digests whose copy in the pool the replay found damaged (or too long): {@link #stage} replaces
   * them. Written by the replay only, before the upload is shared.
   */
  private final Set<Sha256> damagedInPool;

  /** Held by a running {@link #sync}. */
  private final Object syncLock = new Object();

  /** The writes {@link #stage} started since the last group; guarded by itself. */
  private final List<CompletableFuture<Void>> pending = new ArrayList<>();

  /** Stored bytes that may wait to be written into the pool, over the upload's chunks. */
  static final int WRITING_BYTES = 64 << 20;

  /** How long {@link #stage} waits for room among the writes before it fails. */
  static final long WRITING_WAIT_NANOS = 120_000_000_000L;

  /** Why a chunk's write into the pool failed, reported by every later {@link #stage}. */
  private final AtomicReference<IOException> writeFailure = new AtomicReference<>();

  /** Room for stored bytes waiting to be written. */
  private final Semaphore writing = new Semaphore(WRITING_BYTES);

  /** Whether a grouped fsync is running on {@link #syncer}. */
  private final AtomicBoolean syncing = new AtomicBoolean();

  /** Why the last grouped fsync failed, reported by the next append. */
  private final AtomicReference<IOException> syncFailure = new AtomicReference<>();

  /** The SHA-256 of the logical image so far; null for an upload of a version 3 image. */
  private final ImageHash hash;

  private long end;
  private long journalEnd;

  private CaptureUpload(
      Path journal,
      ImageFileHeader header,
      FileChannel journalCh,
      List<JournalRecord> records,
      long end,
      long journalEnd,
      Executor syncer,
      LongSupplier nanoTime,
      ImageHash hash,
      ChunkPool pool,
      ChunkPool.Hold hold,
      Executor settlers,
      Set<Sha256> damagedInPool) {
    this.journal = journal;
    this.settlers = settlers;
    this.damagedInPool = damagedInPool;
    this.header = header;
    this.journalCh = journalCh;
    this.records = records;
    this.end = end;
    this.journalEnd = journalEnd;
    this.syncer = syncer;
    this.nanoTime = nanoTime;
    this.lastSyncNanos = nanoTime.getAsLong();
    this.hash = hash;
    this.pool = pool;
    this.hold = hold;
  }

  /**
   * The SHA-256 of the logical image so far: every chunk up to {@link #through}, those that store
   * nothing as zeros.
   */
  private static final class ImageHash {
    final MessageDigest digest = Sha256.newDigest();
    final ImageFileHeader header;
    int through = -1;

    ImageHash(ImageFileHeader header) {
      this.header = header;
    }

    /** Adds chunk {@code index}'s logical bytes, after zeros for the chunks between. */
    void add(int index, byte[] logical, int length) {
      zerosThrough(digest, index - 1);
      digest.update(logical, 0, length);
      through = index;
    }

    /** Adds zeros to {@code d} for the chunks after {@link #through} up to {@code last}. */
    void zerosThrough(MessageDigest d, int last) {
      long from = (long) (through + 1) * header.chunkSize();
      long to = Math.min(header.logicalSize(), (long) (last + 1) * header.chunkSize());
      for (long at = from; at < to; at += ZEROS.length) {
        d.update(ZEROS, 0, (int) Math.min(ZEROS.length, to - at));
      }
    }

    /** The whole image's hash, the chunks after {@link #through} taken as zeros. */
    Sha256 finish() {
      try {
        MessageDigest d = (MessageDigest) digest.clone();
        zerosThrough(d, header.chunkCount() - 1);
        return Sha256.finish(d);
      } catch (CloneNotSupportedException e) {
        throw new IllegalStateException("SHA-256 digests are cloneable in every JDK", e);
      }
    }
  }

  /**
   * Removes what a build before this one left of a capture of image file {@code file} ({@code
   * NAME.cci.partial} and {@code NAME.cci.journal}: a partial image holding the chunks): such a
   * capture starts its upload again.
   *
   * @return whether there was any
   */
  static boolean deleteLegacy(Path file) throws IOException {
    boolean a = Files.deleteIfExists(file.resolveSibling(file.getFileName() + ".journal"));
    boolean b = Files.deleteIfExists(file.resolveSibling(file.getFileName() + ".partial"));
    return a || b;
  }

  /**
   * Opens the upload journalled in {@code journal}: resumes what a previous run left when it is of
   * the same image (id, size and chunk size), holding its chunks again, else starts empty.
   *
   * @param pool where the chunks go
   * @param hold the upload's hold on {@code pool}, closed with it or handed to the publish
   * @param hashOfChunks whether the image's manifest will be of version 3 (no image hash kept here)
   * @param syncer runs the grouped fsyncs
   * @param settlers fsync and rename the chunks of a group into the pool, several at once
   * @param nanoTime the clock the grouped fsyncs go by ({@code System::nanoTime})
   */
  static CaptureUpload open(
      Path journal,
      ChunkPool pool,
      ChunkPool.Hold hold,
      UUID imageId,
      long logicalSize,
      int chunkSize,
      boolean hashOfChunks,
      Executor syncer,
      Executor settlers,
      LongSupplier nanoTime)
      throws IOException {
    // The latest layout: the manifest is known only at the end, and it may use any kind.
    ImageFileHeader want =
        ImageFileHeader.incomplete(
            ImageFileHeader.VERSION,
            imageId,
            logicalSize,
            chunkSize,
            Manifest.chunkCount(logicalSize, chunkSize));
    boolean fresh = !Files.exists(journal);
    if (!fresh && !want.equals(readHeader(journal).orElse(null))) {
      LOG.info("capture: {} is of another image or damaged; starting it again", journal);
      fresh = true;
    }
    FileChannel j =
        FileChannel.open(
            journal, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      if (fresh) {
        j.truncate(0);
        ChannelIo.writeEncoded(j, want::encode, 0);
        j.force(true);
        syncDirectory(journal.toAbsolutePath().getParent());
      }
      List<JournalRecord> records = new ArrayList<>();
      ImageHash hash = hashOfChunks ? null : new ImageHash(want);
      Set<Sha256> damaged = new HashSet<>();
      long[] ends = replay(j, pool, hold, want, records, hash, damaged);
      long journalEnd = ends[1];
      if (j.size() != journalEnd) {
        LOG.info(
            "capture: {} ends in a torn or damaged record; cut at {} of {} bytes",
            journal,
            journalEnd,
            j.size());
        j.truncate(journalEnd);
        j.force(true);
      }
      return new CaptureUpload(
          journal,
          want,
          j,
          records,
          ends[0],
          journalEnd,
          syncer,
          nanoTime,
          hash,
          pool,
          hold,
          settlers,
          damaged);
    } catch (IOException | RuntimeException e) {
      j.close();
      throw e;
    }
  }

  private static Optional<ImageFileHeader> readHeader(Path journal) throws IOException {
    try (FileChannel ch = FileChannel.open(journal, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate(ImageFileHeader.LENGTH);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // read the header
      }
      b.flip();
      return Optional.of(ImageFileHeader.decode(Unpooled.wrappedBuffer(b)));
    } catch (MalformedImageException e) {
      return Optional.empty();
    }
  }

  /**
   * Reads the good records into {@code out}, holding their chunks under {@code hold}: each must
   * decode, follow the previous one's index and offset, fit the image and name a chunk the pool
   * holds with its length and hash (a record whose chunk is missing, which the order of the fsyncs
   * rules out unless a crash lost a rename or the pool was damaged, is dropped with all after it),
   * each good one's logical bytes added to {@code hash} (unless null), the digest of the first bad
   * one to {@code damaged}. Returns {offset after, journal end} of the last good one.
   */
  private static long[] replay(
      FileChannel j,
      ChunkPool pool,
      ChunkPool.Hold hold,
      ImageFileHeader h,
      List<JournalRecord> out,
      ImageHash hash,
      Set<Sha256> damaged)
      throws IOException {
    long size = j.size();
    if (size > Integer.MAX_VALUE) {
      throw new IOException("capture journal of " + size + " bytes is too large");
    }
    ByteBuffer all = ByteBuffer.allocate((int) size);
    while (all.hasRemaining() && j.read(all, all.position()) > 0) {
      // read it all
    }
    all.flip();
    ByteBuf in = Unpooled.wrappedBuffer(all);
    in.skipBytes(ImageFileHeader.LENGTH);
    long dataEnd = h.headerLength();
    int lastIndex = -1;
    long good = ImageFileHeader.LENGTH;
    byte[] bytes = new byte[h.chunkSize()];
    while (in.isReadable()) {
      JournalRecord r;
      try {
        r = JournalRecord.decode(in);
      } catch (MalformedImageException e) {
        LOG.info("capture: journal replay stops at byte {}: {}", good, e.getMessage());
        break;
      }
      if (r.index() <= lastIndex || r.index() >= h.chunkCount() || r.offset() != dataEnd) {
        LOG.info(
            "capture: journal replay stops at byte {}: {} does not follow chunk {} ending at {}",
            good,
            r,
            lastIndex,
            dataEnd);
        break;
      }
      int logical =
          (int) Math.min(h.chunkSize(), h.logicalSize() - (long) r.index() * h.chunkSize());
      // Held before it is read: a sweep meanwhile must not take it.
      hold.holdAll(List.of(r.sha256()));
      Optional<String> bad = damage(pool, r, bytes, logical);
      if (bad.isPresent()) {
        damaged.add(r.sha256());
        LOG.info("capture: journal replay stops at chunk {}: {}", r.index(), bad.get());
        break;
      }
      if (hash != null) {
        hash.add(r.index(), bytes, logical);
      }
      out.add(r);
      lastIndex = r.index();
      dataEnd = r.end();
      good = in.readerIndex();
    }
    return new long[] {dataEnd, good};
  }

  /**
   * Why chunk {@code r} is not in the pool intact (missing, too long, bytes that do not decode to
   * its hash), if it is not; else its {@code logical} bytes are in {@code out}. The pool's copy may
   * be another encoding than the record's (another writer put the same content first): the
   * published manifest takes the pool's.
   */
  private static Optional<String> damage(ChunkPool pool, JournalRecord r, byte[] out, int logical)
      throws IOException {
    long have = pool.length(r.sha256());
    if (have <= 0 || have > logical) {
      return Optional.of("the pool holds " + Math.max(0, have) + " bytes of it");
    }
    ByteBuffer stored = ByteBuffer.allocate((int) have);
    try {
      pool.read(r.sha256(), (int) have, stored);
    } catch (IOException e) {
      return Optional.of(e.getMessage());
    }
    stored.flip();
    return decodes(r.sha256(), stored, out, logical)
        ? Optional.empty()
        : Optional.of("its bytes in the pool do not decode to its hash");
  }

  /**
   * Whether {@code stored} (a zstd frame, or RAW when {@code logical} bytes long) decodes to {@code
   * logical} bytes of digest {@code sha256}, into {@code out}.
   */
  private static boolean decodes(Sha256 sha256, ByteBuffer stored, byte[] out, int logical) {
    int n = stored.remaining();
    ChunkEntry e =
        new ChunkEntry(
            0, n == logical ? ChunkKind.RAW : ChunkKind.ZSTD, 0, n, sha256, UsedBlocks.all());
    try {
      ChunkCodec.decode(e, stored, out, 0, logical);
      return true;
    } catch (RuntimeException bad) {
      return false;
    }
  }

  /**
   * Data before journal: the chunks written since the last group are fsync'd and renamed into the
   * pool (several at once on the settlers), their directories synced, then the journal. A record
   * that reached the disk names a chunk that did, but for damage the replay catches (records are
   * appended during a group, so one can reach the disk before its chunk's rename: the replay
   * catches that the same way).
   */
  private void sync() throws IOException {
    // One group at a time: the sync before a publish waits for the group the syncer is settling.
    synchronized (syncLock) {
      syncGroup();
    }
  }

  private void syncGroup() throws IOException {
    List<CompletableFuture<Void>> group;
    synchronized (pending) {
      group = new ArrayList<>(pending);
      pending.clear();
    }
    IOException failed = null;
    for (CompletableFuture<Void> f : group) {
      try {
        f.join();
      } catch (CompletionException e) {
        if (failed == null) {
          failed =
              e.getCause() instanceof UncheckedIOException u
                  ? u.getCause()
                  : new IOException("writing a chunk failed: " + e.getCause(), e.getCause());
        }
      }
    }
    if (failed != null) {
      throw failed;
    }
    hold.sync();
    journalCh.force(false);
  }

  /** Starts a grouped fsync on the syncer unless one is running. */
  private void syncLater() {
    if (!syncing.compareAndSet(false, true)) {
      return;
    }
    unsyncedBytes = 0;
    lastSyncNanos = nanoTime.getAsLong();
    syncer.execute(
        () -> {
          try {
            sync();
          } catch (ClosedChannelException e) {
            // Closed meanwhile (the upload was published, failed or replaced): nothing left to
            // sync.
          } catch (IOException e) {
            syncFailure.set(e);
          } finally {
            syncing.set(false);
          }
        });
  }

  /** The journal's file. */
  Path path() {
    return journal;
  }

  /** The header the journal carries: the image's. */
  ImageFileHeader header() {
    return header;
  }

  /** The chunks held, in index order. */
  List<JournalRecord> records() {
    return List.copyOf(records);
  }

  /** The highest chunk index held, -1 when none. */
  int lastIndex() {
    return records.isEmpty() ? -1 : records.get(records.size() - 1).index();
  }

  /** The record of chunk {@code index}, if held. */
  Optional<JournalRecord> record(int index) {
    int lo = 0;
    int hi = records.size() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int at = records.get(mid).index();
      if (at == index) {
        return Optional.of(records.get(mid));
      }
      if (at < index) {
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return Optional.empty();
  }

  /** Where the next chunk's stored bytes go in the image's {@code .cci} layout. */
  long end() {
    return end;
  }

  /** Stored bytes held. */
  long storedBytes() {
    return end - header.headerLength();
  }

  /**
   * Puts a checked chunk ({@code stored}, which decodes to {@code logicalLength} bytes of digest
   * {@code sha256}; not changed by the caller any more) into the pool under this upload's hold,
   * unless the pool holds a copy already (another image's, or sent before a restart): then nothing
   * is written. The pool's copies are whole (each was fsync'd before its rename), as every writer
   * of the pool takes them; but for one the replay found damaged, which is replaced. The write
   * (temporary name, fsync, rename) runs on the {@code settlers}, off the request, and the next
   * grouped sync waits for it (class comment); at most {@link #WRITING_BYTES} wait to be written,
   * beyond that the caller waits. Thread-safe: the chunks in flight are staged on as many threads,
   * outside the capture's lock.
   *
   * @return the length of the stored bytes the pool holds, or will, for it: {@code logicalLength}
   *     means RAW, less a zstd frame (the pool's copy may be another encoding of the same content)
   * @throws IOException when the writes have not moved for {@link #WRITING_WAIT_NANOS}
   */
  int stage(Sha256 sha256, int logicalLength, ByteBuffer stored) throws IOException {
    IOException failed = writeFailure.get();
    if (failed != null) {
      // Every chunk after a failed write is refused the same way (a full disk: 507).
      throw new IOException(failed.getMessage(), failed);
    }
    // Held first: a sweep must not take the copy between the check and the record.
    hold.holdAll(List.of(sha256));
    long have = pool.length(sha256);
    boolean damaged = damagedInPool.contains(sha256);
    if (have > 0 && have <= logicalLength && !damaged) {
      return (int) have;
    }
    int n = stored.remaining();
    try {
      if (!writing.tryAcquire(n, WRITING_WAIT_NANOS, TimeUnit.NANOSECONDS)) {
        throw new IOException(
            "the chunk pool's writes have not moved for "
                + TimeUnit.NANOSECONDS.toSeconds(WRITING_WAIT_NANOS)
                + " s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the chunk pool's writes", e);
    }
    CompletableFuture<Void> f;
    try {
      f =
          CompletableFuture.runAsync(
              () -> {
                try {
                  if (damaged) {
                    hold.restage(sha256, stored);
                  } else {
                    hold.stage(sha256, logicalLength, stored);
                  }
                } catch (IOException e) {
                  writeFailure.compareAndSet(null, e);
                  throw new UncheckedIOException(e);
                } finally {
                  writing.release(n);
                }
              },
              settlers);
    } catch (RejectedExecutionException e) {
      writing.release(n);
      throw new IOException("the daemon is stopping", e);
    }
    synchronized (pending) {
      pending.add(f);
    }
    return n;
  }

  /**
   * Journals a checked chunk, staged into the pool already ({@link #stage}), after the last one;
   * fsync'd with the group (class comment).
   *
   * @param r its record: its offset must be {@link #end()}, its index above {@link #lastIndex()},
   *     its kind and length those of the pool's copy
   * @param logical its logical bytes, checked against its hash by the caller, for the image hash;
   *     ignored (may be null) for an upload of a version 3 image ({@link #hashesChunkDigests})
   * @throws IOException also when the last grouped fsync failed
   */
  void append(JournalRecord r, byte[] logical) throws IOException {
    if (r.offset() != end || r.index() <= lastIndex()) {
      throw new IllegalStateException(
          "chunk "
              + r.index()
              + " at "
              + r.offset()
              + " does not follow chunk "
              + lastIndex()
              + " ending at "
              + end);
    }
    int length =
        (int)
            Math.min(
                header.chunkSize(), header.logicalSize() - (long) r.index() * header.chunkSize());
    if (hash != null && (logical == null || logical.length < length)) {
      throw new IllegalStateException(
          "chunk "
              + r.index()
              + ": "
              + (logical == null ? 0 : logical.length)
              + " logical bytes, want "
              + length);
    }
    IOException failed = syncFailure.getAndSet(null);
    if (failed != null) {
      throw new IOException(
          "fsync of the capture's journal failed: " + failed.getMessage(), failed);
    }
    ByteBuf rec = Unpooled.buffer(r.encodedLength());
    try {
      r.encode(rec);
      ChannelIo.writeFully(journalCh, rec.nioBuffer(), journalEnd);
    } finally {
      rec.release();
    }
    unsyncedBytes += r.length();
    if (unsyncedBytes >= SYNC_BYTES || nanoTime.getAsLong() - lastSyncNanos >= SYNC_NANOS) {
      syncLater();
    }
    records.add(r);
    end = r.end();
    journalEnd += r.encodedLength();
    if (hash != null) {
      hash.add(r.index(), logical, length);
    }
  }

  /**
   * Whether this upload is of a version 3 image: it keeps no image hash and needs no logical bytes.
   */
  boolean hashesChunkDigests() {
    return hash == null;
  }

  /**
   * The SHA-256 of the whole logical image, every chunk after {@link #lastIndex()} taken as zeros:
   * what a manifest of version 1 or 2 that matches {@link #records()} must state. No I/O.
   *
   * @throws IllegalStateException for an upload of a version 3 image, which keeps none
   */
  Sha256 imageHash() {
    if (hash == null) {
      throw new IllegalStateException(
          "an upload of a version 3 image keeps no hash of its logical bytes");
    }
    return hash.finish();
  }

  /**
   * Makes every record and chunk durable and hands the hold over to the publish, which closes it;
   * the journal stays (its records keep the chunks from a sweep) until {@link #published}.
   */
  ChunkPool.Hold handOver() throws IOException {
    sync();
    journalCh.close();
    return hold;
  }

  /** After the image was published: removes the journal. */
  void published() throws IOException {
    Files.deleteIfExists(journal);
  }

  /**
   * Settles the chunks written so far and syncs the journal (a daemon that stops keeps what it was
   * sent), then closes the journal and releases the chunks' hold; the journal stays for a resume.
   */
  @Override
  public void close() throws IOException {
    try {
      sync();
    } catch (IOException e) {
      // What did not reach the disk is sent again after the restart's begin.
      LOG.info("capture: {}: the last chunks were not synced: {}", journal, e.toString());
    } finally {
      abandon();
    }
  }

  /**
   * Closes the journal and releases the chunks' hold, without waiting for the writes still running
   * (their chunks go at the next sweep): for an upload that failed, was cancelled or starts again.
   */
  void abandon() throws IOException {
    try {
      journalCh.close();
    } finally {
      hold.close();
    }
  }

  private static void syncDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // Some file systems refuse fsync on directories; the data itself is synced.
      LOG.debug("capture: fsync of directory {} failed: {}", dir, e.toString());
    }
  }
}

package org.clonecast.server.capture;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executor;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The files of one capture in the image store, written without a second copy of the image: {@code
 * NAME.cci.partial} is the image being built (header first, then each verified chunk's stored bytes
 * appended in index order, the manifest last) and {@code NAME.cci.journal} lists the chunks it
 * holds ({@link JournalRecord}).
 *
 * <p>Durability is grouped: data and journal are fsync'd together (data first) once {@link
 * #SYNC_BYTES} or {@link #SYNC_NANOS} have gone by since the last fsync, on the {@code syncer}
 * thread so that no upload waits for the disk, and always before the image is completed. One fsync
 * per chunk cost about 9 ms twice per MiB here, more than reading and compressing it; done inline
 * once a second it still stalled the upload for a third of the daemon's request time
 * (docs/benchmarks.md, "Capture"). A crash (of the machine: a killed daemon loses nothing the
 * kernel holds) can lose the last second or so of chunks the agent was told were stored, and the
 * agent's next {@code begin} shows it fewer held chunks, so it sends them again. {@link #open}
 * replays the journal: it stops at the first torn or inconsistent record, or at the first chunk
 * whose bytes no longer decode to their hash (a write the crash cut short), cuts the journal there
 * and the partial image to the last good record's end.
 *
 * <p>Chunks are appended in increasing index order (the caller puts chunks that arrive early in
 * order first), so the offsets are exactly those {@code clonecast image create} gives, and what the
 * daemon holds is every stored chunk up to {@link #lastIndex()}.
 *
 * <p>For an agent whose manifest will carry the image hash of versions 1 and 2 (the SHA-256 of the
 * whole logical image), that hash is kept as chunks are appended (the chunks that store nothing
 * count as zeros) and redone by the replay from the bytes it checks anyway, so {@link #imageHash}
 * needs no second pass over the image: every stored chunk was checked against its hash when it
 * arrived, or when a restart replayed it. For one whose manifest is of version 3 ({@code
 * hashOfChunks}: the image hash is that of the chunk digests, which the manifest checks itself)
 * nothing is kept, and the logical bytes of a chunk are not needed once it is checked.
 *
 * <p>Not thread-safe: the caller serialises calls per capture.
 */
final class CaptureUpload implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CaptureUpload.class);

  /** Bytes appended since the last fsync that make the next append fsync. */
  static final long SYNC_BYTES = 64L << 20;

  /** Time since the last fsync that makes the next append fsync. */
  static final long SYNC_NANOS = 1_000_000_000L;

  /** Zeros fed to the image hash for chunks that store nothing. */
  private static final byte[] ZEROS = new byte[64 * 1024];

  private final Path data;
  private final Path journal;
  private final LongSupplier nanoTime;
  private long unsyncedBytes;
  private long lastSyncNanos;
  private final ImageFileHeader header;
  private final FileChannel dataCh;
  private final FileChannel journalCh;
  private final List<JournalRecord> records;
  private final Executor syncer;

  /** Whether a grouped fsync is running on {@link #syncer}. */
  private final AtomicBoolean syncing = new AtomicBoolean();

  /** Why the last grouped fsync failed, reported by the next append. */
  private final AtomicReference<IOException> syncFailure = new AtomicReference<>();

  /** The SHA-256 of the logical image so far; null for an upload of a version 3 image. */
  private final ImageHash hash;

  private long end;
  private long journalEnd;

  private CaptureUpload(
      Path data,
      Path journal,
      ImageFileHeader header,
      FileChannel dataCh,
      FileChannel journalCh,
      List<JournalRecord> records,
      long end,
      long journalEnd,
      Executor syncer,
      LongSupplier nanoTime,
      ImageHash hash) {
    this.data = data;
    this.journal = journal;
    this.header = header;
    this.dataCh = dataCh;
    this.journalCh = journalCh;
    this.records = records;
    this.end = end;
    this.journalEnd = journalEnd;
    this.syncer = syncer;
    this.nanoTime = nanoTime;
    this.lastSyncNanos = nanoTime.getAsLong();
    this.hash = hash;
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

  /** {@code NAME.cci.partial} for image file {@code file}. */
  static Path dataPath(Path file) {
    return file.resolveSibling(file.getFileName() + ".partial");
  }

  /** {@code NAME.cci.journal} for image file {@code file}. */
  static Path journalPath(Path file) {
    return file.resolveSibling(file.getFileName() + ".journal");
  }

  /** Whether a partial upload exists for image file {@code file}. */
  static boolean exists(Path file) {
    return Files.exists(dataPath(file));
  }

  /**
   * Opens the upload of image file {@code file}: resumes what a previous run left when it is of the
   * same image (id, size and chunk size), else starts empty.
   *
   * @param hashOfChunks whether the image's manifest will be of version 3 (no image hash kept here)
   * @param syncer runs the grouped fsyncs
   * @param nanoTime the clock the grouped fsyncs go by ({@code System::nanoTime})
   */
  static CaptureUpload open(
      Path file,
      UUID imageId,
      long logicalSize,
      int chunkSize,
      boolean hashOfChunks,
      Executor syncer,
      LongSupplier nanoTime)
      throws IOException {
    Path data = dataPath(file);
    Path journal = journalPath(file);
    // The latest layout: the manifest is known only at the end, and it may use any kind.
    ImageFileHeader want =
        ImageFileHeader.incomplete(
            ImageFileHeader.VERSION,
            imageId,
            logicalSize,
            chunkSize,
            Manifest.chunkCount(logicalSize, chunkSize));
    if (Files.exists(data) && !want.equals(readHeader(data).orElse(null))) {
      LOG.info("capture: {} is of another image or damaged; starting it again", data);
      delete(file);
    }
    boolean fresh = !Files.exists(data);
    FileChannel d =
        FileChannel.open(
            data, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileChannel j = null;
    try {
      j =
          FileChannel.open(
              journal,
              StandardOpenOption.CREATE,
              StandardOpenOption.READ,
              StandardOpenOption.WRITE);
      if (fresh) {
        j.truncate(0);
      }
      // Also over a header a crashed finish completed: the manifest it points at is cut off below.
      ChannelIo.writeEncoded(d, want::encode, 0);
      d.force(true);
      if (fresh) {
        syncDirectory(file.toAbsolutePath().getParent());
      }
      List<JournalRecord> records = new ArrayList<>();
      ImageHash hash = hashOfChunks ? null : new ImageHash(want);
      long[] ends = replay(j, d, want, d.size(), records, hash);
      long dataEnd = ends[0];
      long journalEnd = ends[1];
      if (j.size() != journalEnd) {
        LOG.info(
            "capture: {} ends in a torn record; cut at {} of {} bytes",
            journal,
            journalEnd,
            j.size());
        j.truncate(journalEnd);
        j.force(true);
      }
      if (d.size() != dataEnd) {
        // Bytes of a chunk whose record was never written (or a manifest of a finish that crashed).
        d.truncate(dataEnd);
        d.force(true);
      }
      return new CaptureUpload(
          data, journal, want, d, j, records, dataEnd, journalEnd, syncer, nanoTime, hash);
    } catch (IOException | RuntimeException e) {
      d.close();
      if (j != null) {
        j.close();
      }
      throw e;
    }
  }

  private static Optional<ImageFileHeader> readHeader(Path data) throws IOException {
    try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate(ImageFileHeader.LENGTH);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // read the header
      }
      b.flip();
      ImageFileHeader h = ImageFileHeader.decode(Unpooled.wrappedBuffer(b));
      // A finish that crashed after filling in the manifest fields: the chunks are still good.
      return Optional.of(
          h.isComplete()
              ? ImageFileHeader.incomplete(
                  h.version(), h.imageId(), h.logicalSize(), h.chunkSize(), h.chunkCount())
              : h);
    } catch (MalformedImageException e) {
      return Optional.empty();
    }
  }

  /**
   * Reads the good records into {@code out}: each must decode, follow the previous one's index and
   * end, fit the image and name bytes the data file has ({@code dataSize}: a record whose bytes are
   * missing, which fsync ordering rules out unless the file was damaged, is dropped with all after
   * it), each good one's logical bytes added to {@code hash} (unless null). Returns {data end,
   * journal end} of the last good one.
   */
  private static long[] replay(
      FileChannel j,
      FileChannel d,
      ImageFileHeader h,
      long dataSize,
      List<JournalRecord> out,
      ImageHash hash)
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
    long dataEnd = h.headerLength();
    int lastIndex = -1;
    long good = 0;
    byte[] bytes = new byte[h.chunkSize()];
    while (in.isReadable()) {
      JournalRecord r;
      try {
        r = JournalRecord.decode(in);
      } catch (MalformedImageException e) {
        LOG.info("capture: journal replay stops at byte {}: {}", good, e.getMessage());
        break;
      }
      if (r.index() <= lastIndex
          || r.index() >= h.chunkCount()
          || r.offset() != dataEnd
          || r.end() > dataSize) {
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
      Optional<String> bad = damage(d, h, r, bytes, logical);
      if (bad.isPresent()) {
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
   * Data before journal: a record that reached the disk names bytes that did, but for a torn write
   * replay catches (appends go on during a grouped fsync, so a journal record can also reach the
   * disk before its bytes: replay catches that the same way).
   */
  private void sync() throws IOException {
    dataCh.force(false);
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

  /**
   * Why chunk {@code r}'s stored bytes do not decode to its hash, if they do not (fsyncs are
   * grouped: a crash can tear them); else its {@code logical} bytes are in {@code out}.
   */
  private static Optional<String> damage(
      FileChannel d, ImageFileHeader h, JournalRecord r, byte[] out, int logical)
      throws IOException {
    ByteBuffer stored = ByteBuffer.allocate(r.length());
    while (stored.hasRemaining() && d.read(stored, r.offset() + stored.position()) > 0) {
      // read the chunk
    }
    if (stored.hasRemaining()) {
      return Optional.of("its bytes end early");
    }
    stored.flip();
    try {
      UsedBlocks used =
          r.usedMap().length == 0
              ? UsedBlocks.all()
              : UsedBlocks.of(r.usedMap(), UsedBlocks.blockCount(logical));
      ChunkEntry e =
          new ChunkEntry(
              r.index(),
              ChunkKind.fromCode(r.kindCode()),
              r.offset(),
              r.length(),
              r.sha256(),
              used);
      ChunkCodec.decode(e, stored, out, 0, logical);
      return Optional.empty();
    } catch (RuntimeException e) {
      return Optional.of(e.getMessage());
    }
  }

  /** The partial image's file. */
  Path path() {
    return data;
  }

  /** The header the partial image carries. */
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

  /** Where the next chunk's stored bytes go: the end of the held ones. */
  long end() {
    return end;
  }

  /** Stored bytes held. */
  long storedBytes() {
    return end - header.headerLength();
  }

  /**
   * Appends a verified chunk after the last one and journals it; both are fsync'd with the group
   * (class comment).
   *
   * @param r its record; its offset must be {@link #end()} and its index above {@link #lastIndex()}
   * @param logical its logical bytes, checked against its hash by the caller, for the image hash;
   *     ignored (may be null) for an upload of a version 3 image ({@link #hashesChunkDigests})
   * @throws IOException also when the last grouped fsync failed
   */
  void append(JournalRecord r, ByteBuffer stored, byte[] logical) throws IOException {
    if (r.offset() != end || r.index() <= lastIndex() || stored.remaining() != r.length()) {
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
      throw new IOException("fsync of the capture's files failed: " + failed.getMessage(), failed);
    }
    ChannelIo.writeFully(dataCh, stored.duplicate(), end);
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
   * Completes the image: appends the encoded manifest, fsync, fills in the header's manifest
   * fields, fsync. The result is a complete {@code .cci} still under the partial name.
   *
   * @return the partial image's path
   */
  Path complete(Manifest m) throws IOException {
    sync();
    int length = ChannelIo.writeEncoded(dataCh, m::encode, end);
    dataCh.force(true);
    ChannelIo.writeEncoded(
        dataCh,
        header.complete(end, length)::encodeManifestFields,
        ImageFileHeader.MANIFEST_FIELDS_OFFSET);
    dataCh.force(true);
    return data;
  }

  /** Renames the completed image to {@code file} and removes the journal. */
  void publish(Path file) throws IOException {
    close();
    Files.move(data, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Files.deleteIfExists(journal);
    syncDirectory(file.toAbsolutePath().getParent());
  }

  /** Removes an upload's files. */
  static void delete(Path file) throws IOException {
    Files.deleteIfExists(journalPath(file));
    Files.deleteIfExists(dataPath(file));
  }

  @Override
  public void close() throws IOException {
    try {
      dataCh.close();
    } finally {
      journalCh.close();
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

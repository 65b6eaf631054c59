package org.clonecast.common.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.clonecast.common.testing.SampleDisks;
import org.clonecast.common.testing.SampleDisks.UsedDisk;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.image.UsedBlocks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Images made with an {@link AllocationMap}: free space is neither read, stored nor written. */
class AllocationMapImageTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({"65536, 3000001, 1", "1048576, 6291456, 2", "4096, 300000, 3", "8192, 200003, 4"})
  void freeSpaceNeverReachesTheImage(int chunkSize, long size, long seed) throws IOException {
    UsedDisk d = SampleDisks.withFreeSpace(dir.resolve("disk.raw"), size, seed);
    byte[] disk = Files.readAllBytes(d.path());
    byte[] logical = SampleDisks.logical(disk, d.map());
    assertTrue(
        SampleDisks.contains(disk, SampleDisks.GARBAGE_MARKER),
        "the test disk has garbage to leave out");
    Path cci = dir.resolve("disk.cci");
    List<Long> progress = new ArrayList<>();
    Manifest m = ImageCreator.create(d.path(), cci, chunkSize, 3, 2, false, d.map(), progress::add);
    assertEquals(size, progress.get(progress.size() - 1));
    // Version 3: the image hash is that of the chunk digests, each of its chunk's logical bytes.
    assertTrue(m.hashOfChunks());
    assertEquals(
        Manifest.hashOfChunkDigests(m.chunks()),
        m.imageHash(),
        "the image hash is over the chunk digests");
    for (int i = 0; i < m.chunkCount(); i++) {
      int from = (int) m.logicalOffset(i);
      assertEquals(
          Sha256.digest(logical, from, m.logicalLength(i)),
          m.chunk(i).sha256(),
          "chunk " + i + " digest");
    }
    long usedBlocksBytes = 0;
    for (long b = 0; b < size; b += UsedBlocks.BLOCK) {
      usedBlocksBytes +=
          SampleDisks.usedBlock(d.map(), b) ? Math.min(UsedBlocks.BLOCK, size - b) : 0;
    }
    assertEquals(usedBlocksBytes, m.usedBytes());
    assertTrue(m.usedBytes() < size, "the map leaves something out");
    for (int i = 0; i < m.chunkCount(); i++) {
      ChunkEntry e = m.chunk(i);
      assertEquals(
          d.map().forChunk(i, chunkSize).orElse(UsedBlocks.none()), e.used(), "chunk " + i);
    }
    if (chunkSize > UsedBlocks.BLOCK) {
      assertTrue(m.chunks().stream().anyMatch(ChunkEntry::isPartial), "some chunk is partly used");
    }
    byte[] file = Files.readAllBytes(cci);
    assertFalse(
        SampleDisks.contains(file, SampleDisks.GARBAGE_MARKER),
        "the .cci carries no free-space garbage");
    try (ImageReader r = ImageReader.open(cci)) {
      assertEquals(m, r.manifest());
      assertEquals(m.formatVersion(), r.header().version());
      byte[] chunk = new byte[chunkSize];
      for (int i = 0; i < m.chunkCount(); i++) {
        r.readLogical(i, chunk);
        int len = m.logicalLength(i);
        int from = (int) m.logicalOffset(i);
        assertArrayEquals(
            Arrays.copyOfRange(logical, from, from + len), Arrays.copyOf(chunk, len), "chunk " + i);
      }
      ImageVerifier.verify(r, 2, ProgressListener.NONE);
      Path out = dir.resolve("out.raw");
      ImageExtractor.Result res = ImageExtractor.extract(r, out, ImageExtractor.Options.defaults());
      assertArrayEquals(
          logical, Files.readAllBytes(out), "extract gives the used bytes, zeros elsewhere");
      assertEquals(
          m.dataBytes(),
          res.bytesWritten(),
          "only used blocks of stored chunks are written to a new file");
    }
  }

  /** A wholly free chunk is never read: the scan still succeeds when reading it would fail. */
  @Test
  void unusedChunksAreNeverRead() throws IOException {
    int cs = 64 * 1024;
    Path raw = SampleDisks.write(dir.resolve("d.raw"), 4L * cs, SampleDisks.Fill.TEXT, 5);
    // Chunk 1 wholly free, chunk 2 used in its second block only.
    AllocationMap map =
        AllocationMap.of(
            4L * cs,
            List.of(
                new AllocationMap.Extent(0, cs),
                new AllocationMap.Extent(2L * cs + 5000, 10),
                new AllocationMap.Extent(3L * cs, cs)));
    List<Long> reads = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ)) {
      FileChannel spy = new RecordingChannel(ch, reads);
      Manifest m =
          ChunkScanner.scan(
              raw,
              spy,
              4L * cs,
              map,
              UUID.randomUUID(),
              cs,
              3,
              1,
              0,
              ProgressListener.NONE,
              ChunkScanner.DISCARD);
      assertEquals(ChunkKind.UNUSED, m.chunk(1).kind());
      assertTrue(m.chunk(2).isPartial());
      assertEquals(UsedBlocks.BLOCK, m.usedBytes(2));
      assertEquals(3, m.formatVersion());
    }
    for (long pos : reads) {
      assertFalse(pos >= cs && pos < 2L * cs, "read at " + pos + " inside the UNUSED chunk");
      assertFalse(
          pos >= 2L * cs && pos < 2L * cs + UsedBlocks.BLOCK,
          "read at " + pos + " before the used block of chunk 2");
    }
    assertTrue(
        reads.contains(2L * cs + UsedBlocks.BLOCK),
        "chunk 2 is read from its first used block: " + reads);
  }

  @Test
  void theSinkGetsEveryChunkInOrderWithItsFileOffset() throws IOException {
    UsedDisk d = SampleDisks.withFreeSpace(dir.resolve("s.raw"), 2_000_000, 8);
    List<ChunkEntry> seen = new ArrayList<>();
    List<Integer> stored = new ArrayList<>();
    Manifest m;
    try (FileChannel ch = FileChannel.open(d.path(), StandardOpenOption.READ)) {
      m =
          ChunkScanner.scan(
              d.path(),
              ch,
              2_000_000,
              d.map(),
              UUID.randomUUID(),
              65536,
              3,
              3,
              0,
              ProgressListener.NONE,
              (e, c) -> {
                seen.add(e);
                stored.add(c.storedLength());
                assertEquals(e.kind(), c.kind());
              });
    }
    assertEquals(m.chunks(), seen);
    long at = ImageFileHeader.LENGTH;
    for (int i = 0; i < seen.size(); i++) {
      assertEquals(stored.get(i), seen.get(i).storedLength());
      if (seen.get(i).kind().isStored()) {
        assertEquals(at, seen.get(i).storedOffset());
        at += seen.get(i).storedLength();
      }
    }
    Manifest created =
        ImageCreator.create(
            d.path(), dir.resolve("s.cci"), 65536, 3, 2, false, d.map(), ProgressListener.NONE);
    assertEquals(created.chunks(), m.chunks(), "the sink sees the entries a .cci gets");
    try (FileChannel ch = FileChannel.open(d.path(), StandardOpenOption.READ)) {
      AllocationMap other = AllocationMap.whole(5);
      assertThrows(
          IllegalArgumentException.class,
          () ->
              ChunkScanner.scan(
                  d.path(),
                  ch,
                  2_000_000,
                  other,
                  UUID.randomUUID(),
                  65536,
                  3,
                  1,
                  0,
                  ProgressListener.NONE,
                  ChunkScanner.DISCARD));
    }
  }

  @Test
  void rawSourceWithAMapServesTheImagesChunks() throws IOException {
    UsedDisk d = SampleDisks.withFreeSpace(dir.resolve("r.raw"), 1_500_000, 9);
    Path cci = dir.resolve("r.cci");
    Manifest m =
        ImageCreator.create(d.path(), cci, 65536, 3, 2, false, d.map(), ProgressListener.NONE);
    try (RawChunkSource s =
            RawChunkSource.open(d.path(), 65536, 3, 2, d.map(), ProgressListener.NONE);
        ImageReader r = ImageReader.open(cci)) {
      assertEquals(m.chunks(), s.manifest().chunks());
      assertEquals(m.imageHash(), s.manifest().imageHash());
      for (int i = 0; i < m.chunkCount(); i++) {
        assertEquals(r.readStored(i), s.readStored(i), "chunk " + i);
      }
      ImageVerifier.verify(s, 2, ProgressListener.NONE);
    }
    // Free space may change between the scan and a send: it is not part of the image.
    assertEquals(
        m.chunks(),
        RawChunkSource.scan(d.path(), 65536, 3, 1, d.map(), ProgressListener.NONE).chunks());
  }

  @Test
  void aWholeMapGivesTheSameVersion1ImageAsNoMap() throws IOException {
    Path raw = SampleDisks.mixed(dir.resolve("w.raw"), 700_000, 3, 20_000);
    Manifest a = ImageCreator.create(raw, dir.resolve("a.cci"), 65536, 3, 1, ProgressListener.NONE);
    Manifest b =
        ImageCreator.create(
            raw,
            dir.resolve("b.cci"),
            65536,
            3,
            1,
            false,
            AllocationMap.whole(700_000),
            ProgressListener.NONE);
    assertEquals(a.chunks(), b.chunks());
    assertEquals(a.imageHash(), b.imageHash());
    assertEquals(1, b.formatVersion());
    try (ImageReader r = ImageReader.open(dir.resolve("b.cci"))) {
      assertEquals(1, r.header().version());
    }
    assertEquals(Files.size(dir.resolve("a.cci")), Files.size(dir.resolve("b.cci")));
  }

  /**
   * A version 1 header in front of a version 2 manifest is refused: a version 1 reader would have
   * taken the file.
   */
  @Test
  void aVersion3ManifestNeedsAVersion3Header() throws IOException {
    UsedDisk d = SampleDisks.withFreeSpace(dir.resolve("h.raw"), 1_000_000, 6);
    Path cci = dir.resolve("h.cci");
    Manifest m =
        ImageCreator.create(d.path(), cci, 65536, 3, 1, false, d.map(), ProgressListener.NONE);
    assertEquals(3, m.formatVersion());
    try (FileChannel ch = FileChannel.open(cci, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(new byte[] {0, 2}), 8);
    }
    MalformedImageException e =
        assertThrows(MalformedImageException.class, () -> ImageReader.open(cci));
    assertTrue(
        e.getMessage().contains("manifest of version 3 in a file of version 2"), e.getMessage());
  }

  /**
   * An image written by clonecast at format version 2 (committed, made with the build before
   * version 3: its image hash is the SHA-256 of the logical bytes) still reads, verifies and
   * extracts, and a wrong image hash in it is still caught.
   */
  @Test
  void aVersion2ImageOfTheOldBuildStillWorks() throws IOException {
    Path cci = copyResource("v2-tiny.cci");
    byte[] raw = Files.readAllBytes(copyResource("v2-tiny.raw"));
    try (ImageReader r = ImageReader.open(cci)) {
      Manifest m = r.manifest();
      assertEquals(2, r.header().version());
      assertEquals(2, m.formatVersion());
      assertFalse(m.hashOfChunks());
      assertEquals(Sha256.digest(raw, 0, raw.length), m.imageHash());
      assertEquals(
          List.of(ChunkKind.ZSTD, ChunkKind.UNUSED, ChunkKind.ZSTD, ChunkKind.RAW),
          m.chunks().stream().map(ChunkEntry::kind).toList());
      assertTrue(m.chunk(2).isPartial());
      ImageVerifier.verify(r, 2, ProgressListener.NONE);
      Path out = dir.resolve("v2.out");
      ImageExtractor.extract(r, out, ImageExtractor.Options.defaults());
      assertArrayEquals(raw, Files.readAllBytes(out));
    }
    // The same image with another image hash (and a crc to match): every chunk checks, the whole
    // does not.
    byte[] file = Files.readAllBytes(cci);
    Manifest m;
    long manifestAt;
    try (ImageReader r = ImageReader.open(cci)) {
      m = r.manifest();
      manifestAt = r.header().manifestOffset();
    }
    Manifest wrong =
        new Manifest(
            m.imageId(),
            m.logicalSize(),
            m.chunkSize(),
            m.chunks(),
            Sha256.digest(new byte[1], 0, 1));
    ByteBuf enc = Unpooled.buffer();
    wrong.encode(enc);
    byte[] encoded = new byte[enc.readableBytes()];
    enc.readBytes(encoded);
    System.arraycopy(encoded, 0, file, (int) manifestAt, encoded.length);
    Path bad = dir.resolve("v2-bad.cci");
    Files.write(bad, file);
    try (ImageReader r = ImageReader.open(bad)) {
      MalformedImageException e =
          assertThrows(
              MalformedImageException.class,
              () -> ImageVerifier.verify(r, 2, ProgressListener.NONE));
      assertTrue(e.getMessage().contains("image sha256 mismatch"), e.getMessage());
    }
  }

  /**
   * An image written by clonecast before format version 2 (committed, made with that build) still
   * reads, verifies and extracts.
   */
  @Test
  void aVersion1ImageOfTheOldBuildStillWorks() throws IOException {
    Path cci = copyResource("v1-tiny.cci");
    byte[] raw = Files.readAllBytes(copyResource("v1-tiny.raw"));
    try (ImageReader r = ImageReader.open(cci)) {
      Manifest m = r.manifest();
      assertEquals(1, r.header().version());
      assertEquals(1, m.formatVersion());
      assertEquals(UUID.fromString("b3d95716-b100-44d2-9543-094aacd97e13"), m.imageId());
      assertEquals(
          Sha256.ofHex("4acaf0e61d45bd63f61ab8be22c5b88a9d68d1233296257c99cc8550d6578767"),
          m.imageHash());
      assertEquals(
          List.of(ChunkKind.ZERO, ChunkKind.ZSTD, ChunkKind.RAW, ChunkKind.ZSTD),
          m.chunks().stream().map(ChunkEntry::kind).toList());
      assertTrue(m.chunks().stream().allMatch(e -> e.used().isAll()));
      assertEquals(raw.length, m.usedBytes());
      ImageVerifier.verify(r, 2, ProgressListener.NONE);
      Path out = dir.resolve("v1.out");
      ImageExtractor.extract(r, out, ImageExtractor.Options.defaults());
      assertArrayEquals(raw, Files.readAllBytes(out));
    }
  }

  private Path copyResource(String name) throws IOException {
    Path p = dir.resolve(name);
    try (var in = getClass().getResourceAsStream("/images/" + name)) {
      Files.copy(in, p);
    }
    return p;
  }

  /** A channel that records the position of every positional read and passes it on. */
  private static final class RecordingChannel extends FileChannel {
    private final FileChannel ch;
    private final List<Long> reads;

    RecordingChannel(FileChannel ch, List<Long> reads) {
      this.ch = ch;
      this.reads = reads;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
      synchronized (reads) {
        reads.add(position);
      }
      return ch.read(dst, position);
    }

    @Override
    public int read(ByteBuffer dst) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) {
      throw new UnsupportedOperationException();
    }

    @Override
    public int write(ByteBuffer src) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long position() {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileChannel position(long newPosition) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long size() throws IOException {
      return ch.size();
    }

    @Override
    public FileChannel truncate(long size) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void force(boolean metaData) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) {
      throw new UnsupportedOperationException();
    }

    @Override
    public int write(ByteBuffer src, long position) {
      throw new UnsupportedOperationException();
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) {
      throw new UnsupportedOperationException();
    }

    @Override
    protected void implCloseChannel() throws IOException {
      ch.close();
    }
  }
}

package org.clonecast.common.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.clonecast.common.testing.SampleDisks;
import org.clonecast.common.testing.SampleDisks.Fill;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ImageRoundTripTest {
  private static final int CS = 64 * 1024;

  @TempDir Path dir;

  private Path sample(String kind, long size) throws IOException {
    Path p = dir.resolve(kind + ".raw");
    return kind.equals("mixed")
        ? SampleDisks.mixed(p, size, 42, 20_000)
        : SampleDisks.write(p, size, Fill.valueOf(kind), 42);
  }

  @ParameterizedTest
  @CsvSource({
    "RANDOM, 1000000",
    "ZERO, 655360",
    "TEXT, 300001",
    "mixed, 2000000",
    "mixed, 65536",
    "ZERO, 0",
    "RANDOM, 1"
  })
  void createReadVerifyExtract(String kind, long size) throws IOException {
    Path raw = sample(kind, size);
    Path cci = dir.resolve("a.cci");
    List<Long> progress = new ArrayList<>();
    Manifest m = ImageCreator.create(raw, cci, CS, 3, 3, progress::add);
    byte[] data = Files.readAllBytes(raw);
    assertEquals(size, m.logicalSize());
    assertEquals(Sha256.digest(data, 0, data.length), m.imageHash());
    assertEquals(
        size == 0 ? List.of() : List.of(size),
        progress.isEmpty() ? List.of() : progress.subList(progress.size() - 1, progress.size()));
    assertFalse(Files.exists(PartialFile.partialName(cci)));
    assertEquals(ImageFileHeader.LENGTH + m.storedBytes() + m.encodedLength(), Files.size(cci));
    try (ImageReader r = ImageReader.open(cci)) {
      assertEquals(m, r.manifest());
      byte[] chunk = new byte[CS];
      for (int i = 0; i < m.chunkCount(); i++) {
        r.readLogical(i, chunk);
        int len = m.logicalLength(i);
        assertArrayEquals(
            Arrays.copyOfRange(data, i * CS, i * CS + len), Arrays.copyOf(chunk, len));
      }
      ImageVerifier.verify(r, 2, ProgressListener.NONE);
      Path out = dir.resolve("out.raw");
      ImageExtractor.extract(r, out, ImageExtractor.Options.defaults());
      assertArrayEquals(data, Files.readAllBytes(out));
    }
    if (kind.equals("ZERO") && size > 0) {
      assertEquals(m.chunkCount(), m.count(ChunkKind.ZERO));
      assertEquals(0, m.storedBytes());
    }
  }

  @Test
  void zeroChunksBecomeHoles() throws IOException, InterruptedException {
    Path raw = SampleDisks.write(dir.resolve("z.raw"), 8L << 20, Fill.ZERO, 1);
    try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "rw")) {
      f.seek(3 * CS + 5);
      f.write(new byte[] {1, 2, 3});
    }
    Path cci = dir.resolve("z.cci");
    ImageCreator.create(raw, cci, CS, 3, 2, ProgressListener.NONE);
    Path out = dir.resolve("z.out");
    try (ImageReader r = ImageReader.open(cci)) {
      ImageExtractor.Result res = ImageExtractor.extract(r, out, ImageExtractor.Options.defaults());
      assertEquals(CS, res.bytesWritten());
    }
    assertArrayEquals(Files.readAllBytes(raw), Files.readAllBytes(out));
    Process stat = new ProcessBuilder("stat", "-c", "%b %B", out.toString()).start();
    String[] blocks = new String(stat.getInputStream().readAllBytes()).trim().split(" ");
    assertEquals(0, stat.waitFor());
    long allocated = Long.parseLong(blocks[0]) * Long.parseLong(blocks[1]);
    assertTrue(
        allocated <= 2 * CS,
        "8 MiB of zeros with one non-zero chunk allocated " + allocated + " bytes");
  }

  @Test
  void refusesExistingOutputUnlessReplacing() throws IOException {
    Path raw = sample("TEXT", 100_000);
    Path cci = dir.resolve("x.cci");
    Files.writeString(cci, "precious");
    assertThrows(
        FileAlreadyExistsException.class,
        () -> ImageCreator.create(raw, cci, CS, 3, 1, ProgressListener.NONE));
    assertEquals("precious", Files.readString(cci));
    ImageCreator.create(raw, cci, CS, 3, 1, true, null, ProgressListener.NONE);
    try (ImageReader r = ImageReader.open(cci)) {
      assertEquals(100_000, r.manifest().logicalSize());
    }
    assertThrows(
        NoSuchFileException.class,
        () ->
            ImageCreator.create(
                dir.resolve("missing"), dir.resolve("y.cci"), CS, 3, 1, ProgressListener.NONE));
    assertFalse(Files.exists(dir.resolve("y.cci.partial")));
  }

  @Test
  void openExplainsBadFiles() throws IOException {
    Path cci = dir.resolve("b.cci");
    Manifest m =
        ImageCreator.create(sample("mixed", 500_000), cci, CS, 3, 2, ProgressListener.NONE);
    byte[] good = Files.readAllBytes(cci);

    Path junk =
        Files.writeString(
            dir.resolve("junk"), "#!/bin/sh\necho hello, this is not an image at all\n");
    assertMessage(junk, "not a clonecast image (bad magic)");
    assertMessage(
        Files.write(dir.resolve("empty"), new byte[0]), "not a clonecast image (bad magic)");

    byte[] incomplete = good.clone();
    Arrays.fill(
        incomplete,
        ImageFileHeader.MANIFEST_FIELDS_OFFSET,
        ImageFileHeader.MANIFEST_FIELDS_OFFSET + 12,
        (byte) 0);
    assertMessage(
        Files.write(dir.resolve("inc.cci"), incomplete),
        "image incomplete (no manifest; was its creation interrupted?)");

    byte[] truncated = Arrays.copyOf(good, good.length - 10);
    assertMessage(
        Files.write(dir.resolve("trunc.cci"), truncated),
        "image truncated: manifest at "
            + (good.length - m.encodedLength())
            + " ("
            + m.encodedLength()
            + " bytes) beyond file size "
            + truncated.length);

    byte[] badManifest = good.clone();
    badManifest[good.length - m.encodedLength() + 30] ^= 1;
    assertMessage(Files.write(dir.resolve("bm.cci"), badManifest), "unreadable: manifest: crc32c");

    byte[] hugeManifest = good.clone();
    ByteBuffer.wrap(hugeManifest)
        .putInt(ImageFileHeader.MANIFEST_FIELDS_OFFSET + 8, Integer.MAX_VALUE);
    assertMessage(Files.write(dir.resolve("huge.cci"), hugeManifest), "image truncated");
    // A length the file could hold but no manifest of 8 chunks needs: rejected before allocating.
    ByteBuffer.wrap(hugeManifest).putInt(ImageFileHeader.MANIFEST_FIELDS_OFFSET + 8, 10_000_000);
    Path huge = Files.write(dir.resolve("huge2.cci"), hugeManifest);
    try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
      f.setLength(16 << 20);
    }
    assertMessage(huge, "manifest length 10000000 too large for 8 chunks");

    byte[] otherId = good.clone();
    otherId[20] ^= 1;
    assertMessage(Files.write(dir.resolve("id.cci"), otherId), "disagree");
  }

  private static void assertMessage(Path p, String fragment) {
    MalformedImageException e =
        assertThrows(MalformedImageException.class, () -> ImageReader.open(p).close());
    assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
    assertTrue(
        e.getMessage().contains(fragment), "'" + e.getMessage() + "' lacks '" + fragment + "'");
  }

  @Test
  void corruptedChunkFailsVerifyAndExtract() throws IOException {
    Path cci = dir.resolve("c.cci");
    Manifest m =
        ImageCreator.create(sample("TEXT", 10L * CS), cci, CS, 3, 2, ProgressListener.NONE);
    var e7 = m.chunk(7);
    try (RandomAccessFile f = new RandomAccessFile(cci.toFile(), "rw")) {
      f.seek(e7.storedOffset() + e7.storedLength() / 2);
      int b = f.read();
      f.seek(e7.storedOffset() + e7.storedLength() / 2);
      f.write(b ^ 0x10);
    }
    try (ImageReader r = ImageReader.open(cci)) {
      ChunkVerificationException ex =
          assertThrows(
              ChunkVerificationException.class,
              () -> ImageVerifier.verify(r, 2, ProgressListener.NONE));
      assertEquals(7, ex.chunkIndex());
      Path out = dir.resolve("c.raw");
      assertThrows(
          ChunkVerificationException.class,
          () -> ImageExtractor.extract(r, out, ImageExtractor.Options.defaults()));
      assertFalse(Files.exists(out));
      assertFalse(Files.exists(PartialFile.partialName(out)));
    }
  }

  @Test
  void rawSourceServesTheSameChunksAsTheImage() throws IOException {
    Path raw = sample("mixed", 1_000_000);
    Path cci = dir.resolve("r.cci");
    Manifest m = ImageCreator.create(raw, cci, CS, 3, 2, ProgressListener.NONE);
    try (RawChunkSource s = RawChunkSource.open(raw, CS, 3, 2, ProgressListener.NONE);
        ImageReader r = ImageReader.open(cci)) {
      Manifest sm = s.manifest();
      assertEquals(m.chunks(), sm.chunks());
      assertEquals(m.imageHash(), sm.imageHash());
      for (int i = 0; i < m.chunkCount(); i++) {
        assertEquals(r.readStored(i), s.readStored(i));
      }
      ByteBuffer direct = ByteBuffer.allocateDirect(CS);
      int n = s.readStored(1, direct);
      assertEquals(m.chunk(1).storedLength(), n);
      ImageVerifier.verify(s, 2, ProgressListener.NONE);
      int nonZero = 0;
      while (m.chunk(nonZero).kind() == ChunkKind.ZERO) {
        nonZero++;
      }
      try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "rw")) {
        f.seek(m.logicalOffset(nonZero));
        f.write(new byte[] {(byte) 0xde, (byte) 0xad});
      }
      int changed = nonZero;
      IOException e = assertThrows(IOException.class, () -> s.readStored(changed));
      assertTrue(
          e.getMessage().contains("changed since it was scanned: chunk " + changed),
          e.getMessage());
    }
  }

  @Test
  void zeroHashOfEmptyImage() throws IOException {
    Manifest m =
        ImageCreator.create(
            sample("ZERO", 0), dir.resolve("e.cci"), CS, 3, 1, ProgressListener.NONE);
    assertEquals(ChunkCodec.zeroHash(0), m.imageHash());
    assertEquals(0, m.chunkCount());
  }
}

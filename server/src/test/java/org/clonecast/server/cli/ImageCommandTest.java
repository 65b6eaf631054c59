package org.clonecast.server.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.common.testing.SampleDisks;
import org.clonecast.common.testing.SampleDisks.Fill;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/**
 * {@code clonecast image ...} end to end through {@link Main#run(PrintWriter, PrintWriter,
 * String...)}.
 */
class ImageCommandTest {
  @TempDir Path dir;

  /** One CLI run: exit code, stdout, stderr. */
  record Run(int code, String out, String err) {}

  static Run cli(Object... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] a = new String[args.length];
    for (int i = 0; i < args.length; i++) {
      a[i] = String.valueOf(args[i]);
    }
    int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), a);
    return new Run(code, out.toString(), err.toString());
  }

  private static Run ok(Object... args) {
    Run r = cli(args);
    assertEquals(
        0,
        r.code(),
        () ->
            "clonecast "
                + String.join(" ", Arrays.stream(args).map(String::valueOf).toList())
                + "\n"
                + r);
    return r;
  }

  private Path sample(String kind, long size) throws IOException {
    Path p = dir.resolve("disk.raw");
    return kind.equals("mixed")
        ? SampleDisks.mixed(p, size, 11, 100_000)
        : SampleDisks.write(p, size, Fill.valueOf(kind), 11);
  }

  @ParameterizedTest
  @CsvSource({
    "RANDOM, 3145728, 1M",
    "ZERO, 4194304, 1M",
    "mixed, 5000000, 256K",
    "TEXT, 1234567, 64K",
    "mixed, 1, 4K",
    "ZERO, 0, 1M"
  })
  void createInfoVerifyExtractRoundTrip(String kind, long size, String chunk) throws IOException {
    Path raw = sample(kind, size);
    Path cci = dir.resolve("disk.cci");
    Run c = ok("image", "create", raw, "-o", cci, "--chunk-size", chunk, "--threads", 2);
    assertTrue(c.out().startsWith("created " + cci), c.out());
    Manifest m;
    try (ImageReader r = ImageReader.open(cci)) {
      m = r.manifest();
    }
    assertTrue(
        c.out()
            .contains(
                "chunks         " + m.chunkCount() + ": " + m.count(ChunkKind.ZERO) + " zero"),
        c.out());
    assertTrue(c.out().contains("image sha256   " + m.imageHash().hex()), c.out());
    assertTrue(c.out().contains("MB/s"), c.out());

    Run info = ok("image", "info", cci);
    assertTrue(
        info.out().contains("logical size   ") && info.out().contains("(" + size + " bytes)"),
        info.out());
    assertTrue(info.out().contains(m.imageId().toString()), info.out());
    Run json = ok("image", "info", "--json", cci);
    assertTrue(json.out().contains("\"logicalSize\":" + size + ","), json.out());
    assertTrue(json.out().contains("\"chunkCount\":" + m.chunkCount() + ","), json.out());
    assertTrue(json.out().contains("\"imageSha256\":\"" + m.imageHash().hex() + "\""), json.out());

    Run v = ok("image", "verify", cci);
    assertTrue(v.out().contains(": ok, " + m.chunkCount() + " chunks"), v.out());

    Path out = dir.resolve("out.raw");
    ok("image", "extract", cci, "-o", out);
    assertArrayEquals(Files.readAllBytes(raw), Files.readAllBytes(out));
    assertFalse(Files.exists(dir.resolve("out.raw.partial")));
    assertFalse(Files.exists(dir.resolve("disk.cci.partial")));
  }

  @Test
  void corruptedChunkFailsVerifyNamingIt() throws IOException {
    Path raw = sample("RANDOM", 20L * 65536);
    Path cci = dir.resolve("c.cci");
    ok("image", "create", raw, "-o", cci, "--chunk-size", "64K");
    ChunkEntry e;
    try (ImageReader r = ImageReader.open(cci)) {
      e = r.manifest().chunk(17);
    }
    assertEquals(ChunkKind.RAW, e.kind());
    try (RandomAccessFile f = new RandomAccessFile(cci.toFile(), "rw")) {
      f.seek(e.storedOffset() + 1000);
      f.write(0x42 ^ f.readByte());
    }
    Run v = cli("image", "verify", cci);
    assertEquals(ExitCodes.FAILED, v.code());
    assertTrue(
        v.err()
            .contains(
                cci
                    + ": chunk 17 (offset "
                    + 17 * 65536
                    + "): sha256 mismatch: want "
                    + e.sha256().hex()
                    + ", got "),
        v.err());
    Run x = cli("image", "extract", cci, "-o", dir.resolve("x.raw"));
    assertEquals(ExitCodes.FAILED, x.code());
    assertTrue(x.err().contains("chunk 17"), x.err());
    assertFalse(Files.exists(dir.resolve("x.raw")));
    assertFalse(Files.exists(dir.resolve("x.raw.partial")));
  }

  @Test
  void operatorErrorsNameTheProblemAndTheFix() throws IOException {
    Path raw = sample("TEXT", 300_000);
    Path cci = dir.resolve("e.cci");
    ok("image", "create", raw, "-o", cci);

    Run missing = cli("image", "create", dir.resolve("nope.raw"), "-o", dir.resolve("n.cci"));
    assertEquals(ExitCodes.ENVIRONMENT, missing.code());
    assertTrue(
        missing.err().contains("source " + dir.resolve("nope.raw") + " not found; check the path"),
        missing.err());

    Run exists = cli("image", "create", raw, "-o", cci);
    assertEquals(ExitCodes.ENVIRONMENT, exists.code());
    assertTrue(exists.err().contains("output " + cci + " exists; use --force"), exists.err());
    ok("image", "create", raw, "-o", cci, "--force", "--level", "1");

    Run dirSrc = cli("image", "create", dir, "-o", dir.resolve("d.cci"));
    assertEquals(ExitCodes.ENVIRONMENT, dirSrc.code());
    assertTrue(dirSrc.err().contains("is a directory"), dirSrc.err());

    Run outDir = cli("image", "create", raw, "-o", dir, "--force");
    assertEquals(ExitCodes.ENVIRONMENT, outDir.code());
    assertTrue(outDir.err().contains("output " + dir + " is a directory"), outDir.err());

    Run noDir = cli("image", "create", raw, "-o", dir.resolve("no/such/dir/x.cci"));
    assertEquals(ExitCodes.ENVIRONMENT, noDir.code());
    assertTrue(noDir.err().contains("does not exist; create it first"), noDir.err());

    Run notImage = cli("image", "info", raw);
    assertEquals(ExitCodes.ENVIRONMENT, notImage.code());
    assertTrue(
        notImage.err().contains(raw + ": not a clonecast image (bad magic)"), notImage.err());
    assertEquals(ExitCodes.ENVIRONMENT, cli("image", "verify", raw).code());
    assertEquals(
        ExitCodes.ENVIRONMENT, cli("image", "extract", raw, "-o", dir.resolve("r")).code());

    // An image whose creation was interrupted: manifest offset still 0.
    byte[] b = Files.readAllBytes(cci);
    Arrays.fill(
        b,
        ImageFileHeader.MANIFEST_FIELDS_OFFSET,
        ImageFileHeader.MANIFEST_FIELDS_OFFSET + 12,
        (byte) 0);
    Path partial = Files.write(dir.resolve("i.cci"), b);
    Run inc = cli("image", "verify", partial);
    assertEquals(ExitCodes.ENVIRONMENT, inc.code());
    assertTrue(
        inc.err().contains("image incomplete (no manifest; was its creation interrupted?)"),
        inc.err());

    Path out = Files.writeString(dir.resolve("taken.raw"), "keep me");
    Run taken = cli("image", "extract", cci, "-o", out);
    assertEquals(ExitCodes.ENVIRONMENT, taken.code());
    assertEquals("keep me", Files.readString(out));
    ok("image", "extract", cci, "-o", out, "--force");
    assertArrayEquals(Files.readAllBytes(raw), Files.readAllBytes(out));
  }

  @Test
  void usageErrors() throws IOException {
    Path raw = sample("TEXT", 10_000);
    assertEquals(
        ExitCodes.USAGE,
        cli("image", "create", raw, "-o", dir.resolve("a.cci"), "--chunk-size", "3K").code());
    assertEquals(
        ExitCodes.USAGE,
        cli("image", "create", raw, "-o", dir.resolve("a.cci"), "--chunk-size", "128M").code());
    assertEquals(
        ExitCodes.USAGE,
        cli("image", "create", raw, "-o", dir.resolve("a.cci"), "--chunk-size", "lots").code());
    Run level = cli("image", "create", raw, "-o", dir.resolve("a.cci"), "--level", "99");
    assertEquals(ExitCodes.USAGE, level.code());
    assertTrue(level.err().contains("--level 99 is not a zstd level"), level.err());
    assertEquals(ExitCodes.USAGE, cli("image", "verify", raw, "--threads", "0").code());
    assertEquals(ExitCodes.USAGE, cli("image", "create", raw).code());
    assertEquals(ExitCodes.USAGE, cli("image").code());
    assertFalse(Files.exists(dir.resolve("a.cci")));
  }

  @Test
  void fullDiskIsExplainedAndLeavesNothing() throws Exception {
    Path mnt = Files.createDirectory(dir.resolve("small"));
    Process mount =
        new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.toString())
            .redirectErrorStream(true)
            .start();
    mount.getInputStream().readAllBytes();
    assumeTrue(mount.waitFor() == 0, "cannot mount a tmpfs (needs root)");
    try {
      Path raw = sample("RANDOM", 3L << 20);
      Path out = mnt.resolve("big.cci");
      Run r = cli("image", "create", raw, "-o", out);
      assertEquals(ExitCodes.ENVIRONMENT, r.code());
      assertTrue(
          r.err()
              .contains(
                  "no space left on device writing "
                      + out
                      + "; free some space or write elsewhere"),
          r.err());
      try (var files = Files.list(mnt)) {
        assertEquals(0, files.count());
      }
      Path cci = dir.resolve("ok.cci");
      ok("image", "create", raw, "-o", cci);
      Run x = cli("image", "extract", cci, "-o", mnt.resolve("big.raw"));
      assertEquals(ExitCodes.ENVIRONMENT, x.code());
      assertTrue(x.err().contains("no space left on device"), x.err());
      try (var files = Files.list(mnt)) {
        assertEquals(0, files.count());
      }
    } finally {
      new ProcessBuilder("umount", mnt.toString()).start().waitFor();
    }
  }

  @Test
  void sizesAcceptSuffixes() {
    ByteSizeConverter c = new ByteSizeConverter();
    assertEquals(4096, c.convert("4096"));
    assertEquals(65536, c.convert("64K"));
    assertEquals(1 << 20, c.convert("1M"));
    assertEquals(1 << 20, c.convert("1mib"));
    assertEquals(1 << 30, c.convert("1G"));
    assertThrows(CommandLine.TypeConversionException.class, () -> c.convert("4G"));
    assertThrows(CommandLine.TypeConversionException.class, () -> c.convert("1.5M"));
    assertThrows(
        CommandLine.TypeConversionException.class, () -> c.convert("99999999999999999999"));
  }

  /**
   * An image that leaves free space out (made with an allocation map) shows its unused chunks and
   * used bytes, and verifies and extracts.
   */
  @Test
  void infoVerifyExtractOfAnImageWithUnusedChunks() throws IOException {
    SampleDisks.UsedDisk d = SampleDisks.withFreeSpace(dir.resolve("used.raw"), 3_000_000, 4);
    Path cci = dir.resolve("used.cci");
    Manifest m =
        ImageCreator.create(d.path(), cci, 65536, 3, 2, false, d.map(), ProgressListener.NONE);
    assertTrue(m.count(ChunkKind.UNUSED) > 0);
    Run info = ok("image", "info", cci);
    assertTrue(info.out().contains(" raw, " + m.count(ChunkKind.UNUSED) + " unused"), info.out());
    assertTrue(
        info.out().contains("used           ")
            && info.out().contains("(" + m.usedBytes() + " bytes)")
            && info.out().contains("(format version 3)"),
        info.out());
    Run json = ok("image", "info", "--json", cci);
    assertTrue(
        json.out()
            .contains(
                "\"unused\":"
                    + m.count(ChunkKind.UNUSED)
                    + "},\"usedBytes\":"
                    + m.usedBytes()
                    + ","),
        json.out());
    assertTrue(json.out().contains("\"formatVersion\":3,"), json.out());
    ok("image", "verify", cci);
    Path out = dir.resolve("used.out");
    ok("image", "extract", cci, "-o", out);
    assertArrayEquals(
        SampleDisks.logical(Files.readAllBytes(d.path()), d.map()), Files.readAllBytes(out));
  }
}

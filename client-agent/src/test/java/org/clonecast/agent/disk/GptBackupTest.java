package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.clonecast.protocol.disk.PartitionTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backup GPT moved to the end of a larger disk, compared byte for byte with what util-linux's
 * {@code sfdisk --relocate gpt-bak-std} makes of the same disk, and checked by GPT fdisk's {@code
 * sgdisk -v}; damaged tables give a clear error and change nothing.
 */
class GptBackupTest {
  private static final String TABLE =
      "label: gpt\nstart=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
          + "start=6144, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n";

  private static String run(String... cmd) throws IOException, InterruptedException {
    return DiskCommands.run(cmd);
  }

  /**
   * An 8 MiB golden disk partitioned by sfdisk, then grown to {@code mib} as a larger target disk
   * is.
   */
  private static Path grown(Path dir, String name, long mib)
      throws IOException, InterruptedException {
    Path d = dir.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "rw")) {
      f.setLength(8L << 20);
    }
    DiskCommands.sfdisk(d, TABLE);
    try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "rw")) {
      f.setLength(mib << 20);
    }
    return d;
  }

  private static byte[] head(Path d) throws IOException {
    byte[] b = new byte[34 * 512];
    try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "r")) {
      f.readFully(b);
    }
    return b;
  }

  @Test
  void sameBytesAsSfdiskRelocateAndSgdiskFindsNoProblem(@TempDir Path dir) throws Exception {
    Path ours = grown(dir, "ours.img", 24);
    Path theirs = Files.copy(ours, dir.resolve("theirs.img"));
    Optional<String> done = GptBackup.moveToEnd(ours);
    assertTrue(done.orElseThrow().contains("to the disk's last LBA 49151"), done.get());
    run(
        "sfdisk",
        "-q",
        "--no-reread",
        "--no-tell-kernel",
        "--relocate",
        "gpt-bak-std",
        theirs.toString());
    assertEquals(
        -1L,
        Files.mismatch(ours, theirs),
        "byte for byte what sfdisk --relocate gpt-bak-std writes");
    String verify = run("sgdisk", "-v", ours.toString());
    assertTrue(verify.contains("No problems found"), verify);
    assertEquals(Optional.empty(), GptBackup.moveToEnd(ours), "a second run has nothing to do");
  }

  @Test
  void theTableKeepsItsPartitionsAndTheDiskItsData(@TempDir Path dir) throws Exception {
    Path d = grown(dir, "d.img", 16);
    byte[] before = head(d);
    GptBackup.moveToEnd(d).orElseThrow();
    assertEquals(
        PartitionTable.parse(before).orElseThrow().partitions(),
        PartitionTable.parse(head(d)).orElseThrow().partitions());
    String dump = run("sfdisk", "--dump", d.toString());
    assertTrue(dump.contains("last-lba: 32734"), dump);
  }

  @Test
  void nothingToDoOnADiskOfTheImagesSizeOrWithoutGpt(@TempDir Path dir) throws Exception {
    Path d = grown(dir, "d.img", 8);
    assertEquals(Optional.empty(), GptBackup.moveToEnd(d));
    assertEquals(Optional.empty(), GptBackup.plan(new byte[34 * 512], 1L << 30));
    assertEquals(Optional.empty(), GptBackup.plan(new byte[100], 1L << 30));
  }

  @Test
  void aDiskTooSmallForThePartitionsIsRefusedNamingTheSizes(@TempDir Path dir) throws Exception {
    byte[] h = head(grown(dir, "d.img", 8));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> GptBackup.plan(h, 4L << 20));
    assertEquals(
        "the disk has 4194304 bytes, but partition 2 of the image ends at byte 7340032 and the backup GPT needs 16896 more:"
            + " the disk must have at least 7356928 bytes",
        e.getMessage());
  }

  /**
   * An 8 MiB image whose partitions end at 6 MiB, onto a 7 MiB disk: the backup moves in, and GPT
   * fdisk finds no problem.
   */
  @Test
  void aSmallerDiskThatHoldsThePartitionsGetsTheBackupAtItsEnd(@TempDir Path dir) throws Exception {
    Path d = dir.resolve("small.img");
    try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "rw")) {
      f.setLength(8L << 20);
    }
    DiskCommands.sfdisk(d, "label: gpt\nstart=2048, size=4096\nstart=6144, size=6144\n");
    try (RandomAccessFile f = new RandomAccessFile(d.toFile(), "rw")) {
      f.setLength(7L << 20); // the image written onto a smaller disk: its old backup is cut off
    }
    assertTrue(GptBackup.moveToEnd(d).orElseThrow().contains("to the disk's last LBA 14335"));
    String verify = run("sgdisk", "-v", d.toString());
    assertTrue(verify.contains("No problems found"), verify);
  }

  /**
   * With grow, the last partition ends at the new last usable LBA; both arrays and CRCs agree
   * (sgdisk -v).
   */
  @Test
  void growExtendsTheLastPartitionToTheNewEnd(@TempDir Path dir) throws Exception {
    Path d = grown(dir, "d.img", 24);
    String summary = GptBackup.moveToEnd(d, true).orElseThrow();
    assertTrue(summary.contains("partition 2 grown to end at LBA 49118"), summary);
    String verify = run("sgdisk", "-v", d.toString());
    assertTrue(verify.contains("No problems found"), verify);
    String dump = run("sfdisk", "--dump", d.toString());
    assertTrue(dump.contains("start=        6144, size=       42975"), dump);
    assertEquals(Optional.empty(), GptBackup.moveToEnd(d, true), "a second run has nothing to do");
  }

  @Test
  void aDamagedHeaderOrEntryArrayIsNamed(@TempDir Path dir) throws Exception {
    byte[] h = head(grown(dir, "d.img", 16));
    byte[] badHeader = h.clone();
    badHeader[512 + 40] ^= 1;
    assertEquals(
        "GPT primary header CRC does not match",
        assertThrows(IllegalArgumentException.class, () -> GptBackup.plan(badHeader, 16L << 20))
            .getMessage());
    byte[] badEntries = h.clone();
    badEntries[1024 + 130] ^= 1;
    assertEquals(
        "GPT entry array CRC does not match",
        assertThrows(IllegalArgumentException.class, () -> GptBackup.plan(badEntries, 16L << 20))
            .getMessage());
  }

  @Test
  void theBackupIsWrittenBeforeThePrimaryPointsToIt(@TempDir Path dir) throws Exception {
    List<GptBackup.Write> w =
        GptBackup.plan(head(grown(dir, "d.img", 16)), 16L << 20).orElseThrow().writes();
    assertEquals((32768L - 33) * 512, w.get(0).offset());
    assertEquals(512L, w.get(1).offset());
    assertArrayEquals(
        "EFI PART".getBytes(StandardCharsets.US_ASCII),
        Arrays.copyOfRange(w.get(0).bytes(), 32 * 512, 32 * 512 + 8));
  }

  @Property(tries = 300)
  void corruptedTablesGiveAnErrorOrNothingNeverACrash(
      @ForAll @IntRange(min = 0, max = 34 * 512 - 1) int at,
      @ForAll @IntRange(min = 1, max = 255) int flip,
      @ForAll @IntRange(min = 0, max = 34 * 512) int cut)
      throws Exception {
    byte[] h = Arrays.copyOf(golden(), cut);
    if (at < h.length) h[at] ^= (byte) flip;
    try {
      GptBackup.headBytes(h);
      GptBackup.plan(h, 16L << 20);
    } catch (IllegalArgumentException expected) {
      // a clear refusal is the right answer to a damaged table
    }
  }

  private static byte[] goldenHead;

  private static synchronized byte[] golden() throws Exception {
    if (goldenHead == null) {
      Path dir = Files.createTempDirectory("gpt-golden");
      try {
        goldenHead = head(grown(dir, "d.img", 8));
      } finally {
        Files.deleteIfExists(dir.resolve("d.img"));
        Files.delete(dir);
      }
    }
    return goldenHead;
  }
}

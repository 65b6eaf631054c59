package org.clonecast.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ESPs made by mkfs.vfat (dosfstools) and filled by mtools, as FAT12, FAT16 and FAT32. */
class FatLookupTest {
  private static void run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
  }

  private static FatLookup.Reader reader(byte[] fs) {
    return (offset, length) -> {
      if (offset < 0 || offset + length > fs.length)
        throw new IOException("read past the end at " + offset);
      return Arrays.copyOfRange(fs, (int) offset, (int) offset + length);
    };
  }

  private static byte[] esp(Path dir, int fat, int kib, boolean removable) throws Exception {
    Path img = dir.resolve("esp-" + fat + ".img");
    run("mkfs.vfat", "-C", "-F", Integer.toString(fat), img.toString(), Integer.toString(kib));
    Path loader = Files.writeString(dir.resolve("loader.efi"), "MZ a loader");
    run("mmd", "-i", img.toString(), "::/EFI", "::/EFI/debian");
    run("mcopy", "-i", img.toString(), loader.toString(), "::/EFI/debian/grubx64.efi");
    // Enough other entries that the directory spans clusters, with long names in between.
    for (int i = 0; i < 40; i++)
      run(
          "mcopy",
          "-i",
          img.toString(),
          loader.toString(),
          "::/EFI/debian/a-long-file-name-" + i + ".cfg");
    if (removable) {
      run("mmd", "-i", img.toString(), "::/EFI/BOOT");
      run("mcopy", "-i", img.toString(), loader.toString(), "::/EFI/BOOT/BOOTX64.EFI");
    }
    return Files.readAllBytes(img);
  }

  @ParameterizedTest
  @ValueSource(ints = {12, 16, 32})
  void findsTheRemovablePathLoaderAndDebiansOwn(int fat, @TempDir Path dir) throws Exception {
    byte[] fs = esp(dir, fat, fat == 32 ? 40 * 1024 : fat == 16 ? 16 * 1024 : 1024, true);
    assertTrue(FatLookup.exists(reader(fs), "/EFI/BOOT/BOOTX64.EFI"));
    assertTrue(
        FatLookup.exists(reader(fs), "\\EFI\\debian\\grubx64.efi"),
        "case does not matter, backslashes neither");
    assertFalse(FatLookup.exists(reader(fs), "/EFI/debian/shimx64.efi"));
    assertFalse(FatLookup.exists(reader(fs), "/EFI/BOOT"), "a directory is not a loader");
    assertFalse(FatLookup.exists(reader(fs), "/EFI/BOOT/BOOTX64.EFI/X"));
  }

  @ParameterizedTest
  @ValueSource(ints = {16, 32})
  void anEspWithoutTheRemovablePathIsSeen(int fat, @TempDir Path dir) throws Exception {
    byte[] fs = esp(dir, fat, fat == 32 ? 40 * 1024 : 16 * 1024, false);
    assertFalse(FatLookup.exists(reader(fs), "/EFI/BOOT/BOOTX64.EFI"));
    assertTrue(FatLookup.exists(reader(fs), "/EFI/debian/grubx64.efi"));
  }

  /**
   * A whole GPT disk: EspCheck finds the ESP in the table and the loader (or its absence) in it.
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void espCheckOnAWholeDisk(boolean removable, @TempDir Path dir) throws Exception {
    byte[] esp = esp(dir, 16, 16 * 1024, removable);
    Path disk = dir.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(64L << 20);
    }
    Process p =
        new ProcessBuilder("sfdisk", "-q", "--no-reread", "--no-tell-kernel", disk.toString())
            .redirectErrorStream(true)
            .start();
    p.getOutputStream()
        .write(
            ("label: gpt\nstart=2048, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
                    + "start=34816, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n")
                .getBytes());
    p.getOutputStream().close();
    p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.seek(2048L * 512);
      f.write(esp);
    }
    var problem = EspCheck.problem(disk);
    assertEquals(!removable, problem.isPresent(), problem.toString());
    problem.ifPresent(w -> assertTrue(w.contains("grub-install --removable"), w));
  }

  private static byte[] golden;

  @Property(tries = 300)
  void damagedFilesystemsGiveFalseOrAnIOExceptionNeverACrash(
      @ForAll @IntRange(min = 0, max = 65535) int at,
      @ForAll @IntRange(min = 1, max = 255) int flip)
      throws Exception {
    synchronized (FatLookupTest.class) {
      if (golden == null) {
        Path dir = Files.createTempDirectory("fat");
        golden = esp(dir, 12, 1024, true);
        try (var s = Files.list(dir)) {
          for (Path p : s.toList()) Files.delete(p);
        }
        Files.delete(dir);
      }
    }
    byte[] fs = golden.clone();
    fs[at % fs.length] ^= (byte) flip;
    try {
      FatLookup.exists(reader(fs), "/EFI/BOOT/BOOTX64.EFI");
    } catch (IOException expected) {
      // a damaged filesystem is named, not crashed on
    }
  }
}

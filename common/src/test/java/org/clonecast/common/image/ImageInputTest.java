package org.clonecast.common.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.clonecast.protocol.image.MalformedImageException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A damaged .cci is never taken for a raw disk; a raw disk is taken as one. */
class ImageInputTest {
  @TempDir Path dir;

  private Path image(String name) throws IOException {
    byte[] disk = new byte[256 * 1024];
    new Random(7).nextBytes(disk);
    Path raw = dir.resolve("disk.img");
    Files.write(raw, disk);
    Path cci = dir.resolve(name);
    ImageCreator.create(raw, cci, 65536, 3, 2, ProgressListener.NONE);
    return cci;
  }

  private static void damage(Path p, long offset, int xor) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ xor);
    }
  }

  @Test
  void anIntactImageIsAnImageAndARawDiskIsRaw() throws IOException {
    assertEquals(ImageInput.Kind.IMAGE, ImageInput.classify(image("a.cci"), false));
    assertEquals(ImageInput.Kind.RAW, ImageInput.classify(dir.resolve("disk.img"), false));
  }

  @Test
  void aDamagedFirstByteIsRefusedNamingTheDamage() throws IOException {
    Path cci = image("b.cci");
    damage(cci, 0, 0x01);
    MalformedImageException e =
        assertThrows(MalformedImageException.class, () -> ImageInput.classify(cci, false));
    assertTrue(e.getMessage().contains("1 damaged byte(s) (offset 0)"), e.getMessage());
    assertTrue(e.getMessage().contains("--raw"), e.getMessage());
    assertEquals(ImageInput.Kind.RAW, ImageInput.classify(cci, true), "--raw takes it as asked");
  }

  @Test
  void aWhollyOverwrittenMagicIsFoundByTheManifestItPointsAt() throws IOException {
    Path cci = image("c.bin"); // not named .cci: only the header fields give it away
    for (int i = 0; i < 8; i++) damage(cci, i, 0xFF);
    MalformedImageException e =
        assertThrows(MalformedImageException.class, () -> ImageInput.classify(cci, false));
    assertTrue(e.getMessage().contains("\"CCMF\" at offset"), e.getMessage());
  }

  @Test
  void aFileNamedCciWithoutTheMagicIsRefused() throws IOException {
    Path p = dir.resolve("zeros.CCI");
    Files.write(p, new byte[4096]);
    MalformedImageException e =
        assertThrows(MalformedImageException.class, () -> ImageInput.classify(p, false));
    assertTrue(e.getMessage().contains("named .cci"), e.getMessage());
  }

  @Test
  void shortAndEmptyFilesAreRawDisks() throws IOException {
    Path empty = dir.resolve("empty.img");
    Files.write(empty, new byte[0]);
    assertEquals(ImageInput.Kind.RAW, ImageInput.classify(empty, false));
    Path tiny = dir.resolve("tiny.img");
    Files.write(tiny, new byte[] {'C', 'L', 'O'});
    assertEquals(ImageInput.Kind.RAW, ImageInput.classify(tiny, false));
  }
}

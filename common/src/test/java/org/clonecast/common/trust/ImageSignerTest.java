package org.clonecast.common.trust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Random;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.ImageVerifier;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's key in its state directory, and .cci files signed in place. */
class ImageSignerTest {
  @TempDir Path dir;

  private Path image() throws Exception {
    byte[] d = new byte[3 * 65536 + 100];
    new Random(4).nextBytes(d);
    Path disk = dir.resolve("disk.img");
    Files.write(disk, d);
    Path cci = dir.resolve("disk.cci");
    ImageCreator.create(disk, cci, 65536, 3, 1, p -> {});
    return cci;
  }

  @Test
  void theKeyIsMadeOnceWithItsPrivateHalfOwnerOnly() throws Exception {
    ImageKey k = ImageKey.loadOrCreate(dir);
    assertEquals(
        "rw-------",
        PosixFilePermissions.toString(
            Files.getPosixFilePermissions(dir.resolve(ImageKey.PRIVATE_FILE))));
    assertEquals(
        k.fingerprint(),
        ImageKey.loadOrCreate(dir).fingerprint(),
        "the second start reads the same key");
    assertEquals(
        k.publicKey(),
        TrustedKey.read(dir.resolve(ImageKey.PUBLIC_FILE).toString()),
        "--trust FILE");
    assertEquals(k.publicKey(), TrustedKey.read(k.publicBase64()), "--trust BASE64");
    assertThrows(IOException.class, () -> TrustedKey.read("not-a-key"));
    // A public file of another pair: refused, not silently signing what nobody can check.
    Files.writeString(dir.resolve(ImageKey.PUBLIC_FILE), ImageKey.generate().publicBase64() + "\n");
    IOException e = assertThrows(IOException.class, () -> ImageKey.load(dir));
    assertTrue(e.getMessage().contains("not the public half"), e.getMessage());
  }

  @Test
  void aSignedImageReadsVerifiesAndChecksAgainstItsKeyOnly() throws Exception {
    Path cci = image();
    Manifest before;
    try (ImageReader r = ImageReader.open(cci)) {
      before = r.manifest();
      assertEquals(Optional.empty(), r.signature());
    }
    ImageKey key = ImageKey.generate();
    ManifestSignature s = ImageSigner.sign(cci, key);
    try (ImageReader r = ImageReader.open(cci)) {
      assertEquals(before, r.manifest(), "the manifest is unchanged");
      assertEquals(Optional.of(s), r.signature());
      assertEquals(
          Optional.empty(), ManifestSignature.check(r.manifest(), r.signature(), key.publicKey()));
      assertTrue(
          ManifestSignature.check(r.manifest(), r.signature(), ImageKey.generate().publicKey())
              .isPresent());
      ImageVerifier.verify(r, 1, done -> {});
    }
    // Key rotation: signed again with another key, the old one no longer verifies it.
    long size = Files.size(cci);
    ImageKey next = ImageKey.generate();
    ManifestSignature s2 = ImageSigner.sign(cci, next);
    assertNotEquals(s, s2);
    assertEquals(size, Files.size(cci), "the block is replaced, not appended");
    try (ImageReader r = ImageReader.open(cci)) {
      assertEquals(
          Optional.empty(), ManifestSignature.check(r.manifest(), r.signature(), next.publicKey()));
      assertTrue(ManifestSignature.check(r.manifest(), r.signature(), key.publicKey()).isPresent());
    }
  }
}

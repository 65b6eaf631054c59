package org.clonecast.common.trust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.image.Sha256;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an agent accepts: signed by a trusted key and unaltered, or nothing; and the keys through a
 * rotation.
 */
class ImageTrustTest {
  @TempDir Path dir;

  private static Manifest manifest(long seed) {
    return new Manifest(
        new UUID(seed, seed), 0, Manifest.DEFAULT_CHUNK_SIZE, List.of(), Sha256.of(new byte[32]));
  }

  private static ImageTrust trusting(ImageKey... keys) {
    return new ImageTrust.Keys(Arrays.stream(keys).map(ImageKey::publicKey).toList());
  }

  @Test
  void onlyAnUnalteredManifestSignedByATrustedKeyIsAccepted() {
    ImageKey real = ImageKey.generate();
    ImageKey rogue = ImageKey.generate();
    Manifest m = manifest(1);
    ImageTrust trust = trusting(real);
    assertEquals(Optional.empty(), trust.refusal(m, List.of(real.sign(m))), "good");
    assertTrue(
        trust.refusal(m, List.of()).orElseThrow().startsWith("the image is not signed"),
        "unsigned");
    String foreign = trust.refusal(m, List.of(rogue.sign(m))).orElseThrow();
    assertTrue(
        foreign.startsWith("signed by an unknown key " + rogue.fingerprint())
            && foreign.contains("trusted: " + real.fingerprint()),
        foreign);
    // The manifest altered after signing (another image under the real signature): a bad signature.
    String tampered = trust.refusal(manifest(2), List.of(real.sign(m))).orElseThrow();
    assertTrue(
        tampered.startsWith("bad signature by the trusted key " + real.fingerprint()), tampered);
    // The rogue's signature claiming the real key's id: bad, not unknown.
    ManifestSignature claimed =
        new ManifestSignature(real.sign(m).keyId(), rogue.sign(m).signature());
    assertTrue(trust.refusal(m, List.of(claimed)).orElseThrow().startsWith("bad signature"));
    // One good signature among others is enough, in any order.
    assertEquals(Optional.empty(), trust.refusal(m, List.of(rogue.sign(m), claimed, real.sign(m))));
    assertEquals(
        Optional.empty(),
        new ImageTrust.InsecureUnsigned().refusal(m, List.of()),
        "--insecure-unsigned takes anything");
  }

  @Test
  void aRotationKeepsEveryNodeWorkingThroughTheOverlapAndForgettingEndsIt() throws Exception {
    ImageKey old = ImageKey.loadOrCreate(dir);
    KeyRing ring = new KeyRing(dir);
    Manifest m = manifest(3);
    Optional<ManifestSignature> stored = Optional.of(old.sign(m));
    assertEquals(
        List.of(stored.get()),
        ring.signatures(m, stored),
        "before a rotation: the stored signature alone");

    ImageKey next = ImageKey.rotate(dir);
    assertEquals(
        next.fingerprint(),
        ring.current().fingerprint(),
        "a running daemon's ring sees the rotation");
    assertEquals(old.fingerprint(), ring.previous().orElseThrow().fingerprint());
    List<ManifestSignature> sigs = ring.signatures(m, stored);
    assertEquals(
        2, sigs.size(), "the overlap: by the new key, and by the old one for nodes booted before");
    assertEquals(
        Optional.empty(), trusting(old).refusal(m, sigs), "a node booted before the rotation");
    assertEquals(Optional.empty(), trusting(next).refusal(m, sigs), "a node booted after");
    // The netboot environment's file trusts both, and reads back as both.
    ImageTrust.Keys file =
        new ImageTrust.Keys(ImageTrust.parseFile(ImageKey.trustedKeysFile(dir), "trusted-keys"));
    assertEquals(List.of(next.publicKey(), old.publicKey()), file.keys());

    assertTrue(ImageKey.forgetPrevious(dir));
    assertEquals(Optional.empty(), ring.previous());
    List<ManifestSignature> after = ring.signatures(m, Optional.of(next.sign(m)));
    assertEquals(1, after.size());
    assertTrue(
        trusting(old)
            .refusal(m, after)
            .orElseThrow()
            .startsWith("signed by an unknown key " + next.fingerprint()),
        "the forgotten key's nodes refuse once it is gone");
    assertEquals(1, ImageTrust.parseFile(ImageKey.trustedKeysFile(dir), "trusted-keys").size());
  }

  @Test
  void trustSourcesAreFilesOfKeysOrInlineKeysAndAnythingElseIsNamed() throws Exception {
    ImageKey a = ImageKey.generate();
    ImageKey b = ImageKey.generate();
    Path file = dir.resolve("keys");
    Files.writeString(
        file, "# two keys\n\n" + a.publicBase64() + "  # current\n" + b.publicBase64() + "\n");
    assertEquals(
        List.of(a.publicKey(), b.publicKey()), ImageTrust.read(List.of(file.toString())).keys());
    assertEquals(
        List.of(a.publicKey(), b.publicKey(), a.publicKey()),
        ImageTrust.read(List.of(file.toString(), a.publicBase64())).keys());
    Files.writeString(file, a.publicBase64() + "\nnot a key\n");
    IOException e =
        assertThrows(IOException.class, () -> ImageTrust.read(List.of(file.toString())));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    Files.writeString(file, "# nothing\n");
    assertTrue(
        assertThrows(IOException.class, () -> ImageTrust.read(List.of(file.toString())))
            .getMessage()
            .contains("holds no key"));
    assertThrows(IllegalArgumentException.class, () -> new ImageTrust.Keys(List.of()));
    // A private key file is no public key.
    ImageKey.write(dir, a);
    assertThrows(
        IOException.class,
        () -> ImageTrust.read(List.of(dir.resolve(ImageKey.PRIVATE_FILE).toString())));
    assertEquals(
        a.fingerprint(),
        ImageKey.loadFrom(dir.resolve(ImageKey.PRIVATE_FILE)).fingerprint(),
        "--sign-key FILE");
    assertEquals(a.fingerprint(), ImageKey.loadFrom(dir).fingerprint(), "--sign-key DIR");
  }

  @Property(tries = 500)
  void aHostileKeysFileIsRefusedWithAnIoExceptionOnly(@ForAll String text) {
    try {
      ImageTrust.parseFile(text, "keys");
    } catch (IOException expected) {
      // the one way a keys file is refused
    }
  }
}

package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.Arrays;
import java.util.Optional;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** Ed25519 signature blocks after a manifest: sign, verify, and every way one can be wrong. */
class ManifestSignatureTest {
  private static KeyPair key() throws Exception {
    return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
  }

  @Test
  void aSignedManifestVerifiesAndRoundTripsAfterItsCrc() throws Exception {
    KeyPair k = key();
    Manifest m = ManifestTest.sample(7, 5, 100);
    ManifestSignature s = ManifestSignature.sign(m, k.getPrivate(), k.getPublic());
    byte[] bytes = ManifestSignature.encodeSigned(m, Optional.of(s));
    ByteBuf in = Unpooled.wrappedBuffer(bytes);
    Manifest back = Manifest.decode(in);
    assertEquals(m, back, "a reader that stops at the CRC reads the same manifest");
    Optional<ManifestSignature> sig = ManifestSignature.decode(in);
    assertEquals(Optional.of(s), sig);
    assertEquals(0, in.readableBytes());
    assertEquals(Optional.empty(), ManifestSignature.check(back, sig, k.getPublic()));
  }

  @Test
  void unsignedForgedOrForeignManifestsAreRefusedNamingWhy() throws Exception {
    KeyPair trusted = key();
    KeyPair other = key();
    Manifest m = ManifestTest.sample(8, 3, 0);
    assertTrue(
        ManifestSignature.check(m, Optional.empty(), trusted.getPublic())
            .orElseThrow()
            .contains("not signed"));
    ManifestSignature foreign = ManifestSignature.sign(m, other.getPrivate(), other.getPublic());
    assertTrue(
        foreign.problem(m, trusted.getPublic()).orElseThrow().contains("not the trusted key"));
    // Another manifest under the trusted key's signature of the first: an altered manifest.
    ManifestSignature good = ManifestSignature.sign(m, trusted.getPrivate(), trusted.getPublic());
    Manifest altered = ManifestTest.sample(9, 3, 0);
    assertTrue(good.problem(altered, trusted.getPublic()).orElseThrow().contains("does not match"));
    // The other key's signature claiming the trusted key's id: forged.
    ManifestSignature forged =
        new ManifestSignature(
            ManifestSignature.keyId(trusted.getPublic()),
            ManifestSignature.sign(m, other.getPrivate(), other.getPublic()).signature());
    assertTrue(forged.problem(m, trusted.getPublic()).orElseThrow().contains("does not match"));
    // Every single-bit flip of the signature fails.
    byte[] sig = good.signature();
    for (int bit = 0; bit < sig.length * 8; bit += 7) {
      byte[] flipped = sig.clone();
      flipped[bit / 8] ^= (byte) (1 << (bit % 8));
      assertTrue(
          new ManifestSignature(good.keyId(), flipped).problem(m, trusted.getPublic()).isPresent(),
          "bit " + bit);
    }
  }

  @Test
  void aDamagedBlockIsMalformedAndNoBlockIsUnsigned() throws Exception {
    KeyPair k = key();
    ByteBuf b = Unpooled.buffer();
    ManifestSignature.sign(ManifestTest.sample(1, 1, 0), k.getPrivate(), k.getPublic()).encode(b);
    byte[] block = new byte[b.readableBytes()];
    b.readBytes(block);
    for (int cut = 4; cut < block.length; cut++) {
      byte[] part = Arrays.copyOf(block, cut);
      assertThrows(
          MalformedImageException.class,
          () -> ManifestSignature.decode(Unpooled.wrappedBuffer(part)),
          "cut at " + cut);
    }
    for (int at : new int[] {5, 7, 40, 41}) {
      byte[] bad = block.clone();
      bad[at] ^= 0x11;
      assertThrows(
          MalformedImageException.class,
          () -> ManifestSignature.decode(Unpooled.wrappedBuffer(bad)),
          "byte " + at);
    }
    assertEquals(
        Optional.empty(),
        ManifestSignature.decode(Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, 5})));
    assertEquals(Optional.empty(), ManifestSignature.decode(Unpooled.EMPTY_BUFFER));
  }

  /**
   * Hostile bytes where a block may start (with its magic, so the decoder reads on): only
   * MalformedImageException.
   */
  @Property(tries = 3000)
  void hostileBlocksDecodeOrAreMalformed(
      @ForAll @Size(max = 200) byte[] tail, @ForAll boolean withMagic) {
    ByteBuf b = Unpooled.buffer();
    if (withMagic) b.writeInt(ManifestSignature.MAGIC);
    b.writeBytes(tail);
    try {
      Optional<ManifestSignature> s = ManifestSignature.decode(b);
      if (s.isPresent())
        assertEquals(ManifestSignature.LENGTH, b.readerIndex(), "a block decodes whole");
    } catch (MalformedImageException expected) {
      // the only exception the decoder may throw
    }
  }
}

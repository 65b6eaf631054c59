package org.clonecast.protocol.image;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The signature block that may follow an encoded manifest's CRC ({@code docs/image-format.md},
 * "Signature block"): an Ed25519 signature (RFC 8032) by the daemon's key over the manifest's
 * encoded bytes, magic through CRC. Readers that predate it stop at the CRC and never see it.
 *
 * <pre>
 * magic "CCSG" (4) | version 1 (2) | algorithm 1 = Ed25519 (2) | key id: SHA-256 of the public key's
 * X.509 encoding (32) | signature length 64 (2) | signature (64)
 * </pre>
 *
 * <p>Immutable and thread-safe. {@link #decode} throws only {@link MalformedImageException}.
 *
 * @param keyId SHA-256 of the signing public key's X.509 (SubjectPublicKeyInfo) encoding
 * @param signature the Ed25519 signature, 64 bytes
 */
public record ManifestSignature(byte[] keyId, byte[] signature) {
  /** "CCSG": the first four bytes of a signature block. */
  public static final int MAGIC = 0x43435347;

  public static final int VERSION = 1;

  /** Algorithm code of Ed25519. */
  public static final int ED25519 = 1;

  public static final int KEY_ID_LENGTH = 32;
  public static final int SIGNATURE_LENGTH = 64;

  /** Encoded length of a block. */
  public static final int LENGTH = 4 + 2 + 2 + KEY_ID_LENGTH + 2 + SIGNATURE_LENGTH;

  public ManifestSignature {
    keyId = keyId.clone();
    signature = signature.clone();
    if (keyId.length != KEY_ID_LENGTH || signature.length != SIGNATURE_LENGTH) {
      throw new IllegalArgumentException(
          "key id " + keyId.length + " bytes, signature " + signature.length + "; want 32 and 64");
    }
  }

  @Override
  public byte[] keyId() {
    return keyId.clone();
  }

  @Override
  public byte[] signature() {
    return signature.clone();
  }

  /** The key id as hex, as {@code clonecast key show} prints it. */
  public String keyIdHex() {
    return HexFormat.of().formatHex(keyId);
  }

  /** SHA-256 of {@code key}'s X.509 encoding: what identifies a signing key. */
  public static byte[] keyId(PublicKey key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  /** Signs {@code manifest}'s encoding with {@code key}, whose public half is {@code pub}. */
  public static ManifestSignature sign(Manifest manifest, PrivateKey key, PublicKey pub) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(key);
      s.update(encoded(manifest));
      return new ManifestSignature(keyId(pub), s.sign());
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "cannot sign with a " + key.getAlgorithm() + " key: " + e.getMessage(), e);
    }
  }

  /**
   * Checks this signature of {@code manifest} against {@code trusted}.
   *
   * @return empty when it verifies, else why not ("signed by key 3f2a..., not the trusted key
   *     9c01...")
   */
  public Optional<String> problem(Manifest manifest, PublicKey trusted) {
    byte[] want = keyId(trusted);
    if (!MessageDigest.isEqual(want, keyId)) {
      return Optional.of(
          "signed by key "
              + keyIdHex().substring(0, 16)
              + "..., not the trusted key "
              + HexFormat.of().formatHex(want).substring(0, 16)
              + "...");
    }
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initVerify(trusted);
      s.update(encoded(manifest));
      return s.verify(signature)
          ? Optional.empty()
          : Optional.of("the signature does not match the manifest (altered or forged)");
    } catch (GeneralSecurityException e) {
      return Optional.of("the signature cannot be checked: " + e.getMessage());
    }
  }

  /**
   * Whether {@code manifest} is signed by {@code trusted}: empty when so, else why not (also when
   * unsigned).
   */
  public static Optional<String> check(
      Manifest manifest, Optional<ManifestSignature> signature, PublicKey trusted) {
    return signature
        .map(s -> s.problem(manifest, trusted))
        .orElse(Optional.of("the manifest is not signed"));
  }

  /** Appends the block. */
  public void encode(ByteBuf out) {
    out.writeInt(MAGIC); // magic "CCSG"
    out.writeShort(VERSION); // version
    out.writeShort(ED25519); // algorithm
    out.writeBytes(keyId); // key id
    out.writeShort(SIGNATURE_LENGTH); // signature length
    out.writeBytes(signature); // signature
  }

  /**
   * Reads the block at the reader index, if one starts there: nothing readable, or bytes without
   * the magic, is "unsigned" (a manifest of a build before signatures); a block that starts but is
   * wrong is malformed.
   */
  public static Optional<ManifestSignature> decode(ByteBuf in) {
    if (in.readableBytes() < 4 || in.getInt(in.readerIndex()) != MAGIC) {
      return Optional.empty();
    }
    if (in.readableBytes() < LENGTH) {
      throw new MalformedImageException(
          "signature block truncated: " + in.readableBytes() + " bytes, want " + LENGTH);
    }
    in.skipBytes(4);
    int version = in.readUnsignedShort();
    int algorithm = in.readUnsignedShort();
    if (version != VERSION || algorithm != ED25519) {
      throw new MalformedImageException(
          "signature block version "
              + version
              + " algorithm "
              + algorithm
              + " unsupported (this build reads version 1, Ed25519)");
    }
    byte[] id = new byte[KEY_ID_LENGTH];
    in.readBytes(id);
    int length = in.readUnsignedShort();
    if (length != SIGNATURE_LENGTH) {
      throw new MalformedImageException(
          "signature block: signature length " + length + ", Ed25519 has 64");
    }
    byte[] sig = new byte[SIGNATURE_LENGTH];
    in.readBytes(sig);
    return Optional.of(new ManifestSignature(id, sig));
  }

  /**
   * {@code manifest} encoded, followed by its signature block when {@code signature} is present.
   */
  public static byte[] encodeSigned(Manifest manifest, Optional<ManifestSignature> signature) {
    ByteBuf b = Unpooled.buffer();
    try {
      manifest.encode(b);
      signature.ifPresent(s -> s.encode(b));
      byte[] out = new byte[b.readableBytes()];
      b.readBytes(out);
      return out;
    } finally {
      b.release();
    }
  }

  private static byte[] encoded(Manifest manifest) {
    return encodeSigned(manifest, Optional.empty());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ManifestSignature s
        && Arrays.equals(keyId, s.keyId)
        && Arrays.equals(signature, s.signature);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(keyId) + Arrays.hashCode(signature);
  }

  @Override
  public String toString() {
    return "ManifestSignature[key " + keyIdHex().substring(0, 16) + "...]";
  }
}

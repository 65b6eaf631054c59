package org.clonecast.common.trust;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/** Reads the public key an agent trusts: {@code --trust KEY} as a file or inline base64. Pure. */
public final class TrustedKey {
  private TrustedKey() {}

  /**
   * @param fileOrBase64 a path to an {@code image-key.pub}, or its one base64 line
   * @throws IOException naming what it is not
   */
  public static PublicKey read(String fileOrBase64) throws IOException {
    Path p = Path.of(fileOrBase64);
    String text =
        Files.isRegularFile(p)
            ? Files.readString(p, StandardCharsets.US_ASCII).trim()
            : fileOrBase64.trim();
    try {
      return parse(text);
    } catch (IllegalArgumentException e) {
      throw new IOException(
          "--trust "
              + fileOrBase64
              + ": neither a readable key file nor a base64 Ed25519 public key ("
              + e.getMessage()
              + "); give the daemon's image-key.pub ('clonecast key show')",
          e);
    }
  }

  /** One base64 line of an X.509-encoded Ed25519 public key. */
  public static PublicKey parse(String base64) {
    try {
      byte[] der = Base64.getDecoder().decode(base64);
      PublicKey k = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
      return k;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not an Ed25519 public key: " + e.getMessage(), e);
    }
  }
}

package org.clonecast.agent.disk;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;

/**
 * A fresh Ed25519 SSH host key, made with the JDK (no ssh-keygen in the netboot environment) and
 * written in OpenSSH's own formats: the private key as an unencrypted {@code openssh-key-v1}
 * (PROTOCOL.key in OpenSSH's sources), the public key as one {@code ssh-ed25519 BASE64 comment}
 * line (RFC 8709 §4 for the key blob). Immutable.
 */
public final class SshHostKey {
  private static final String TYPE = "ssh-ed25519";
  private final byte[] publicKey;
  private final byte[] seed;
  private final String comment;

  private SshHostKey(byte[] publicKey, byte[] seed, String comment) {
    this.publicKey = publicKey;
    this.seed = seed;
    this.comment = comment;
  }

  /** A new key pair from the JDK's Ed25519 generator. */
  public static SshHostKey generate(String comment) {
    try {
      KeyPair kp = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      byte[] x509 =
          kp.getPublic().getEncoded(); // SubjectPublicKeyInfo: the raw key is its last 32 bytes
      byte[] pkcs8 =
          kp.getPrivate().getEncoded(); // PKCS#8 with an OCTET STRING seed: its last 32 bytes
      return new SshHostKey(
          Arrays.copyOfRange(x509, x509.length - 32, x509.length),
          Arrays.copyOfRange(pkcs8, pkcs8.length - 32, pkcs8.length),
          comment);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JRE cannot make Ed25519 keys: " + e.getMessage(), e);
    }
  }

  /** The public key line, as in ssh_host_ed25519_key.pub and known_hosts. */
  public String publicLine() {
    return TYPE
        + " "
        + Base64.getEncoder().encodeToString(publicBlob())
        + (comment.isEmpty() ? "" : " " + comment);
  }

  private byte[] publicBlob() {
    Buf b = new Buf();
    b.string(TYPE);
    b.string(publicKey);
    return b.bytes();
  }

  /** The private key file's text ({@code -----BEGIN OPENSSH PRIVATE KEY-----}). */
  public String privateFile() {
    Buf inner = new Buf();
    int check = new SecureRandom().nextInt();
    inner.u32(check);
    inner.u32(check);
    inner.string(TYPE);
    inner.string(publicKey);
    byte[] secret =
        new byte[64]; // seed followed by the public key, as OpenSSH stores Ed25519 secrets
    System.arraycopy(seed, 0, secret, 0, 32);
    System.arraycopy(publicKey, 0, secret, 32, 32);
    inner.string(secret);
    inner.string(comment);
    for (int pad = 1; inner.size() % 8 != 0; pad++) inner.u8(pad);

    Buf outer = new Buf();
    outer.raw("openssh-key-v1\0".getBytes(StandardCharsets.US_ASCII));
    outer.string("none"); // cipher
    outer.string("none"); // kdf
    outer.string(""); // kdf options
    outer.u32(1); // number of keys
    outer.string(publicBlob());
    outer.string(inner.bytes());
    String b64 = Base64.getEncoder().encodeToString(outer.bytes());
    StringBuilder sb = new StringBuilder("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for (int i = 0; i < b64.length(); i += 70)
      sb.append(b64, i, Math.min(b64.length(), i + 70)).append('\n');
    return sb.append("-----END OPENSSH PRIVATE KEY-----\n").toString();
  }

  /** SSH wire encoding (RFC 4251 §5): big-endian uint32 and length-prefixed strings. */
  private static final class Buf {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final DataOutputStream out = new DataOutputStream(bytes);

    void u8(int v) {
      bytes.write(v);
    }

    void u32(int v) {
      try {
        out.writeInt(v);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    void raw(byte[] b) {
      bytes.writeBytes(b);
    }

    void string(byte[] b) {
      u32(b.length);
      raw(b);
    }

    void string(String s) {
      string(s.getBytes(StandardCharsets.UTF_8));
    }

    int size() {
      return bytes.size();
    }

    byte[] bytes() {
      return bytes.toByteArray();
    }
  }
}

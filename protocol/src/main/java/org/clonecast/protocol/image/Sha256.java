package org.clonecast.protocol.image;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A SHA-256 digest (FIPS 180-4): 32 bytes, compared by value.
 *
 * <p>Immutable and thread-safe: the bytes are copied in and out.
 */
public final class Sha256 {
  /** Length of a digest in bytes. */
  public static final int LENGTH = 32;

  private static final HexFormat HEX = HexFormat.of();

  private final byte[] bytes;

  private Sha256(byte[] bytes) {
    this.bytes = bytes;
  }

  /** A digest from its 32 bytes (copied). */
  public static Sha256 of(byte[] bytes) {
    if (bytes.length != LENGTH) {
      throw new IllegalArgumentException("sha256 is " + LENGTH + " bytes, got " + bytes.length);
    }
    return new Sha256(bytes.clone());
  }

  /** A digest from 64 hex digits. */
  public static Sha256 ofHex(String hex) {
    if (hex.length() != 2 * LENGTH) {
      throw new IllegalArgumentException(
          "sha256 is " + 2 * LENGTH + " hex digits, got " + hex.length());
    }
    return new Sha256(HEX.parseHex(hex));
  }

  /** Reads 32 bytes at the reader index. */
  public static Sha256 decode(ByteBuf in) {
    if (in.readableBytes() < LENGTH) {
      throw new MalformedImageException(
          "sha256: need " + LENGTH + " bytes, " + in.readableBytes() + " remain");
    }
    byte[] b = new byte[LENGTH];
    in.readBytes(b);
    return new Sha256(b);
  }

  /** Appends the 32 bytes. */
  public void encode(ByteBuf out) {
    out.writeBytes(bytes);
  }

  /** The digest of the remaining bytes of {@code data}; its position is not changed. */
  public static Sha256 digest(ByteBuffer data) {
    MessageDigest md = newDigest();
    md.update(data.duplicate());
    return new Sha256(md.digest());
  }

  /** The digest of {@code len} bytes of {@code data} from {@code off}. */
  public static Sha256 digest(byte[] data, int off, int len) {
    MessageDigest md = newDigest();
    md.update(data, off, len);
    return new Sha256(md.digest());
  }

  /** The digest a {@link MessageDigest} has accumulated; the digest is reset. */
  public static Sha256 finish(MessageDigest md) {
    return of(md.digest());
  }

  /** A fresh SHA-256 {@link MessageDigest} (every JDK has one). */
  public static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JDK has no SHA-256", e);
    }
  }

  /** A copy of the 32 bytes. */
  public byte[] bytes() {
    return bytes.clone();
  }

  /** 64 lowercase hex digits, as sha256sum prints them. */
  public String hex() {
    return HEX.formatHex(bytes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Sha256 other && Arrays.equals(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return hex();
  }
}

package org.clonecast.protocol.wire;

import io.netty.buffer.ByteBuf;

/**
 * An IEEE 802 MAC-48 address (6 bytes), e.g. a DHCP {@code chaddr} or a boot-policy key. Stored as
 * the 48-bit big-endian value, so equality and hashing are by value and no array is shared. {@link
 * #toString()} is the lower-case colon form {@code "aa:bb:cc:dd:ee:ff"}.
 *
 * <p>Immutable; thread-safe.
 *
 * @param bits the address as an unsigned 48-bit number, first octet in bits 47–40
 */
public record MacAddress(long bits) implements Comparable<MacAddress> {
  /** Octets in a MAC-48 address. */
  public static final int LENGTH = 6;

  private static final long MASK = (1L << 48) - 1;

  /** Validates that {@code bits} fits in 48 bits. */
  public MacAddress {
    if ((bits & ~MASK) != 0) {
      throw new IllegalArgumentException(
          "MAC address 0x" + Long.toHexString(bits) + " wider than 48 bits");
    }
  }

  /**
   * @param octets exactly 6 bytes, first octet first
   * @throws IllegalArgumentException if not 6 bytes long
   */
  public static MacAddress of(byte[] octets) {
    if (octets.length != LENGTH) {
      throw new IllegalArgumentException(
          "MAC address length " + octets.length + ", want " + LENGTH);
    }
    long v = 0;
    for (byte b : octets) {
      v = (v << 8) | (b & 0xFF);
    }
    return new MacAddress(v);
  }

  /**
   * Parses six two-digit hex octets separated by {@code ':'} or {@code '-'} (one separator
   * throughout), case-insensitive: {@code "52:54:00:12:34:56"}, {@code "52-54-00-12-34-56"}.
   *
   * @throws IllegalArgumentException naming the offending text
   */
  public static MacAddress parse(String text) {
    if (text.length() != 17) {
      throw new IllegalArgumentException(
          "MAC address \"" + text + "\": want 6 hex octets like aa:bb:cc:dd:ee:ff");
    }
    char sep = text.charAt(2);
    if (sep != ':' && sep != '-') {
      throw new IllegalArgumentException(
          "MAC address \"" + text + "\": separator must be ':' or '-'");
    }
    long v = 0;
    for (int i = 0; i < LENGTH; i++) {
      int p = i * 3;
      if (i > 0 && text.charAt(p - 1) != sep) {
        throw new IllegalArgumentException(
            "MAC address \"" + text + "\": mixed or missing separator at " + (p - 1));
      }
      int hi = Character.digit(text.charAt(p), 16);
      int lo = Character.digit(text.charAt(p + 1), 16);
      if (hi < 0 || lo < 0) {
        throw new IllegalArgumentException(
            "MAC address \"" + text + "\": octet " + i + " is not hex");
      }
      v = (v << 8) | (hi << 4) | lo;
    }
    return new MacAddress(v);
  }

  /**
   * Reads 6 bytes at the reader index.
   *
   * @throws MalformedPacketException if fewer than 6 bytes are readable
   */
  public static MacAddress decode(ByteBuf in) {
    ByteBufs.requireReadable(in, LENGTH, "MAC address");
    return new MacAddress(((long) in.readUnsignedShort() << 32) | in.readUnsignedInt());
  }

  /** Appends the 6 octets. */
  public void encode(ByteBuf out) {
    out.writeShort((int) (bits >>> 32)); // octets 0-1
    out.writeInt((int) bits); // octets 2-5
  }

  /**
   * @return a new 6-byte array, first octet first
   */
  public byte[] toBytes() {
    byte[] b = new byte[LENGTH];
    for (int i = 0; i < LENGTH; i++) {
      b[i] = (byte) (bits >>> (40 - 8 * i));
    }
    return b;
  }

  /**
   * @return whether the I/G bit (least significant bit of the first octet) marks a group address
   */
  public boolean isMulticast() {
    return (bits & (1L << 40)) != 0;
  }

  /**
   * @return the lower-case colon form, e.g. {@code "52:54:00:12:34:56"}
   */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(17);
    for (int i = 0; i < LENGTH; i++) {
      if (i > 0) {
        sb.append(':');
      }
      int octet = (int) (bits >>> (40 - 8 * i)) & 0xFF;
      sb.append(Character.forDigit(octet >>> 4, 16)).append(Character.forDigit(octet & 0xF, 16));
    }
    return sb.toString();
  }

  @Override
  public int compareTo(MacAddress other) {
    return Long.compare(bits, other.bits);
  }
}

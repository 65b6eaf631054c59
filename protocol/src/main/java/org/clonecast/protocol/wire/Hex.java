package org.clonecast.protocol.wire;

import java.util.HexFormat;

/**
 * Hex helpers for {@code byte[]}: lower-case dumps for logs and golden files, and a parser that
 * tolerates white space (golden files wrap long packets).
 *
 * <p>Stateless; thread-safe.
 */
public final class Hex {
  private static final HexFormat HEX = HexFormat.of();

  private Hex() {}

  /**
   * @return {@code bytes} as lower-case hex without separators, e.g. {@code "0500000a"}
   */
  public static String toHex(byte[] bytes) {
    return HEX.formatHex(bytes);
  }

  /**
   * @return {@code bytes[off..off+len)} as lower-case hex without separators
   */
  public static String toHex(byte[] bytes, int off, int len) {
    return HEX.formatHex(bytes, off, off + len);
  }

  /**
   * Parses hex digits, ignoring any white space between them.
   *
   * @throws IllegalArgumentException on a non-hex character or an odd number of digits
   */
  public static byte[] fromHex(CharSequence hex) {
    StringBuilder digits = new StringBuilder(hex.length());
    for (int i = 0; i < hex.length(); i++) {
      char c = hex.charAt(i);
      if (!Character.isWhitespace(c)) {
        digits.append(c);
      }
    }
    if (digits.length() % 2 != 0) {
      throw new IllegalArgumentException(
          "hex string has " + digits.length() + " digits, want an even number");
    }
    return HEX.parseHex(digits);
  }
}

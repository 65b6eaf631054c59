package org.clonecast.protocol.tftp;

import java.util.Locale;
import org.clonecast.protocol.wire.MalformedPacketException;

/** Transfer mode of a request (RFC 1350 §5), matched case-insensitively. Immutable. */
public enum TftpMode {
  /** Lines end in CR LF, CR is sent as CR NUL. */
  NETASCII("netascii"),
  /** Raw 8-bit bytes. */
  OCTET("octet"),
  /** Obsolete; RFC 1350 allows it only for WRQ. */
  MAIL("mail");

  private final String wireName;

  TftpMode(String wireName) {
    this.wireName = wireName;
  }

  /**
   * @return the name sent on the wire (lower case)
   */
  public String wireName() {
    return wireName;
  }

  /**
   * @throws MalformedPacketException {@code "mode binary unknown; want netascii, octet or mail"}
   */
  public static TftpMode parse(String s) {
    for (TftpMode m : values()) {
      if (m.wireName.equals(s.toLowerCase(Locale.ROOT))) {
        return m;
      }
    }
    throw new MalformedPacketException("mode " + s + " unknown; want netascii, octet or mail");
  }
}

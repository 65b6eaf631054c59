package org.clonecast.protocol.tftp;

import java.util.Objects;

/**
 * One RFC 2347 option: a name (case-insensitive, kept as sent) and its value. Immutable.
 *
 * @param name the option name, not empty, no NUL
 * @param value the value as text, no NUL (may be empty)
 */
public record TftpOption(String name, String value) {
  /** Validates the fields. */
  public TftpOption {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(value, "value");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("option name empty");
    }
    TftpStrings.requireNoNul(name, "option name");
    TftpStrings.requireNoNul(value, "option " + name + " value");
  }

  /**
   * @return whether this option is called {@code other}, ignoring case (RFC 2347)
   */
  public boolean is(String other) {
    return name.equalsIgnoreCase(other);
  }
}

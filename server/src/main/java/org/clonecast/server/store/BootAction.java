package org.clonecast.server.store;

import java.util.Locale;

/** What a node's next PXE boot does. */
public enum BootAction {
  /** Boot clonecast's netboot environment and re-image the disk. Destructive. */
  REIMAGE,
  /** Boot the local disk (the safe default for every node nobody marked). */
  LOCAL;

  /** Lower-case name as stored, shown and accepted on the command line. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * @throws IllegalArgumentException naming the accepted values
   */
  public static BootAction parse(String text) {
    for (BootAction a : values()) {
      if (a.id().equals(text.trim().toLowerCase(Locale.ROOT))) {
        return a;
      }
    }
    throw new IllegalArgumentException("unknown boot action '" + text + "'; use reimage or local");
  }
}

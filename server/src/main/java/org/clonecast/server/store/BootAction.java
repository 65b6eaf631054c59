package org.clonecast.server.store;

import java.util.Locale;

/** What a node's next PXE boot does. */
public enum BootAction {
  /** Boot clonecast's netboot environment and re-image the disk. Destructive. */
  REIMAGE,
  /**
   * Boot clonecast's netboot environment and capture the disk into the image store (read-only: the
   * disk is never written). Set by {@code clonecast image capture}.
   */
  CAPTURE,
  /** Boot the local disk (the safe default for every node nobody marked). */
  LOCAL;

  /** Whether the node's next PXE boot netboots clonecast's environment. */
  public boolean netboots() {
    return this != LOCAL;
  }

  /** What the netboot is for, as boot scripts and events say it ("re-image", "capture"). */
  public String purpose() {
    return switch (this) {
      case REIMAGE -> "re-image";
      case CAPTURE -> "capture";
      case LOCAL -> "boot the local disk";
    };
  }

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
    throw new IllegalArgumentException(
        "unknown boot action '"
            + text
            + "'; use reimage or local"
            + " (capture is set by 'clonecast image capture')");
  }
}

package org.clonecast.server.store;

import java.util.Locale;

/** Where a node is in its life. */
public enum NodeState {
  /** Seen by DHCP, never enrolled: boots its local disk, nothing destructive happens to it. */
  DISCOVERED,
  /** Enrolled by an operator; idle. */
  ENROLLED,
  /** Netbooting clonecast's environment for a re-imaging. */
  BOOTING,
  /** Its agent is receiving and writing the image. */
  IMAGING,
  /** Its agent is capturing its disk into the image store. */
  CAPTURING,
  /** Its last re-imaging (or capture) succeeded. */
  DONE,
  /** Its last re-imaging failed; {@link Node#detail()} says why. */
  FAILED;

  /** Lower-case name as stored and shown. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  static NodeState parse(String text) {
    return valueOf(text.toUpperCase(Locale.ROOT));
  }
}

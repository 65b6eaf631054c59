package org.clonecast.server.boot;

import java.util.Objects;

/**
 * Whether the netboot environment can be served, and if not, why: what a node marked for re-imaging
 * or capture is told on its console while it waits. Immutable.
 */
public sealed interface BootenvStatus {
  /** One line for the node's console and the event log; empty for {@link Ready}. */
  String why();

  /** The kernel and initramfs are installed. */
  record Ready() implements BootenvStatus {
    @Override
    public String why() {
      return "";
    }
  }

  /** The daemon is building it now (the first session's automatic build). */
  record Building() implements BootenvStatus {
    @Override
    public String why() {
      return "the server is building the netboot environment (once, a few minutes)";
    }
  }

  /** The last build failed; {@code why} says how and what to run. */
  record Failed(String why) implements BootenvStatus {
    public Failed {
      Objects.requireNonNull(why);
    }
  }

  /** None is installed and none is being built; {@code why} says what to run. */
  record Missing(String why) implements BootenvStatus {
    public Missing {
      Objects.requireNonNull(why);
    }
  }
}

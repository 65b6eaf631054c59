package org.clonecast.server.config;

/**
 * Bounds on what unauthenticated boot requests may add to the inventory (docs/security.md):
 * machines nobody enrolled are recorded as discovered, at most {@code maxDiscovered} of them (the
 * least recently seen one makes room for a new one), and an iPXE script request leaves a trace (a
 * new discovered node, "last seen", an event) at most {@code seenPerClientPerMinute} times a minute
 * per client address and {@link #SEEN_PER_SECOND} a second in all; beyond that the script is still
 * served, without a trace.
 *
 * @param maxDiscovered discovered (not enrolled) nodes kept
 * @param seenPerClientPerMinute boot-script requests a minute per client address that are recorded
 */
public record NodesConfig(int maxDiscovered, int seenPerClientPerMinute) {
  public static final int DEFAULT_MAX_DISCOVERED = 1024;
  public static final int DEFAULT_SEEN_PER_CLIENT_PER_MINUTE = 30;

  /**
   * Boot-script requests recorded a second from all clients together (a burst of a minute's worth).
   */
  public static final int SEEN_PER_SECOND = 20;

  public NodesConfig {
    if (maxDiscovered < 1) {
      throw new ConfigException(
          "nodes.max-discovered " + maxDiscovered + " is out of range; use 1 or more");
    }
    if (seenPerClientPerMinute < 1) {
      throw new ConfigException(
          "nodes.seen-per-client-per-minute "
              + seenPerClientPerMinute
              + " is out of range; use 1 or more");
    }
  }

  static NodesConfig from(ConfigFile f) {
    return new NodesConfig(
        f.integer("nodes.max-discovered", DEFAULT_MAX_DISCOVERED, 1, 1_000_000),
        f.integer(
            "nodes.seen-per-client-per-minute", DEFAULT_SEEN_PER_CLIENT_PER_MINUTE, 1, 1_000_000));
  }
}

package org.clonecast.server.tftp;

import java.net.InetAddress;
import java.util.Optional;

/**
 * Files a TFTP server answers that are not in its root directory: generated per client (a node's
 * boot script) or kept elsewhere (the netboot environment). Asked before the root.
 *
 * <p>Implementations are thread-safe: the server asks from its event loop.
 */
public interface TftpOverlay {
  /**
   * @param name the requested name made relative: '\' turned into '/', leading '/' dropped
   * @param client who asks
   * @return what to answer, or empty to look the name up in the root; never throws for a bad name
   */
  Optional<TftpRoot.Lookup> open(String name, InetAddress client);

  /** No overlay: the root only. */
  TftpOverlay NONE = (name, client) -> Optional.empty();
}

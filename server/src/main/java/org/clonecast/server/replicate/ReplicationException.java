package org.clonecast.server.replicate;

import java.io.IOException;

/**
 * An image could not be made ready on this daemon: no running daemon holds it, every holder failed,
 * the image is gone, or the bound ran out first. The message says which and what to do.
 */
public final class ReplicationException extends IOException {
  private static final long serialVersionUID = 1L;

  public ReplicationException(String message) {
    super(message);
  }

  public ReplicationException(String message, Throwable cause) {
    super(message, cause);
  }
}

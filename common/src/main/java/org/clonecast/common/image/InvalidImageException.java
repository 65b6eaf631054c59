package org.clonecast.common.image;

import java.io.IOException;

/**
 * A file that is not a usable image: not a {@code .cci} at all, incomplete, truncated, or
 * internally inconsistent. The message starts with the path and says what is wrong, e.g.
 * "/srv/a.cci: image incomplete (no manifest; was its creation interrupted?)".
 *
 * <p>Immutable and thread-safe.
 */
public class InvalidImageException extends IOException {
  private static final long serialVersionUID = 1L;

  public InvalidImageException(String message) {
    super(message);
  }

  public InvalidImageException(String message, Throwable cause) {
    super(message, cause);
  }
}

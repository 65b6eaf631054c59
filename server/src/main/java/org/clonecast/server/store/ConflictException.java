package org.clonecast.server.store;

/**
 * The change contradicts what is stored (a taken name, an enrolled MAC); the message says what to
 * do.
 */
public final class ConflictException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConflictException(String message) {
    super(message);
  }
}

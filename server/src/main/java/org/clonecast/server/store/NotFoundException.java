package org.clonecast.server.store;

/** The thing asked for is not stored; the message says how to create it. */
public final class NotFoundException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NotFoundException(String message) {
    super(message);
  }
}

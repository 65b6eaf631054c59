package org.clonecast.server.http;

/** The caller may not do this (HTTP 403); the message says what it lacks. Nothing was changed. */
public final class ForbiddenException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ForbiddenException(String message) {
    super(message);
  }
}

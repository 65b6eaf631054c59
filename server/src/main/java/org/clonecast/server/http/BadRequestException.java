package org.clonecast.server.http;

/** The request is wrong (HTTP 400); the message says how. */
public final class BadRequestException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public BadRequestException(String message) {
    super(message);
  }
}

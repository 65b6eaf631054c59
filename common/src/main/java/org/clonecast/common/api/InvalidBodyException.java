package org.clonecast.common.api;

/**
 * A body that is not the call's shape: not JSON, a required field missing, a field of the wrong
 * type or an unknown enum value. The message names the field. The daemon answers it with 400.
 */
public final class InvalidBodyException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public InvalidBodyException(String message) {
    super(message);
  }
}

package org.clonecast.agent.disk;

/** The target cannot take the image; the message says why and what to do. */
public final class TargetException extends Exception {
  private static final long serialVersionUID = 1L;

  public TargetException(String message) {
    super(message);
  }
}

package org.clonecast.server.config;

/** The configuration is invalid; the message names the key, the source and what is wanted. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}

package org.clonecast.common.cli;

/**
 * A problem the operator can fix. The message names what is wrong and what to do, e.g. "interface
 * eth9 not found; interfaces: eth0, br0". Printed as one line, no stack trace.
 */
public final class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;

  public CliException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  public CliException(int exitCode, String message, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  public int exitCode() {
    return exitCode;
  }
}

package org.clonecast.it.lab;

/**
 * The POSIX signals a test sends to a {@link LabProcess}, with their Linux x86-64/arm64 numbers.
 */
public enum Signal {
  HUP(1),
  INT(2),
  KILL(9),
  USR1(10),
  TERM(15),
  CONT(18),
  STOP(19);

  private final int number;

  Signal(int number) {
    this.number = number;
  }

  /** The signal number; an exit code of {@code 128 + number()} means "killed by this signal". */
  public int number() {
    return number;
  }
}

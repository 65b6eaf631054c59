package org.clonecast.common.api;

/** Checks shared by the records' compact constructors. */
final class Fields {
  private Fields() {}

  /** {@code value}, which must be present. */
  static <T> T required(T value, String field) {
    if (value == null) {
      throw new InvalidBodyException("field '" + field + "' is required");
    }
    return value;
  }

  /** {@code value}, an id, which must be positive (an explicit null reads as 0). */
  static long id(long value, String field) {
    if (value <= 0) {
      throw new InvalidBodyException("field '" + field + "' must be a positive id, got " + value);
    }
    return value;
  }

  /** {@code value}, which must not be negative. */
  static long notNegative(long value, String field) {
    if (value < 0) {
      throw new InvalidBodyException("field '" + field + "' must not be negative, got " + value);
    }
    return value;
  }
}

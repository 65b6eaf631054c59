package org.clonecast.protocol.wire;

/**
 * A packet that cannot be decoded: too short, a field out of range, a wrong opcode. The only
 * exception a {@code decode(ByteBuf)} method in this module throws (house style, rule 7).
 *
 * <p>Unchecked so that decoders can be used from lambdas and stream pipelines; handlers catch it,
 * count it as {@code malformed} and drop the packet. The message names the message, the field and
 * what was expected, e.g. {@code "REQACK length 100, want 144"}.
 *
 * <p>Immutable once thrown; safe to pass between threads.
 */
public class MalformedPacketException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * @param message what is wrong, naming the field and the expected value
   */
  public MalformedPacketException(String message) {
    super(message);
  }

  /**
   * @param message what is wrong, naming the field and the expected value
   * @param cause the low-level failure (e.g. an {@link IndexOutOfBoundsException})
   */
  public MalformedPacketException(String message, Throwable cause) {
    super(message, cause);
  }
}

package org.clonecast.protocol.image;

/**
 * Bytes that are not a valid image structure (manifest, file header). The message says what is
 * wrong and where, e.g. "manifest: chunk 12 kind code 7 unknown (at byte 612)". Decoders in this
 * package throw only this, never {@link IndexOutOfBoundsException}.
 *
 * <p>Immutable and therefore thread-safe.
 */
public class MalformedImageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public MalformedImageException(String message) {
    super(message);
  }

  public MalformedImageException(String message, Throwable cause) {
    super(message, cause);
  }
}

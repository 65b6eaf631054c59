package org.clonecast.protocol.image;

/**
 * Bytes or a file that are not a valid image: a manifest, file header or signature block that does
 * not decode, or a {@code .cci} that is not usable (not a {@code .cci} at all, incomplete,
 * truncated, internally inconsistent). The message says what is wrong and where, e.g. "manifest:
 * chunk 12 kind code 7 unknown (at byte 612)"; for a file it starts with the path, e.g.
 * "/srv/a.cci: image incomplete (no manifest; was its creation interrupted?)". Decoders in this
 * package throw only this, never {@link IndexOutOfBoundsException}.
 *
 * <p>Unchecked, like {@link ChunkVerificationException}: it travels through decoders, executors and
 * streams. Callers that answer a client (the daemon's API, the CLI) catch it and say that the image
 * is bad; it is never a server error of theirs.
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

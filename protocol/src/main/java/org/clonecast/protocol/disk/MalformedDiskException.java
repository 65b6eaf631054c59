package org.clonecast.protocol.disk;

/**
 * Bytes that are not a valid on-disk structure: a partition table whose checksums do not match or
 * whose partitions overlap, a partclone domain map with a row out of place. The message says what
 * is wrong and where, e.g. "GPT header CRC32 0x1a2b3c4d, computed 0x5e6f7a8b (at byte 512)". The
 * parsers in this package throw only this, never {@link IndexOutOfBoundsException}.
 *
 * <p>Immutable and therefore thread-safe.
 */
public class MalformedDiskException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public MalformedDiskException(String message) {
    super(message);
  }

  public MalformedDiskException(String message, Throwable cause) {
    super(message, cause);
  }
}

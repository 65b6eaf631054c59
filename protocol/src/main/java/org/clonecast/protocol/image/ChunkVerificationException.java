package org.clonecast.protocol.image;

import java.util.Optional;

/**
 * A chunk's stored bytes do not yield its logical bytes: the zstd frame is damaged, the length is
 * wrong, or the SHA-256 of the result is not the one the manifest names. Unchecked, like the other
 * decode errors here, so it travels through executors and streams; callers that write disks catch
 * it and re-fetch the chunk.
 *
 * <p>The message reads "chunk 17: sha256 mismatch: want …, got …".
 *
 * <p>Immutable and thread-safe.
 */
public class ChunkVerificationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int chunkIndex;
  private final String problem;
  private final Sha256 expected;
  private final Sha256 actual;

  /**
   * @param chunkIndex the bad chunk
   * @param problem what is wrong, without the chunk number
   * @param expected the digest the manifest names
   * @param actual the digest of what was decoded, or null when nothing could be decoded
   */
  public ChunkVerificationException(
      int chunkIndex, String problem, Sha256 expected, Sha256 actual) {
    this(chunkIndex, problem, expected, actual, null);
  }

  public ChunkVerificationException(
      int chunkIndex, String problem, Sha256 expected, Sha256 actual, Throwable cause) {
    super("chunk " + chunkIndex + ": " + problem, cause);
    this.chunkIndex = chunkIndex;
    this.problem = problem;
    this.expected = expected;
    this.actual = actual;
  }

  /** The index of the bad chunk. */
  public int chunkIndex() {
    return chunkIndex;
  }

  /** What is wrong, without the "chunk N: " prefix, for callers that add their own context. */
  public String problem() {
    return problem;
  }

  /** The digest the manifest names. */
  public Sha256 expected() {
    return expected;
  }

  /** The digest of the decoded bytes, when decoding got that far. */
  public Optional<Sha256> actual() {
    return Optional.ofNullable(actual);
  }
}

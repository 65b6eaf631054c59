package org.clonecast.protocol.image;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One chunk as {@link ChunkCodec#encode} produced it: its kind, the bytes to store (empty for
 * {@link ChunkKind#ZERO} and {@link ChunkKind#UNUSED}) and the SHA-256 of its logical bytes.
 *
 * <p>Immutable and thread-safe: {@code stored} is copied in and out; {@link #storedBuffer()} is a
 * read-only view for callers that must not pay for a copy. A class rather than a record so that
 * {@link ChunkCodec#encode} can hand over the array it has just filled without a second copy (the
 * clone of a record's compact constructor was 0.6 GB of copies and garbage per capture of the
 * bench's disk, docs/benchmarks.md).
 */
public final class EncodedChunk {
  private final ChunkKind kind;
  private final byte[] stored;
  private final Sha256 sha256;

  /**
   * @param stored copied
   */
  public EncodedChunk(ChunkKind kind, byte[] stored, Sha256 sha256) {
    this(kind, stored.clone(), sha256, true);
  }

  /** Takes {@code stored}, which no one else holds, without a copy. */
  private EncodedChunk(ChunkKind kind, byte[] stored, Sha256 sha256, boolean owned) {
    this.kind = Objects.requireNonNull(kind, "kind");
    this.sha256 = Objects.requireNonNull(sha256, "sha256");
    this.stored = stored;
    if (kind.isStored() == (stored.length == 0)) {
      throw new IllegalArgumentException(kind + " chunk with " + stored.length + " stored bytes");
    }
  }

  /** A chunk whose {@code stored} array the caller made for it and hands over (no copy). */
  static EncodedChunk owning(ChunkKind kind, byte[] stored, Sha256 sha256) {
    return new EncodedChunk(kind, stored, sha256, true);
  }

  /** How the chunk is stored. */
  public ChunkKind kind() {
    return kind;
  }

  /** The SHA-256 of its logical bytes. */
  public Sha256 sha256() {
    return sha256;
  }

  /** The chunk of {@code logicalLength} bytes of which no block is used. */
  public static EncodedChunk unused(int logicalLength) {
    return new EncodedChunk(ChunkKind.UNUSED, new byte[0], Zeros.hash(logicalLength));
  }

  /** A copy of the stored bytes. */
  public byte[] stored() {
    return stored.clone();
  }

  /** Writes the stored bytes to {@code out}, without a copy (a capture uploads each chunk so). */
  public void writeStoredTo(OutputStream out) throws IOException {
    out.write(stored);
  }

  /** A read-only view of the stored bytes, without a copy. */
  public ByteBuffer storedBuffer() {
    return ByteBuffer.wrap(stored).asReadOnlyBuffer();
  }

  /** How many bytes are stored. */
  public int storedLength() {
    return stored.length;
  }

  /**
   * The manifest entry for this chunk, every block used, stored at {@code storedOffset} (ignored
   * unless stored).
   */
  public ChunkEntry entry(int index, long storedOffset) {
    return entry(
        index, storedOffset, kind == ChunkKind.UNUSED ? UsedBlocks.none() : UsedBlocks.all());
  }

  /**
   * The manifest entry for this chunk with {@code used} blocks, stored at {@code storedOffset}
   * (ignored unless the kind is stored).
   */
  public ChunkEntry entry(int index, long storedOffset, UsedBlocks used) {
    return kind.isStored()
        ? new ChunkEntry(index, kind, storedOffset, stored.length, sha256, used)
        : new ChunkEntry(index, kind, 0, 0, sha256, used);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EncodedChunk other
        && kind == other.kind
        && sha256.equals(other.sha256)
        && Arrays.equals(stored, other.stored);
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, sha256, Arrays.hashCode(stored));
  }

  @Override
  public String toString() {
    return "EncodedChunk[kind="
        + kind
        + ", stored="
        + stored.length
        + " bytes, sha256="
        + sha256
        + "]";
  }
}

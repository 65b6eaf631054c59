package org.clonecast.common.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;

/**
 * Something that serves an image's chunks by index: a {@code .cci} file ({@link ImageReader}) or a
 * raw file or device chunked on the fly ({@link RawChunkSource}), or an image in the daemon's chunk
 * pool. Senders code against this.
 *
 * <p>Implementations are thread-safe: any number of threads may read chunks at once.
 */
public interface ChunkSource extends AutoCloseable {
  /** The manifest describing every chunk. */
  Manifest manifest();

  /** The signature block that came with the manifest, if it was signed (docs/image-format.md). */
  default Optional<ManifestSignature> signature() {
    return Optional.empty();
  }

  /**
   * Reads the stored bytes of chunk {@code index} into {@code dst} at its position, which advances
   * by the stored length; {@code dst} must have that much room.
   *
   * @return the stored length (0 for a ZERO chunk)
   */
  int readStored(int index, ByteBuffer dst) throws IOException;

  /** The stored bytes of chunk {@code index} in a new heap buffer, position 0. */
  default ByteBuffer readStored(int index) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(manifest().chunk(index).storedLength());
    readStored(index, b);
    return b.flip();
  }

  /**
   * Decodes chunk {@code index} into {@code out[0 .. logicalLength)} and checks its SHA-256.
   *
   * @throws ChunkVerificationException when the stored bytes do not yield the logical bytes
   */
  default void readLogical(int index, byte[] out) throws IOException {
    ChunkCodec.decode(
        manifest().chunk(index), readStored(index), out, 0, manifest().logicalLength(index));
  }

  @Override
  void close() throws IOException;
}

package org.clonecast.common.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;

/**
 * Checks every chunk of an image in parallel (decode, SHA-256 against the manifest) and the image
 * hash: the SHA-256 of the whole logical image in order, or for a version 3 manifest that of the
 * chunk digests. Also the engine of {@link ImageExtractor}, which adds a write of each verified
 * chunk.
 *
 * <p>Stateless and thread-safe; each call runs its own pipeline.
 */
public final class ImageVerifier {
  /** Receives each verified chunk on a worker thread; must be safe to call concurrently. */
  @FunctionalInterface
  interface ChunkWriter {
    void write(int index, byte[] logical, int length) throws IOException;
  }

  private ImageVerifier() {}

  /**
   * Verifies {@code src}.
   *
   * @throws ChunkVerificationException naming the first bad chunk in index order
   * @throws MalformedImageException when every chunk is good but the whole-image SHA-256 differs
   *     from the manifest's (an inconsistent manifest)
   */
  public static void verify(ChunkSource src, int threads, ProgressListener p) throws IOException {
    decodeAll(src, threads, null, p);
  }

  /** Decodes and verifies every chunk, passing each to {@code writer} when not null. */
  static void decodeAll(ChunkSource src, int threads, ChunkWriter writer, ProgressListener p)
      throws IOException {
    Manifest m = src.manifest();
    // Version 3: the manifest checked its image hash against its chunk digests when it was
    // decoded, so the chunks' own checks are the whole verification; no second pass.
    MessageDigest image = m.hashOfChunks() ? null : Sha256.newDigest();
    long[] done = {0};
    OrderedPipeline.run(
        m.chunkCount(),
        threads,
        m.chunkSize(),
        (index, buf) -> {
          ChunkEntry e = m.chunk(index);
          int len = m.logicalLength(index);
          ByteBuffer stored = src.readStored(index);
          ChunkCodec.decode(e, stored, buf, 0, len);
          if (writer != null) {
            writer.write(index, buf, len);
          }
          return null;
        },
        (index, buf, unused) -> {
          int len = m.logicalLength(index);
          if (image != null) {
            image.update(buf, 0, len);
          }
          done[0] += len;
          p.progress(done[0]);
        });
    Sha256 got = image == null ? Manifest.hashOfChunkDigests(m.chunks()) : Sha256.finish(image);
    if (!got.equals(m.imageHash())) {
      throw new MalformedImageException(
          "image sha256 mismatch: manifest says "
              + m.imageHash().hex()
              + ", chunks give "
              + got.hex()
              + " (every chunk matched its own hash: the manifest is inconsistent)");
    }
  }
}

package org.clonecast.common.image;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.EncodedChunk;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;

/**
 * Reads a raw file or device chunk by chunk, encodes the chunks in parallel and hands them in
 * order to a {@link StoredSink}, which decides where (or whether) stored bytes go; builds the
 * manifest, including the in-order SHA-256 of the whole image. Shared by {@link ImageCreator}
 * (sink: the {@code .cci} file), {@link RawChunkSource} (sink: offsets only) and the agent's
 * capture upload (sink: the daemon over HTTP).
 *
 * <p>Stateless; each call runs its own pipeline.
 */
public final class ChunkScanner {
  /** Where the encoded chunks go, in index order. */
  @FunctionalInterface
  public interface StoredSink {
    /** Stores chunk {@code index} (not called for ZERO chunks) and returns its stored offset. */
    long store(int index, EncodedChunk chunk) throws IOException;
  }

  private ChunkScanner() {}

  public static Manifest scan(
      Path srcName, FileChannel src, long size, UUID id, int chunkSize, int level, int threads,
      ProgressListener progress, StoredSink sink) throws IOException {
    int count = Manifest.chunkCount(size, chunkSize);
    MessageDigest image = Sha256.newDigest();
    List<ChunkEntry> entries = new ArrayList<>(count);
    long[] done = {0};
    OrderedPipeline.run(count, threads, chunkSize,
        (index, buf) -> {
          int len = length(size, chunkSize, index);
          try {
            ChannelIo.readFully(src, ByteBuffer.wrap(buf, 0, len), (long) index * chunkSize, srcName.toString());
          } catch (EOFException e) {
            throw new EOFException(srcName + " shrank while being read (was " + size + " bytes): " + e.getMessage());
          }
          return ChunkCodec.encode(index, buf, 0, len, level);
        },
        (index, buf, chunk) -> {
          int len = length(size, chunkSize, index);
          image.update(buf, 0, len);
          long offset = chunk.kind() == ChunkKind.ZERO ? 0 : sink.store(index, chunk);
          entries.add(chunk.entry(index, offset));
          done[0] += len;
          progress.progress(done[0]);
        });
    return new Manifest(id, size, chunkSize, entries, Sha256.finish(image));
  }

  private static int length(long size, int chunkSize, int index) {
    return (int) Math.min(chunkSize, size - (long) index * chunkSize);
  }
}

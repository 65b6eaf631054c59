package org.clonecast.common.image;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.EncodedChunk;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.image.UsedBlocks;

/**
 * Reads a raw file or device chunk by chunk as an {@link AllocationMap} says, encodes the chunks on
 * several threads and hands each one, with its manifest entry, to a {@link Sink} in index order;
 * returns the manifest, including the image hash: the in-order SHA-256 of the whole logical image
 * for a whole-disk map, else that of the chunk digests ({@link #hashesChunkDigests}). The engine of
 * {@link ImageCreator} (sink: the {@code .cci} file), {@link RawChunkSource} (sink: nothing) and of
 * a capture that uploads chunks as they come (sink: the network).
 *
 * <p>Per chunk: one with no used block ({@link org.clonecast.protocol.image.ChunkKind#UNUSED}) is
 * never read; a partly used one is read from its first to its last used byte and its unused blocks
 * are set to zero ({@link UsedBlocks#zeroUnused}) before it is encoded and hashed, so free space
 * never reaches an image, whatever it holds; a wholly used one is read and encoded as it is.
 *
 * <p>Stateless; each call runs its own pipeline, whose memory is bounded whatever the source's
 * size.
 */
public final class ChunkScanner {
  /** Takes the scanned chunks. */
  @FunctionalInterface
  public interface Sink {
    /**
     * Called once per chunk, ZERO and UNUSED ones included, strictly in index order, on the thread
     * that called {@link #scan}. {@code entry.storedOffset()} is where the chunk's stored bytes go
     * in a {@code .cci} whose stored chunks follow the {@link ImageFileHeader#LENGTH}-byte header
     * back to back in index order; {@code chunk.storedBuffer()} holds them (empty unless the kind
     * is stored). A sink that throws ends the scan with that exception.
     */
    void accept(ChunkEntry entry, EncodedChunk chunk) throws IOException;
  }

  /** A sink that keeps nothing: for a manifest alone. */
  public static final Sink DISCARD = (entry, chunk) -> {};

  private record Scanned(EncodedChunk chunk, UsedBlocks used) {}

  private ChunkScanner() {}

  /**
   * Scans {@code size} bytes of {@code src}.
   *
   * @param name the source's name, for messages
   * @param src the source, read with positional reads (shared by {@code threads} threads)
   * @param size the source's size in bytes, the logical size of the image
   * @param map the bytes to carry; {@code map.diskSize()} must equal {@code size}
   * @param id the image id
   * @param chunkSize logical bytes per chunk ({@link Manifest#checkChunkSize})
   * @param level zstd level
   * @param threads read and encode threads
   * @param ahead how many chunks the encode threads run at least ahead of the sink (within a memory
   *     budget; 0: two per thread): more for a sink that waits for something else (a capture's
   *     uploads) while the threads go on
   * @param progress told the logical bytes done, once per chunk
   * @param sink takes every chunk in index order
   * @return the manifest of the chunks handed to {@code sink}
   * @throws IOException when reading fails, the source ends before {@code size}, or the sink throws
   * @throws IllegalArgumentException when the map is of another size or the chunk size is invalid
   */
  public static Manifest scan(
      Path name,
      FileChannel src,
      long size,
      AllocationMap map,
      UUID id,
      int chunkSize,
      int level,
      int threads,
      int ahead,
      ProgressListener progress,
      Sink sink)
      throws IOException {
    Manifest.checkChunkSize(chunkSize);
    if (map.diskSize() != size) {
      throw new IllegalArgumentException(
          "allocation map of a "
              + map.diskSize()
              + "-byte disk for "
              + name
              + " of "
              + size
              + " bytes");
    }
    int count = Manifest.chunkCount(size, chunkSize);
    boolean ofChunks = hashesChunkDigests(map);
    // Whole-disk images keep the version 1 image hash (older builds read them); it takes a second
    // SHA-256 pass over every logical byte. A filesystem-aware image hashes its chunk digests.
    MessageDigest image = ofChunks ? null : Sha256.newDigest();
    List<ChunkEntry> entries = new ArrayList<>(count);
    long[] next = {ImageFileHeader.LENGTH};
    long[] done = {0};
    OrderedPipeline.run(
        count,
        threads,
        ahead,
        chunkSize,
        (index, buf) -> {
          int len = length(size, chunkSize, index);
          Optional<UsedBlocks> used = map.forChunk(index, chunkSize);
          if (used.isEmpty()) {
            if (!ofChunks) {
              Arrays.fill(buf, 0, len, (byte) 0); // the logical bytes the image hash takes
            }
            return new Scanned(EncodedChunk.unused(len), UsedBlocks.none());
          }
          try {
            readLogical(src, name.toString(), (long) index * chunkSize, buf, len, used.get());
          } catch (EOFException e) {
            throw new EOFException(
                name + " shrank while being read (was " + size + " bytes): " + e.getMessage());
          }
          return new Scanned(ChunkCodec.encode(index, buf, 0, len, level), used.get());
        },
        (index, buf, s) -> {
          int len = length(size, chunkSize, index);
          if (image != null) {
            image.update(buf, 0, len);
          }
          ChunkEntry entry = s.chunk().entry(index, next[0], s.used());
          next[0] += entry.storedLength();
          entries.add(entry);
          sink.accept(entry, s.chunk());
          done[0] += len;
          progress.progress(done[0]);
        });
    return ofChunks
        ? Manifest.ofChunks(id, size, chunkSize, entries)
        : new Manifest(id, size, chunkSize, entries, Sha256.finish(image));
  }

  /**
   * Whether {@link #scan} gives the image of {@code map} the hash of its chunk digests (manifest
   * version 3): unless the map carries the whole disk, whose image stays readable by builds that
   * predate versions 2 and 3.
   */
  public static boolean hashesChunkDigests(AllocationMap map) {
    return !map.isWhole();
  }

  /**
   * Reads the logical bytes of the {@code len}-byte chunk at {@code offset} into {@code buf}: the
   * span from its first to its last used byte, in one read, with unused blocks then zeroed. Nothing
   * is read when no block is used.
   */
  static void readLogical(
      FileChannel src, String name, long offset, byte[] buf, int len, UsedBlocks used)
      throws IOException {
    if (used.isAll()) {
      ChannelIo.readFully(src, ByteBuffer.wrap(buf, 0, len), offset, name);
      return;
    }
    int[] span = {-1, 0};
    used.forEachRun(
        len,
        (off, n) -> {
          if (span[0] < 0) {
            span[0] = off;
          }
          span[1] = off + n;
        });
    if (span[0] >= 0) {
      ChannelIo.readFully(
          src, ByteBuffer.wrap(buf, span[0], span[1] - span[0]), offset + span[0], name);
    }
    used.zeroUnused(buf, 0, len);
  }

  private static int length(long size, int chunkSize, int index) {
    return (int) Math.min(chunkSize, size - (long) index * chunkSize);
  }
}

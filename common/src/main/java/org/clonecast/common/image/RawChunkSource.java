package org.clonecast.common.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.EncodedChunk;
import org.clonecast.protocol.image.Manifest;

/**
 * A raw file or block device served as chunks without writing a {@code .cci} first: {@link #open}
 * scans the source once (read, compress, hash: the same {@link ChunkCodec} as {@code image create})
 * to build the manifest, and {@link #readStored} compresses a chunk again on demand.
 *
 * <p>Why compress again instead of caching to a temporary {@code .cci}: it needs no scratch disk
 * the size of the image, and zstd at a fixed level is deterministic, so the bytes are the same ones
 * the scan measured. A sender reads each chunk about once per pass, so the extra CPU is one
 * compression per chunk sent. The stored offsets in the manifest are those the chunks would have in
 * a {@code .cci} (header, then chunks back to back), so receivers cannot tell the difference. If
 * the source changes after the scan, {@link #readStored} fails rather than serve different bytes
 * (ZERO and UNUSED chunks are not re-read: nothing is stored for them). With an {@link
 * AllocationMap}, free space is read neither by the scan nor later, as in {@link ChunkScanner}.
 *
 * <p>Thread-safe: chunks are read with positional reads and encoded independently.
 */
public final class RawChunkSource extends FileChunkSource {
  private final int level;

  private RawChunkSource(Path path, FileChannel channel, Manifest manifest, int level) {
    super(path, channel, manifest);
    this.level = level;
  }

  /** Scans all of {@code raw} and returns its manifest, without keeping anything open. */
  public static Manifest scan(Path raw, int chunkSize, int level, int threads, ProgressListener p)
      throws IOException {
    return scan(raw, chunkSize, level, threads, null, p);
  }

  /**
   * Scans the bytes of {@code raw} that {@code map} lists (all of it when null) and returns its
   * manifest, without keeping anything open.
   */
  public static Manifest scan(
      Path raw, int chunkSize, int level, int threads, AllocationMap map, ProgressListener p)
      throws IOException {
    try (RawChunkSource s = open(raw, chunkSize, level, threads, map, p)) {
      return s.manifest();
    }
  }

  /** Scans all of {@code raw} and keeps it open to serve chunks. */
  public static RawChunkSource open(
      Path raw, int chunkSize, int level, int threads, ProgressListener p) throws IOException {
    return open(raw, chunkSize, level, threads, null, p);
  }

  /**
   * Scans the bytes of {@code raw} that {@code map} lists (all of it when null) and keeps it open
   * to serve chunks.
   *
   * @throws IllegalArgumentException when {@code map} is for a disk of another size
   */
  public static RawChunkSource open(
      Path raw, int chunkSize, int level, int threads, AllocationMap map, ProgressListener p)
      throws IOException {
    Manifest.checkChunkSize(chunkSize);
    FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ);
    try {
      long size = SourceDevice.size(raw, ch);
      AllocationMap carry = map == null ? AllocationMap.whole(size) : map;
      Manifest m =
          ChunkScanner.scan(
              raw,
              ch,
              size,
              carry,
              UUID.randomUUID(),
              chunkSize,
              level,
              threads,
              0,
              p,
              ChunkScanner.DISCARD);
      return new RawChunkSource(raw, ch, m, level);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  @Override
  public int readStored(int index, ByteBuffer dst) throws IOException {
    ChunkEntry e = ImageReader.entryFitting(manifest, index, dst);
    if (!e.kind().isStored()) {
      return 0;
    }
    int len = manifest.logicalLength(index);
    byte[] logical = new byte[len];
    ChunkScanner.readLogical(
        channel, path + " chunk " + index, manifest.logicalOffset(index), logical, len, e.used());
    EncodedChunk c = ChunkCodec.encode(index, logical, 0, len, level);
    if (c.kind() != e.kind()
        || c.storedLength() != e.storedLength()
        || !c.sha256().equals(e.sha256())) {
      throw new IOException(
          path
              + " changed since it was scanned: chunk "
              + index
              + " (offset "
              + manifest.logicalOffset(index)
              + ") is now "
              + c.kind()
              + " "
              + c.sha256().hex()
              + ", was "
              + e.kind()
              + " "
              + e.sha256().hex());
    }
    dst.put(c.storedBuffer());
    return c.storedLength();
  }
}

package org.clonecast.common.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes an image back out as the raw disk it describes, verifying every chunk on the way. Only the
 * used blocks of a chunk are written ({@link org.clonecast.protocol.image.UsedBlocks}); UNUSED
 * chunks not at all.
 *
 * <p>To a regular file: written as {@code OUT.partial} and renamed when complete and verified; ZERO
 * and UNUSED chunks and unused blocks become holes (the file is sized first and those ranges are
 * never written), so the file reads back as the image's logical bytes. To a device (block or
 * character): written in place; the used blocks of ZERO chunks are written as zeros unless {@link
 * Options#skipZeros()} says the device is known to read back zeros already; unused blocks keep
 * whatever the device held.
 *
 * <p>Chunks are decoded and written by several threads with positional writes. Stateless and
 * thread-safe; each call is independent.
 */
public final class ImageExtractor {
  private static final Logger log = LoggerFactory.getLogger(ImageExtractor.class);

  /**
   * How to extract.
   *
   * @param threads decode and write threads
   * @param replace whether an existing regular file may be replaced
   * @param skipZeros on a device, leave ZERO chunks unwritten
   * @param progress told the logical bytes done
   */
  public record Options(
      int threads, boolean replace, boolean skipZeros, ProgressListener progress) {
    public Options {
      if (threads < 1) {
        throw new IllegalArgumentException("threads " + threads + " < 1");
      }
      if (progress == null) {
        progress = ProgressListener.NONE;
      }
    }

    /** All cores, no replace, zeros written to devices, no progress. */
    public static Options defaults() {
      return new Options(
          Runtime.getRuntime().availableProcessors(), false, false, ProgressListener.NONE);
    }
  }

  /**
   * What was written.
   *
   * @param device whether the target was a device (written in place)
   * @param bytesWritten bytes actually written (skipped ZERO chunks and unused blocks are not
   *     counted)
   */
  public record Result(boolean device, long bytesWritten) {}

  private ImageExtractor() {}

  /**
   * Extracts {@code src} to {@code out}.
   *
   * @throws java.nio.file.FileAlreadyExistsException when {@code out} is an existing regular file
   *     and not {@link Options#replace()}
   * @throws org.clonecast.protocol.image.ChunkVerificationException when a chunk is bad; a
   *     regular-file target is then removed
   */
  public static Result extract(ChunkSource src, Path out, Options o) throws IOException {
    Manifest m = src.manifest();
    if (Files.exists(out) && SourceDevice.isDevice(out)) {
      return toDevice(src, m, out, o);
    }
    log.info("image extract: {} chunks, {} bytes -> {}", m.chunkCount(), m.logicalSize(), out);
    AtomicLong written = new AtomicLong();
    try (PartialFile partial = PartialFile.create(out, o.replace())) {
      partial.setLength(m.logicalSize());
      FileChannel ch = partial.channel();
      ImageVerifier.decodeAll(
          src,
          o.threads(),
          (index, buf, len) -> {
            if (m.chunk(index).kind().isStored()) {
              written.addAndGet(writeUsed(ch, m.chunk(index), m.logicalOffset(index), buf, len));
            }
          },
          o.progress());
      partial.commit();
    }
    return new Result(false, written.get());
  }

  private static Result toDevice(ChunkSource src, Manifest m, Path out, Options o)
      throws IOException {
    AtomicLong written = new AtomicLong();
    boolean block = SourceDevice.isBlockDevice(out);
    try (FileChannel ch = FileChannel.open(out, StandardOpenOption.WRITE)) {
      if (block) {
        Optional<String> mounted = SourceDevice.mountedAt(out);
        if (mounted.isPresent()) {
          throw new IOException(
              out + " is in use: " + mounted.get() + " is mounted; unmount it first");
        }
        long size = SourceDevice.size(out, ch);
        if (size < m.logicalSize()) {
          throw new IOException(
              out
                  + " holds "
                  + size
                  + " bytes, the image needs "
                  + m.logicalSize()
                  + "; choose a device at least that large");
        }
      }
      log.info(
          "image extract: {} chunks, {} bytes -> device {} (zero chunks {})",
          m.chunkCount(),
          m.logicalSize(),
          out,
          o.skipZeros() ? "skipped" : "written");
      ImageVerifier.decodeAll(
          src,
          o.threads(),
          (index, buf, len) -> {
            ChunkKind kind = m.chunk(index).kind();
            if (kind.isStored() || kind == ChunkKind.ZERO && !o.skipZeros()) {
              written.addAndGet(writeUsed(ch, m.chunk(index), m.logicalOffset(index), buf, len));
            }
          },
          o.progress());
      if (block) {
        ch.force(true); // character devices (a tape, /dev/null) reject fsync with EINVAL
      }
    }
    return new Result(true, written.get());
  }

  /**
   * Writes the used runs of chunk {@code e}'s logical bytes {@code buf[0 .. len)}; returns the
   * bytes written.
   */
  private static long writeUsed(FileChannel ch, ChunkEntry e, long offset, byte[] buf, int len)
      throws IOException {
    long[] n = {0};
    e.used()
        .forEachRun(
            len,
            (off, runLength) -> {
              ChannelIo.writeFully(ch, ByteBuffer.wrap(buf, off, runLength), offset + off);
              n[0] += runLength;
            });
    return n[0];
  }
}

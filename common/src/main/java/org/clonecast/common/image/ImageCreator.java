package org.clonecast.common.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates a {@code .cci} image from a raw file or block device. Chunks are read and compressed on
 * {@code threads} threads and written in order; memory stays bounded. With an {@link
 * AllocationMap}, only the bytes it lists are read and stored ({@link ChunkScanner}).
 *
 * <p>Crash safety (see {@code docs/image-format.md}): the image is written as {@code OUT.partial}
 * with a header whose manifest offset is 0; then the manifest, fsync; then the manifest offset and
 * length, fsync; then the rename to {@code OUT}. A failure removes the partial file.
 *
 * <p>Stateless and thread-safe; each call is independent.
 */
public final class ImageCreator {
  private static final Logger log = LoggerFactory.getLogger(ImageCreator.class);

  private ImageCreator() {}

  /** Creates {@code out} from all of {@code src}; {@code out} must not exist yet. */
  public static Manifest create(
      Path src, Path out, int chunkSize, int zstdLevel, int threads, ProgressListener p)
      throws IOException {
    return create(src, out, chunkSize, zstdLevel, threads, false, null, p);
  }

  /**
   * Creates {@code out} from the bytes of {@code src} that {@code map} lists; the rest is free
   * space, neither read nor stored, and reads back as zeros from the image.
   *
   * @param map what to carry, for a disk of {@code src}'s size; null for all of it
   * @param replace whether an existing {@code out} may be replaced (atomically, at the end)
   * @throws java.nio.file.FileAlreadyExistsException when {@code out} exists and not {@code
   *     replace}
   * @throws IllegalArgumentException when {@code map} is for a disk of another size
   */
  public static Manifest create(
      Path src,
      Path out,
      int chunkSize,
      int zstdLevel,
      int threads,
      boolean replace,
      AllocationMap map,
      ProgressListener p)
      throws IOException {
    Manifest.checkChunkSize(chunkSize);
    try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ)) {
      long size = SourceDevice.size(src, in);
      AllocationMap carry = map == null ? AllocationMap.whole(size) : map;
      if (carry.diskSize() != size) {
        throw new IllegalArgumentException(
            "allocation map of a "
                + carry.diskSize()
                + "-byte disk for "
                + src
                + " of "
                + size
                + " bytes");
      }
      UUID id = UUID.randomUUID();
      log.info(
          "image create: {} ({} bytes, {} to carry) -> {}, chunks of {}, zstd level {}, {} threads",
          src,
          size,
          carry.usedBytes(),
          out,
          chunkSize,
          zstdLevel,
          threads);
      try (PartialFile partial = PartialFile.create(out, replace)) {
        FileChannel ch = partial.channel();
        // Version 1 for a whole disk, so that older builds still read the image; a map with free
        // space may give partial and UNUSED chunks, which only version 2 readers understand (the
        // header's version is at least its manifest's; see docs/image-format.md).
        int version = carry.isWhole() ? ImageFileHeader.MIN_VERSION : ImageFileHeader.VERSION;
        ImageFileHeader header =
            ImageFileHeader.incomplete(
                version, id, size, chunkSize, Manifest.chunkCount(size, chunkSize));
        ChannelIo.writeEncoded(ch, header::encode, 0);
        long[] end = {header.headerLength()};
        Manifest m =
            ChunkScanner.scan(
                src,
                in,
                size,
                carry,
                id,
                chunkSize,
                zstdLevel,
                threads,
                0,
                p,
                (entry, chunk) -> {
                  if (entry.kind().isStored()) {
                    ChannelIo.writeFully(ch, chunk.storedBuffer(), entry.storedOffset());
                    end[0] = entry.storedEnd();
                  }
                });
        int manifestLength = ChannelIo.writeEncoded(ch, m::encode, end[0]);
        ch.force(true);
        // Only now may the header say where the manifest is: a crash before this point leaves
        // manifest offset 0, which readers report as incomplete.
        ChannelIo.writeEncoded(
            ch,
            header.complete(end[0], manifestLength)::encodeManifestFields,
            ImageFileHeader.MANIFEST_FIELDS_OFFSET);
        partial.commit();
        log.info(
            "image create: {} done, {} chunks, {} stored bytes, sha256 {}",
            out,
            m.chunkCount(),
            m.storedBytes(),
            m.imageHash());
        return m;
      }
    }
  }

  /**
   * Writes the image {@code src} serves (an image in the daemon's chunk pool, or another {@code
   * .cci}) as the self-contained {@code .cci} {@code out}: the same manifest, signature block and
   * stored chunks at the offsets the manifest names, written safely as {@link #create} writes.
   *
   * @param replace replace an existing {@code out}
   * @throws IOException when the manifest's offsets are not those of a {@code .cci} (chunks back to
   *     back after the header), or the chunks cannot be read or written
   */
  public static void export(ChunkSource src, Path out, boolean replace) throws IOException {
    Manifest m = src.manifest();
    try (PartialFile partial = PartialFile.create(out, replace)) {
      FileChannel ch = partial.channel();
      int version = m.formatVersion() == 1 ? ImageFileHeader.MIN_VERSION : ImageFileHeader.VERSION;
      ImageFileHeader header =
          ImageFileHeader.incomplete(
              version, m.imageId(), m.logicalSize(), m.chunkSize(), m.chunkCount());
      ChannelIo.writeEncoded(ch, header::encode, 0);
      long end = header.headerLength();
      for (ChunkEntry e : m.chunks()) {
        if (!e.kind().isStored()) {
          continue;
        }
        if (e.storedOffset() != end) {
          throw new IOException(
              "export: chunk " + e.index() + " at offset " + e.storedOffset() + ", want " + end);
        }
        ChannelIo.writeFully(ch, src.readStored(e.index()), end);
        end = e.storedEnd();
      }
      byte[] manifest = ManifestSignature.encodeSigned(m, src.signature());
      ChannelIo.writeFully(ch, ByteBuffer.wrap(manifest), end);
      ch.force(true);
      ChannelIo.writeEncoded(
          ch,
          header.complete(end, manifest.length)::encodeManifestFields,
          ImageFileHeader.MANIFEST_FIELDS_OFFSET);
      partial.commit();
    }
  }
}

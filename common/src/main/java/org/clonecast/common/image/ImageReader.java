package org.clonecast.common.image;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;

/**
 * An open {@code .cci} image file. {@link #open} checks the header, the manifest and that every
 * stored chunk lies between the header and the manifest; chunk contents are checked when read with
 * {@link #readLogical} (or all at once by {@link ImageVerifier}).
 *
 * <p>Thread-safe: chunks are read with positional reads, so any number of threads may read at once.
 * Do not interrupt reading threads: an interrupt closes the shared channel (a JDK rule).
 */
public final class ImageReader extends FileChunkSource {
  /** Bytes a manifest may carry after its CRC (reserved for a signature block). */
  private static final int MAX_TRAILER = 64 * 1024;

  private final ImageFileHeader header;
  private final Optional<ManifestSignature> signature;

  private ImageReader(
      Path path,
      FileChannel channel,
      ImageFileHeader header,
      Manifest manifest,
      Optional<ManifestSignature> signature) {
    super(path, channel, manifest);
    this.header = header;
    this.signature = signature;
  }

  /**
   * True when {@code path} starts with the .cci magic (complete or not); false for anything else,
   * raw disks included.
   */
  public static boolean isImage(Path path) throws IOException {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      ByteBuffer head = ByteBuffer.allocate(Long.BYTES);
      while (head.hasRemaining() && ch.read(head) > 0) {
        // read the magic
      }
      return !head.hasRemaining() && head.flip().getLong() == ImageFileHeader.MAGIC;
    }
  }

  /**
   * Opens and checks an image.
   *
   * @throws MalformedImageException when the file is not a complete, consistent {@code .cci}; the
   *     message starts with the path
   * @throws IOException when it cannot be read at all (missing, permissions)
   */
  public static ImageReader open(Path path) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
    try {
      long fileSize = ch.size();
      ByteBuffer head = ByteBuffer.allocate((int) Math.min(ImageFileHeader.LENGTH, fileSize));
      ChannelIo.readFully(ch, head, 0, path.toString());
      ImageFileHeader h;
      try {
        h = ImageFileHeader.decode(Unpooled.wrappedBuffer(head.flip()));
      } catch (MalformedImageException e) {
        throw invalid(path, e.getMessage(), e);
      }
      if (!h.isComplete()) {
        throw invalid(path, "image incomplete (no manifest; was its creation interrupted?)", null);
      }
      if (h.manifestOffset() > fileSize - h.manifestLength()) {
        throw invalid(
            path,
            "image truncated: manifest at "
                + h.manifestOffset()
                + " ("
                + h.manifestLength()
                + " bytes) beyond file size "
                + fileSize,
            null);
      }
      // Never allocate more than a manifest of this many chunks can need (plus room for a later
      // trailer such as a signature): a damaged length must not exhaust the heap.
      long maxLength;
      try {
        maxLength = Manifest.maxEncodedLength(h.chunkCount(), h.chunkSize()) + MAX_TRAILER;
      } catch (IllegalArgumentException e) {
        throw invalid(path, "image header: " + e.getMessage(), e);
      }
      if (h.manifestLength() > maxLength) {
        throw invalid(
            path,
            "manifest length "
                + h.manifestLength()
                + " too large for "
                + h.chunkCount()
                + " chunks (at most "
                + maxLength
                + ")",
            null);
      }
      ByteBuffer mb = ByteBuffer.allocate(h.manifestLength());
      ChannelIo.readFully(ch, mb, h.manifestOffset(), path.toString());
      Manifest m;
      Optional<ManifestSignature> sig;
      try {
        ByteBuf in = Unpooled.wrappedBuffer(mb.flip());
        m = Manifest.decode(in);
        sig = ManifestSignature.decode(in);
      } catch (MalformedImageException e) {
        throw invalid(
            path, "manifest at " + h.manifestOffset() + " unreadable: " + e.getMessage(), e);
      }
      check(path, h, m);
      return new ImageReader(path, ch, h, m, sig);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static void check(Path path, ImageFileHeader h, Manifest m) {
    if (!h.imageId().equals(m.imageId())
        || h.logicalSize() != m.logicalSize()
        || h.chunkSize() != m.chunkSize()
        || h.chunkCount() != m.chunkCount()) {
      throw invalid(
          path,
          "header (id "
              + h.imageId()
              + ", "
              + h.logicalSize()
              + " bytes, chunks of "
              + h.chunkSize()
              + ", "
              + h.chunkCount()
              + " chunks) and manifest (id "
              + m.imageId()
              + ", "
              + m.logicalSize()
              + " bytes, chunks of "
              + m.chunkSize()
              + ", "
              + m.chunkCount()
              + " chunks) disagree",
          null);
    }
    if (m.formatVersion() > h.version()) {
      throw invalid(
          path,
          "manifest of version "
              + m.formatVersion()
              + " in a file of version "
              + h.version()
              + " (version 2: partial or UNUSED chunks; 3: the image hash of the chunk digests)",
          null);
    }
    for (ChunkEntry e : m.chunks()) {
      if (e.kind().isStored()
          && (e.storedOffset() < h.headerLength() || e.storedEnd() > h.manifestOffset())) {
        throw invalid(
            path,
            "chunk "
                + e.index()
                + " stored at "
                + e.storedOffset()
                + ".."
                + e.storedEnd()
                + ", outside the data area "
                + h.headerLength()
                + ".."
                + h.manifestOffset(),
            null);
      }
    }
  }

  private static MalformedImageException invalid(Path path, String what, Throwable cause) {
    return new MalformedImageException(path + ": " + what, cause);
  }

  /** The signature block after the manifest, if the image is signed (docs/image-format.md). */
  @Override
  public Optional<ManifestSignature> signature() {
    return signature;
  }

  /** The file header. */
  public ImageFileHeader header() {
    return header;
  }

  @Override
  public int readStored(int index, ByteBuffer dst) throws IOException {
    ChunkEntry e = entryFitting(manifest, index, dst);
    ByteBuffer slice = dst.duplicate();
    slice.limit(slice.position() + e.storedLength());
    ChannelIo.readFully(channel, slice, e.storedOffset(), path + " chunk " + index);
    dst.position(slice.position());
    return e.storedLength();
  }

  /** The entry of chunk {@code index}, after checking that its stored bytes fit {@code dst}. */
  static ChunkEntry entryFitting(Manifest m, int index, ByteBuffer dst) {
    ChunkEntry e = m.chunk(index);
    if (dst.remaining() < e.storedLength()) {
      throw new IllegalArgumentException(
          "chunk "
              + index
              + " stores "
              + e.storedLength()
              + " bytes, buffer has room for "
              + dst.remaining());
    }
    return e;
  }
}

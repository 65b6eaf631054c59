package org.clonecast.protocol.image;

import io.netty.buffer.ByteBuf;
import java.util.Objects;
import java.util.UUID;

/**
 * The 64-byte header at the start of a {@code .cci} image file (layout in {@code
 * docs/image-format.md}, "File header"). {@code manifestOffset == 0} marks an image whose creation
 * did not finish: the writer fills in the manifest position last.
 *
 * <p>Immutable and thread-safe.
 *
 * @param version file layout version, {@link #MIN_VERSION} to {@link #VERSION}: 2 says the manifest
 *     may hold partial or UNUSED chunks (manifest version 2), 3 that its image hash may be that of
 *     the chunk digests (manifest version 3), so that an older reader refuses the file at its
 *     header; the byte layout of the header is the same
 * @param flags feature bits a reader must understand; none are defined in versions 1 to 3
 * @param headerLength bytes before the first stored chunk, at least {@link #LENGTH}
 * @param imageId the manifest's image id
 * @param logicalSize the manifest's logical size
 * @param chunkSize the manifest's chunk size
 * @param chunkCount the manifest's chunk count
 * @param manifestOffset where the encoded manifest starts, or 0 while the image is incomplete
 * @param manifestLength encoded manifest length in bytes, 0 while incomplete
 */
public record ImageFileHeader(
    int version,
    int flags,
    int headerLength,
    UUID imageId,
    long logicalSize,
    int chunkSize,
    int chunkCount,
    long manifestOffset,
    int manifestLength) {
  /** "CLONECI1", the first eight bytes of every image file, as one big-endian long. */
  public static final long MAGIC = 0x434C4F4E45434931L;

  /** The newest layout version written and read by this build. */
  public static final int VERSION = 3;

  /** The oldest layout version read by this build (and written for whole-disk images). */
  public static final int MIN_VERSION = 1;

  /** Length of the header this build writes. */
  public static final int LENGTH = 64;

  /**
   * File offset of {@code manifestOffset}; it and {@code manifestLength} (at +8) are the twelve
   * bytes the writer fills in last to mark the image complete.
   */
  public static final int MANIFEST_FIELDS_OFFSET = 48;

  public ImageFileHeader {
    Objects.requireNonNull(imageId, "imageId");
    if (version < MIN_VERSION || version > VERSION) {
      throw new IllegalArgumentException(
          "image format version " + version + " not in " + MIN_VERSION + ".." + VERSION);
    }
    if (headerLength < LENGTH) {
      throw new IllegalArgumentException("header length " + headerLength + " < " + LENGTH);
    }
    if (logicalSize < 0 || chunkCount < 0 || manifestLength < 0 || manifestOffset < 0) {
      throw new IllegalArgumentException("negative size in image header");
    }
    if (manifestOffset == 0 ? manifestLength != 0 : manifestOffset < headerLength) {
      throw new IllegalArgumentException(
          "manifest offset " + manifestOffset + " length " + manifestLength + " inside the header");
    }
  }

  /**
   * The header of a version 1 image being written (every block of every chunk used): everything but
   * the manifest position.
   */
  public static ImageFileHeader incomplete(
      UUID imageId, long logicalSize, int chunkSize, int chunkCount) {
    return incomplete(MIN_VERSION, imageId, logicalSize, chunkSize, chunkCount);
  }

  /**
   * The header of an image being written, of layout {@code version}: at least the {@link
   * Manifest#formatVersion()} of the manifest it will hold.
   */
  public static ImageFileHeader incomplete(
      int version, UUID imageId, long logicalSize, int chunkSize, int chunkCount) {
    return new ImageFileHeader(
        version, 0, LENGTH, imageId, logicalSize, chunkSize, chunkCount, 0, 0);
  }

  /** This header with the manifest position filled in. */
  public ImageFileHeader complete(long manifestOffset, int manifestLength) {
    return new ImageFileHeader(
        version,
        flags,
        headerLength,
        imageId,
        logicalSize,
        chunkSize,
        chunkCount,
        manifestOffset,
        manifestLength);
  }

  /** Whether the manifest position has been filled in, i.e. the writer finished. */
  public boolean isComplete() {
    return manifestOffset != 0;
  }

  /** Appends the {@link #LENGTH} header bytes (big-endian). */
  public void encode(ByteBuf out) {
    int start = out.writerIndex();
    out.writeLong(MAGIC); // magic "CLONECI1"
    out.writeShort(version); // version
    out.writeShort(flags); // flags
    out.writeInt(headerLength); // header length
    out.writeLong(imageId.getMostSignificantBits()); // image id, 16 bytes
    out.writeLong(imageId.getLeastSignificantBits());
    out.writeLong(logicalSize); // logical size
    out.writeInt(chunkSize); // chunk size
    out.writeInt(chunkCount); // chunk count
    out.writeLong(manifestOffset); // manifest offset (written last)
    out.writeInt(manifestLength); // manifest length (written last)
    out.writeZero(LENGTH - (out.writerIndex() - start)); // reserved, zero
  }

  /** Appends the twelve bytes found at {@link #MANIFEST_FIELDS_OFFSET}. */
  public void encodeManifestFields(ByteBuf out) {
    out.writeLong(manifestOffset);
    out.writeInt(manifestLength);
  }

  /**
   * Reads the {@link #LENGTH} header bytes at the reader index. A longer {@code headerLength} (a
   * later version's extra fields) is accepted: callers find the first chunk there. Throws {@link
   * MalformedImageException} with "not a clonecast image (bad magic)" for files that are something
   * else.
   */
  public static ImageFileHeader decode(ByteBuf in) {
    int start = in.readerIndex();
    if (in.readableBytes() < Long.BYTES || in.getLong(start) != MAGIC) {
      throw new MalformedImageException("not a clonecast image (bad magic)");
    }
    if (in.readableBytes() < LENGTH) {
      throw new MalformedImageException(
          "image header truncated: " + in.readableBytes() + " bytes, want " + LENGTH);
    }
    in.skipBytes(Long.BYTES);
    int version =
        FormatVersion.read(in, "image format version", "image header flags", MIN_VERSION, VERSION);
    long headerLength = in.readUnsignedInt();
    UUID id = new UUID(in.readLong(), in.readLong());
    long logicalSize = in.readLong();
    int chunkSize = in.readInt();
    long chunkCount = in.readUnsignedInt();
    long manifestOffset = in.readLong();
    long manifestLength = in.readUnsignedInt();
    in.skipBytes(LENGTH - (in.readerIndex() - start)); // reserved
    if (headerLength < LENGTH || headerLength > Integer.MAX_VALUE) {
      throw new MalformedImageException(
          "image header length " + headerLength + " is less than " + LENGTH + " or too large");
    }
    if (chunkCount > Integer.MAX_VALUE || manifestLength > Integer.MAX_VALUE) {
      throw new MalformedImageException(
          "image header: chunk count "
              + chunkCount
              + " or manifest length "
              + manifestLength
              + " too large");
    }
    try {
      return new ImageFileHeader(
          version,
          0, // flags: FormatVersion.read refuses any set
          (int) headerLength,
          id,
          logicalSize,
          chunkSize,
          (int) chunkCount,
          manifestOffset,
          (int) manifestLength);
    } catch (IllegalArgumentException e) {
      throw new MalformedImageException("image header: " + e.getMessage());
    }
  }
}

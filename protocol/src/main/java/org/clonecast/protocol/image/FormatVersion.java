package org.clonecast.protocol.image;

import io.netty.buffer.ByteBuf;

/**
 * The version and flags fields that the image file header and the manifest both start with
 * (docs/image-format.md): a version this build reads, then 16 flag bits that no version defines
 * yet.
 */
final class FormatVersion {
  private FormatVersion() {}

  /**
   * Reads the version (unsigned 16 bits) and the flags (unsigned 16 bits) at the reader index and
   * returns the version.
   *
   * @param versionName what the version is, as messages name it ("image format version")
   * @param flagsName what the flags are, as messages name them ("image header flags")
   * @throws MalformedImageException for a version outside {@code [min, max]} or a flag set
   */
  static int read(ByteBuf in, String versionName, String flagsName, int min, int max) {
    int version = in.readUnsignedShort();
    if (version < min || version > max) {
      throw new MalformedImageException(
          versionName
              + " "
              + version
              + " unsupported (this build reads versions "
              + min
              + " to "
              + max
              + ")");
    }
    int flags = in.readUnsignedShort();
    if (flags != 0) {
      throw new MalformedImageException(
          String.format("%s 0x%04x unknown (version %d defines none)", flagsName, flags, version));
    }
    return version;
  }
}

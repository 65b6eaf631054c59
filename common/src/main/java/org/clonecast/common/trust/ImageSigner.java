package org.clonecast.common.trust;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.clonecast.common.image.ImageReader;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.ManifestSignature;

/**
 * Signs a {@code .cci} in place: the manifest is written again at its offset followed by the
 * signature block, and the header's manifest length grows to cover both (docs/image-format.md,
 * "Signature block"). A signature already there is replaced (key rotation). Readers of builds
 * before signatures stop at the manifest's CRC and read the file as before.
 *
 * <p>Not for a file others read meanwhile: the daemon signs before it publishes an image, and
 * re-signs under its store's lock.
 */
public final class ImageSigner {
  private ImageSigner() {}

  /**
   * Signs {@code cci} with {@code key}; returns the signature.
   *
   * @throws MalformedImageException when {@code cci} is not a usable image (from {@link
   *     ImageReader#open})
   */
  public static ManifestSignature sign(Path cci, ImageKey key) throws IOException {
    long offset;
    byte[] bytes;
    ManifestSignature sig;
    try (ImageReader r = ImageReader.open(cci)) {
      offset = r.header().manifestOffset();
      sig = key.sign(r.manifest());
      bytes = ManifestSignature.encodeSigned(r.manifest(), Optional.of(sig));
    }
    try (FileChannel ch = FileChannel.open(cci, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b, offset + b.position());
      }
      ch.truncate(offset + bytes.length);
      ch.force(true);
      ByteBuffer len = ByteBuffer.allocate(4).putInt(0, bytes.length);
      while (len.hasRemaining()) {
        ch.write(len, ImageFileHeader.MANIFEST_FIELDS_OFFSET + 8 + len.position());
      }
      ch.force(true);
    }
    return sig;
  }
}

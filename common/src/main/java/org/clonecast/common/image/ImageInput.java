package org.clonecast.common.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import org.clonecast.protocol.image.ImageFileHeader;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;

/**
 * Decides whether a file given to {@code send} or {@code image add} is a {@code .cci} image or a
 * raw disk. A raw disk is taken only when the caller asks for it or when nothing about the file
 * says "image": a {@code .cci} whose header is damaged must be refused, never sent or stored as the
 * disk it is not (the receiver would write the container's bytes and report success).
 *
 * <p>Stateless and thread-safe.
 */
public final class ImageInput {
  /** How a file is to be read. */
  public enum Kind {
    IMAGE,
    RAW
  }

  /** A damaged magic differs from the real one in at most this many of its 8 bytes. */
  private static final int MAX_MAGIC_DAMAGE = 2;

  private ImageInput() {}

  /**
   * Classifies {@code path}.
   *
   * @param raw the operator asked for raw input ({@code --raw}): taken as it is
   * @throws MalformedImageException when the file looks like a damaged {@code .cci}: named {@code
   *     *.cci}, a magic off by a byte or two, or header fields that point at a manifest ("CCMF")
   * @throws IOException when it cannot be read
   */
  public static Kind classify(Path path, boolean raw) throws IOException {
    if (raw) return Kind.RAW;
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer head =
          ByteBuffer.allocate((int) Math.min(ImageFileHeader.LENGTH, Math.max(0, size)));
      while (head.hasRemaining() && ch.read(head) > 0) {
        // read the header
      }
      head.flip();
      long magic = head.remaining() >= Long.BYTES ? head.getLong(0) : 0;
      if (magic == ImageFileHeader.MAGIC) return Kind.IMAGE;
      String why = damage(ch, head, magic, size);
      if (why == null
          && path.getFileName() != null
          && path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".cci")) {
        why = "it is named .cci but does not start with the .cci magic \"CLONECI1\"";
      }
      if (why != null) {
        throw new MalformedImageException(
            path
                + ": refusing to read it as a raw disk: "
                + why
                + "; the image is damaged (recreate or re-copy it), or pass --raw if it really is a raw disk");
      }
      return Kind.RAW;
    }
  }

  /** What marks the file as a damaged image, or null when nothing does. */
  private static String damage(FileChannel ch, ByteBuffer head, long magic, long size)
      throws IOException {
    if (head.remaining() >= Long.BYTES) {
      int differ = 0;
      StringBuilder at = new StringBuilder();
      for (int i = 0; i < Long.BYTES; i++) {
        int shift = 56 - 8 * i;
        if (((magic >>> shift) & 0xFF) != ((ImageFileHeader.MAGIC >>> shift) & 0xFF)) {
          differ++;
          at.append(at.length() == 0 ? "" : ", ").append(i);
        }
      }
      if (differ <= MAX_MAGIC_DAMAGE) {
        return "its first 8 bytes are the .cci magic \"CLONECI1\" with "
            + differ
            + " damaged byte(s) (offset "
            + at
            + ")";
      }
    }
    if (head.remaining() >= ImageFileHeader.LENGTH) {
      // The manifest fields at their place in a header, read whatever the magic says.
      long offset = head.getLong(ImageFileHeader.MANIFEST_FIELDS_OFFSET);
      long length =
          Integer.toUnsignedLong(head.getInt(ImageFileHeader.MANIFEST_FIELDS_OFFSET + Long.BYTES));
      if (offset >= ImageFileHeader.LENGTH && length >= Integer.BYTES && offset <= size - length) {
        ByteBuffer m = ByteBuffer.allocate(Integer.BYTES);
        while (m.hasRemaining() && ch.read(m, offset + m.position()) > 0) {
          // read the manifest's magic
        }
        if (!m.hasRemaining() && m.flip().getInt(0) == Manifest.MAGIC) {
          return "its header's manifest fields point at a .cci manifest (\"CCMF\" at offset "
              + offset
              + ") but its magic is "
              + String.format("0x%016x", magic);
        }
      }
    }
    return null;
  }
}

package org.clonecast.agent.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.image.UsedBlocks;

/**
 * The file or block device an image is written to. Opening checks that it can take the image: a
 * block device must be at least as large as the image and carry no mounted filesystem; a regular
 * file's filesystem must have room for the image's used, non-zero bytes. Writes are positional and
 * thread-safe, so several workers write different chunks at once; {@link #writeUsed} writes only a
 * chunk's used blocks and leaves the rest of the target as it was.
 */
public final class Target implements AutoCloseable {
  private final Path path;
  private final FileChannel channel;
  private final boolean blockDevice;
  private final long size;

  /** False for a regular file created or emptied by {@link #open}: it holds nothing to check. */
  private final boolean holdsData;

  /**
   * The image's size; for a smaller device, writes past {@link #size} are dropped (see {@link
   * #writeUsed}).
   */
  private final long imageSize;

  private Target(
      Path path,
      FileChannel channel,
      boolean blockDevice,
      long size,
      boolean holdsData,
      long imageSize) {
    this.path = path;
    this.channel = channel;
    this.blockDevice = blockDevice;
    this.size = size;
    this.holdsData = holdsData;
    this.imageSize = imageSize;
  }

  /**
   * Bytes at the image's end that may be dropped on a smaller disk: a GPT backup (header and 128
   * entries), which is moved.
   */
  public static final long GPT_BACKUP_BYTES = 33 * 512;

  /**
   * Opens {@code path} for an image of {@code logicalSize} bytes of which {@code dataBytes} are
   * written: used and not known zeros ({@link org.clonecast.protocol.image.Manifest#dataBytes()}).
   * A regular file is created or truncated, then extended to the image size, so zero chunks and
   * unused blocks need no writes (they read back as zeros, as holes where the filesystem allows).
   *
   * @throws TargetException naming the problem and what to do about it
   */
  public static Target open(Path path, long logicalSize, long dataBytes) throws TargetException {
    return open(path, logicalSize, dataBytes, false);
  }

  /**
   * As {@link #open(Path, long, long)}; with {@code keep}, an existing regular file keeps its bytes
   * (cut or sparsely extended to the image size), so a delta receive can check what it already
   * holds ({@link TargetCheck}) and write only the rest. A block device always keeps them.
   */
  public static Target open(Path path, long logicalSize, long dataBytes, boolean keep)
      throws TargetException {
    return open(path, logicalSize, dataBytes, keep, false);
  }

  /**
   * As {@link #open(Path, long, long, boolean)}; with {@code smallerDevice}, a block device smaller
   * than the image is opened too: the caller decides from the image's partition table whether what
   * the image holds fits ({@link DiskFit}) before it writes anything.
   */
  public static Target open(
      Path path, long logicalSize, long dataBytes, boolean keep, boolean smallerDevice)
      throws TargetException {
    boolean device = Files.exists(path) && !Files.isRegularFile(path) && !Files.isDirectory(path);
    if (Files.isDirectory(path))
      throw new TargetException(
          path + " is a directory; give a file or a block device as --output");
    try {
      if (device) {
        long devSize = BlockDevices.size(path);
        if (devSize < logicalSize && !smallerDevice) {
          throw new TargetException(tooSmall(path, devSize, logicalSize));
        }
        List<String> mounted = BlockDevices.mountedParts(path);
        if (!mounted.isEmpty()) {
          throw new TargetException(
              "target "
                  + path
                  + " has mounted filesystems ("
                  + String.join(", ", mounted)
                  + "); unmount them first");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.READ);
        return new Target(path, ch, true, devSize, true, logicalSize);
      }
      Path parent = path.toAbsolutePath().getParent();
      if (parent != null && !Files.isDirectory(parent)) {
        throw new TargetException(
            "directory " + parent + " does not exist; create it or choose another --output");
      }
      Optional<String> noRoom = fileRoom(path, dataBytes);
      if (noRoom.isPresent()) {
        throw new TargetException(noRoom.get());
      }
      boolean holds = keep && Files.isRegularFile(path) && Files.size(path) > 0;
      FileChannel ch =
          holds
              ? FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.READ)
              : FileChannel.open(
                  path,
                  StandardOpenOption.CREATE,
                  StandardOpenOption.WRITE,
                  StandardOpenOption.READ,
                  StandardOpenOption.TRUNCATE_EXISTING);
      if (ch.size() > logicalSize) ch.truncate(logicalSize);
      if (logicalSize > 0 && ch.size() < logicalSize) {
        ch.write(
            ByteBuffer.wrap(new byte[1]), logicalSize - 1); // extend sparsely to the image size
      }
      return new Target(path, ch, false, logicalSize, holds, logicalSize);
    } catch (TargetException e) {
      throw e;
    } catch (NoSuchFileException e) {
      throw new TargetException("cannot open " + path + ": no such file or directory");
    } catch (IOException e) {
      throw new TargetException("cannot open " + path + ": " + e.getMessage());
    }
  }

  /**
   * Whether an image of {@code bytes} fits, for when its size becomes known only after opening (a
   * udpcast sender announces it, if at all, after the connection).
   *
   * @return empty if it fits, else what is wrong and what to do about it
   */
  public Optional<String> roomFor(long bytes) throws IOException {
    if (blockDevice) {
      return size < bytes ? Optional.of(tooSmall(path, size, bytes)) : Optional.empty();
    }
    return fileRoom(path, bytes);
  }

  private static String tooSmall(Path path, long have, long need) {
    return "target " + path + " is too small: " + have + " bytes, the image needs " + need;
  }

  /**
   * Whether the filesystem of {@code path} has {@code bytes} free, counting what the file holds
   * now.
   */
  private static Optional<String> fileRoom(Path path, long bytes) throws IOException {
    Path parent = path.toAbsolutePath().getParent();
    FileStore store = Files.getFileStore(parent == null ? path.toAbsolutePath() : parent);
    long existing = Files.exists(path) ? Files.size(path) : 0;
    long usable = store.getUsableSpace() + existing;
    if (usable < bytes) {
      return Optional.of(
          "not enough space for "
              + path
              + ": the image needs "
              + bytes
              + " bytes, "
              + usable
              + " are free on "
              + store
              + "; free some space or write elsewhere");
    }
    return Optional.empty();
  }

  public Path path() {
    return path;
  }

  public boolean blockDevice() {
    return blockDevice;
  }

  public long size() {
    return size;
  }

  /**
   * Whether it may hold some of the image already: a block device, or a regular file opened with
   * keep that had bytes.
   */
  public boolean holdsData() {
    return holdsData;
  }

  /** Writes {@code len} bytes of {@code data} at {@code offset}. Thread-safe. */
  public void write(long offset, byte[] data, int len) throws IOException {
    ChannelIo.writeFully(channel, ByteBuffer.wrap(data, 0, len), offset);
  }

  /**
   * Writes the used blocks of a chunk whose {@code len} logical bytes are {@code data[0 .. len)}
   * and which starts at {@code offset}; unused blocks are not touched. Thread-safe.
   *
   * @return the bytes written
   */
  public long writeUsed(long offset, byte[] data, int len, UsedBlocks used) throws IOException {
    long[] n = {0};
    used.forEachRun(
        len,
        (off, fullLength) -> {
          int runLength = fullLength;
          if (offset + off + fullLength > size) {
            // A device smaller than the image: what lies past its end must be nothing the image
            // holds
            // but zeros or its GPT backup (moved to the real end afterwards, GptBackup).
            runLength = (int) Math.max(0, size - offset - off);
            for (int i = off + runLength; i < off + fullLength; i++) {
              if (data[i] != 0 && offset + i < imageSize - GPT_BACKUP_BYTES) {
                throw new IOException(
                    "the image holds data at byte "
                        + (offset + i)
                        + ", past the end of "
                        + path
                        + " ("
                        + size
                        + " bytes)");
              }
            }
          }
          ChannelIo.writeFully(channel, ByteBuffer.wrap(data, off, runLength), offset + off);
          n[0] += runLength;
        });
    return n[0];
  }

  /** Reads back {@code len} bytes at {@code offset} into {@code out}. Thread-safe. */
  public void read(long offset, byte[] out, int len) throws IOException {
    read(offset, out, 0, len);
  }

  /** Reads {@code len} bytes at {@code offset} into {@code out[off ..]}. Thread-safe. */
  public void read(long offset, byte[] out, int off, int len) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(out, off, len);
    long pos = offset;
    while (b.hasRemaining()) {
      int n = channel.read(b, pos);
      if (n < 0) throw new IOException("unexpected end of " + path + " at " + pos);
      pos += n;
    }
  }

  /** Flushes data and metadata to stable storage. */
  public void sync() throws IOException {
    channel.force(true);
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}

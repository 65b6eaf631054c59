package org.clonecast.common.image;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An output file written under {@code NAME.partial} and renamed to {@code NAME} only when complete,
 * so nothing half-written ever carries the final name. {@link #close()} without {@link #commit()}
 * deletes the partial file.
 *
 * <p>Not thread-safe as an object; its {@link #channel()} may be written from several threads with
 * positional writes.
 */
final class PartialFile implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PartialFile.class);

  private final Path target;
  private final Path partial;
  private final RandomAccessFile file;
  private final FileChannel channel;
  private boolean committed;

  private PartialFile(Path target, Path partial, RandomAccessFile file) {
    this.target = target;
    this.partial = partial;
    this.file = file;
    this.channel = file.getChannel();
  }

  /**
   * Starts writing {@code target}: refuses when it exists unless {@code replace}; an old {@code
   * .partial} (left by a killed run) is overwritten.
   */
  static PartialFile create(Path target, boolean replace) throws IOException {
    if (!replace && Files.exists(target)) {
      throw new FileAlreadyExistsException(target.toString());
    }
    Path partial = partialName(target);
    // Opening with the channel API first gives NoSuchFile/AccessDenied exceptions with paths.
    FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE).close();
    RandomAccessFile file = new RandomAccessFile(partial.toFile(), "rw");
    try {
      file.setLength(0);
    } catch (IOException e) {
      file.close();
      Files.deleteIfExists(partial);
      throw e;
    }
    return new PartialFile(target, partial, file);
  }

  /** {@code NAME.partial} beside {@code target}. */
  static Path partialName(Path target) {
    return target.resolveSibling(target.getFileName() + ".partial");
  }

  FileChannel channel() {
    return channel;
  }

  Path partialPath() {
    return partial;
  }

  /** Sets the file length; growing it leaves a hole, as ftruncate(2) does. */
  void setLength(long length) throws IOException {
    file.setLength(length);
  }

  /** Flushes data and metadata to disk, renames to the final name and syncs the directory. */
  void commit() throws IOException {
    channel.force(true);
    file.close();
    // rename(2) is atomic and replaces an existing target (only reached with replace=true or
    // when the target appeared meanwhile, which the existence check above cannot prevent).
    Files.move(
        partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    committed = true;
    syncDirectory(target.toAbsolutePath().getParent());
  }

  private static void syncDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // Some file systems refuse fsync on directories; the rename itself has happened.
      log.debug("image: fsync of directory {} failed: {}", dir, e.toString());
    }
  }

  @Override
  public void close() throws IOException {
    if (committed) {
      return;
    }
    try {
      file.close();
    } finally {
      Files.deleteIfExists(partial);
    }
  }
}

package org.clonecast.common.image;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import org.clonecast.protocol.image.Manifest;

/**
 * A {@link ChunkSource} backed by one open file or device read with positional reads. Thread-safe:
 * the fields are final and {@link FileChannel} positional reads are concurrent.
 */
abstract class FileChunkSource implements ChunkSource {
  protected final Path path;
  protected final FileChannel channel;
  protected final Manifest manifest;

  FileChunkSource(Path path, FileChannel channel, Manifest manifest) {
    this.path = path;
    this.channel = channel;
    this.manifest = manifest;
  }

  /** The file or device the chunks come from. */
  public Path path() {
    return path;
  }

  @Override
  public Manifest manifest() {
    return manifest;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}

package org.clonecast.server.store;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The daemon's disk is full: a final answer (HTTP 507), since retrying the same write cannot help
 * until an operator frees space. The message names the file, its filesystem and what to do.
 */
public final class InsufficientStorageException extends IOException {
  private static final long serialVersionUID = 1L;

  public InsufficientStorageException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * {@code e} as an InsufficientStorageException naming {@code file} when it is the kernel's ENOSPC
   * ("No space left on device", what the JDK reports for it); else {@code e} itself.
   */
  public static IOException ifFull(IOException e, Path file) {
    if (e instanceof InsufficientStorageException
        || e.getMessage() == null
        || !e.getMessage().toLowerCase(Locale.ROOT).contains("no space left on device")) {
      return e;
    }
    Path dir = file.toAbsolutePath().getParent();
    String where = dir.toString();
    try {
      FileStore fs = Files.getFileStore(dir);
      where += " (" + fs.name() + ", " + fs.getUsableSpace() / (1024 * 1024) + " MiB free)";
    } catch (IOException | RuntimeException ignored) {
      // The directory alone still says where.
    }
    return new InsufficientStorageException(
        "the daemon's disk is full: writing "
            + file.getFileName()
            + " in "
            + where
            + " failed (no space left on device); free space there, or move the image store to a larger disk, and capture"
            + " again",
        e);
  }
}

package org.clonecast.server.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ProgressBar;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.image.ImageReader;
import org.clonecast.common.image.ProgressListener;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.server.store.ChunkPool;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.PooledImage;

/**
 * Turns what the image code throws into operator messages that name the problem and the fix.
 * Stateless and thread-safe.
 */
final class ImageCliErrors {
  private ImageCliErrors() {}

  /**
   * Keeps library INFO lines (meant for the daemon's log) off the terminal of an interactive image
   * command, which prints its own summary; an explicit setting wins. Call before any image class
   * logs.
   */
  static void quietLogs() {
    String key = "org.slf4j.simpleLogger.defaultLogLevel";
    if (System.getProperty(key) == null) {
      System.setProperty(key, "warn");
    }
  }

  /**
   * Opens an image named on the command line: a {@code .cci}, or an image in a daemon's store by
   * its manifest file ({@code STATE/images/NAME.ccm}, its chunks in the {@code chunks} pool beside
   * it); problems become operator errors.
   */
  static ChunkSource openImage(Path image) {
    quietLogs();
    requireReadable(image, "image");
    try {
      if (image.getFileName().toString().endsWith(ImageStore.MANIFEST_SUFFIX)) {
        return PooledImage.open(image, new ChunkPool(ImageStore.poolOf(image)));
      }
      return ImageReader.open(image);
    } catch (MalformedImageException e) {
      String fix =
          String.valueOf(e.getMessage()).contains("bad magic")
              ? "; give an image made by 'clonecast image create'"
              : "; create the image again with 'clonecast image create'";
      throw new CliException(ExitCodes.ENVIRONMENT, e.getMessage() + fix, e);
    } catch (IOException e) {
      throw io(e, null);
    }
  }

  /** Checks an input path before any work starts. */
  static void requireReadable(Path p, String what) {
    if (!Files.exists(p)) {
      throw new CliException(ExitCodes.ENVIRONMENT, what + " " + p + " not found; check the path");
    }
    if (Files.isDirectory(p)) {
      throw new CliException(
          ExitCodes.ENVIRONMENT, what + " " + p + " is a directory; give a file or a block device");
    }
    if (!Files.isReadable(p)) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "cannot read "
              + what
              + " "
              + p
              + ": permission denied; run as root or fix its permissions");
    }
  }

  /** Checks an output path: its directory exists, and it does not unless {@code force}. */
  static void requireWritableTarget(Path out, boolean force) {
    Path dir = out.toAbsolutePath().getParent();
    if (dir != null && !Files.isDirectory(dir)) {
      throw new CliException(
          ExitCodes.ENVIRONMENT, "directory " + dir + " does not exist; create it first");
    }
    if (Files.isDirectory(out)) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "output " + out + " is a directory; give a file name such as " + out.resolve("disk.cci"));
    }
    if (!force && Files.exists(out)) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "output " + out + " exists; use --force to replace it, or choose another name");
    }
  }

  /** An I/O failure while working on {@code out} (may be null) as an operator error. */
  static CliException io(IOException e, Path out) {
    String msg = String.valueOf(e.getMessage());
    if (msg.contains("No space left on device")) {
      return new CliException(
          ExitCodes.ENVIRONMENT,
          "no space left on device writing "
              + (out == null ? "output" : out)
              + "; free some space or write elsewhere (the partial output was removed)",
          e);
    }
    if (e instanceof FileAlreadyExistsException f) {
      return new CliException(
          ExitCodes.ENVIRONMENT,
          "output " + f.getFile() + " exists; use --force to replace it, or choose another name",
          e);
    }
    if (e instanceof NoSuchFileException f) {
      return new CliException(ExitCodes.ENVIRONMENT, f.getFile() + " not found; check the path", e);
    }
    if (e instanceof AccessDeniedException f) {
      return new CliException(
          ExitCodes.ENVIRONMENT,
          "permission denied: " + f.getFile() + "; run as root or fix its permissions",
          e);
    }
    if (e instanceof FileSystemException f && f.getReason() != null) {
      return new CliException(ExitCodes.ENVIRONMENT, f.getFile() + ": " + f.getReason(), e);
    }
    return new CliException(ExitCodes.ENVIRONMENT, "I/O error: " + msg, e);
  }

  /** Work that decodes chunks and reports progress. */
  @FunctionalInterface
  interface Decoding<T> {
    T run(ProgressListener progress) throws IOException;
  }

  /**
   * Runs {@code work} over the chunks of {@code image} with a progress bar labelled {@code label};
   * a bad chunk or an inconsistent image is a {@link ExitCodes#FAILED} naming the chunk.
   */
  static <T> T decoding(Path image, Manifest m, String label, Decoding<T> work) throws IOException {
    ProgressBar bar = ProgressBar.forTerminal(label, m.logicalSize());
    try {
      return work.run(bar::update);
    } catch (ChunkVerificationException e) {
      throw badChunk(image, m, e);
    } catch (MalformedImageException e) {
      throw new CliException(ExitCodes.FAILED, image + ": " + e.getMessage(), e);
    } finally {
      bar.finish();
    }
  }

  /** A bad chunk: "IMG: chunk 17 (offset 17825792): sha256 mismatch: want …, got …". */
  static CliException badChunk(Path image, Manifest m, ChunkVerificationException e) {
    int i = e.chunkIndex();
    String where = i < m.chunkCount() ? " (offset " + m.logicalOffset(i) + ")" : "";
    return new CliException(
        ExitCodes.FAILED, image + ": chunk " + i + where + ": " + e.problem(), e);
  }
}

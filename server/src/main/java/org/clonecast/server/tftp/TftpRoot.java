package org.clonecast.server.tftp;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpError;

/**
 * The directory the TFTP server serves, and the only way to open a file in it. A requested name is
 * made relative (leading '/' stripped, so "/etc/passwd" means root/etc/passwd), '\' counts as a
 * separator (Windows-style loaders send it), "." and empty segments are dropped, and any ".."
 * segment is refused outright. The result's real path (symlinks resolved) must lie inside the
 * root's real path: a symlink within the root is fine, one that leads out is refused. The final
 * component is opened without following links, so a link swapped in after the check is not followed
 * either.
 *
 * <p>Immutable; thread-safe.
 */
public final class TftpRoot {
  private final Path real;

  /** What a lookup found: an open file, or the ERROR to answer with. */
  public sealed interface Lookup permits Found, Refused {}

  /**
   * An open file; the caller closes {@code channel}.
   *
   * @param path its real path
   * @param size its size when opened
   */
  public record Found(Path path, FileChannel channel, long size) implements Lookup {}

  /**
   * @param error the ERROR for the client (its message never shows paths outside the request)
   */
  public record Refused(TftpError error) implements Lookup {}

  /**
   * @throws IOException when {@code dir} does not exist or cannot be resolved
   */
  public TftpRoot(Path dir) throws IOException {
    this.real = dir.toRealPath();
    if (!Files.isDirectory(real)) {
      throw new IOException("TFTP root " + dir + " is not a directory");
    }
  }

  /**
   * @return the root's real path
   */
  public Path path() {
    return real;
  }

  /** Sanitises {@code requested} and opens it for reading; never throws for a bad name. */
  public Lookup open(String requested) {
    Path p = real;
    int segments = 0;
    for (String seg : requested.replace('\\', '/').split("/")) {
      if (seg.isEmpty() || seg.equals(".")) {
        continue;
      }
      if (seg.equals("..")) {
        return refused(Tftp.ERR_ACCESS_VIOLATION, requested + ": '..' is not allowed");
      }
      p = p.resolve(seg);
      segments++;
    }
    if (segments == 0) {
      return refused(Tftp.ERR_FILE_NOT_FOUND, requested + ": no file name");
    }
    Path target;
    try {
      target = p.toRealPath();
    } catch (NoSuchFileException e) {
      return refused(Tftp.ERR_FILE_NOT_FOUND, requested + ": file not found");
    } catch (AccessDeniedException e) {
      return refused(Tftp.ERR_ACCESS_VIOLATION, requested + ": access denied");
    } catch (IOException e) {
      return refused(Tftp.ERR_FILE_NOT_FOUND, requested + ": cannot be resolved");
    }
    if (!target.startsWith(real)) {
      return refused(Tftp.ERR_ACCESS_VIOLATION, requested + ": outside the TFTP root");
    }
    if (!Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
      return refused(Tftp.ERR_ACCESS_VIOLATION, requested + ": not a regular file");
    }
    try {
      FileChannel ch = FileChannel.open(target, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
      try {
        return new Found(target, ch, ch.size());
      } catch (IOException e) {
        ch.close();
        throw e;
      }
    } catch (AccessDeniedException e) {
      return refused(Tftp.ERR_ACCESS_VIOLATION, requested + ": access denied");
    } catch (IOException e) {
      return refused(Tftp.ERR_FILE_NOT_FOUND, requested + ": cannot be opened");
    }
  }

  private static Refused refused(int code, String message) {
    return new Refused(new TftpError(code, message));
  }
}

package org.clonecast.server.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.clonecast.protocol.image.Sha256;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The image store's chunks, content-addressed: {@code <pool>/<2 hex>/<64 hex>} is named by the
 * SHA-256 of a chunk's logical bytes (the digest its manifest entries carry) and holds its stored
 * bytes: one zstd frame, or the raw bytes when they are as long as the chunk. Every image whose
 * chunk has that content shares the one file (docs/image-format.md, "The store's chunk pool").
 *
 * <p>Crash safety rests on two orders. A chunk is written to a temporary name, fsync'd, renamed and
 * its directory fsync'd ({@link Hold#sync}) before any manifest that references it is written.
 * {@link #sweep} deletes only chunks that no manifest the caller names and no {@link Hold}
 * references, and it asks for the manifests' digests while holding the pool's lock, so a writer
 * that publishes its manifest and then closes its hold can never lose a chunk in between. A crash
 * can therefore leave only unreferenced chunks (collected by the next sweep) and temporary files
 * ({@link #removeTemporaries}), never a manifest that names a missing chunk.
 *
 * <p>Thread-safe.
 */
public final class ChunkPool {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkPool.class);
  private static final Pattern CHUNK_NAME = Pattern.compile("[0-9a-f]{64}");
  private static final String TEMPORARY = ".tmp";

  private final Path dir;
  private final AtomicLong temporaries = new AtomicLong();

  /** Digests held by open {@link Hold}s, with how many hold each; guarded by itself. */
  private final Map<Sha256, Integer> held = new HashMap<>();

  public ChunkPool(Path dir) {
    this.dir = dir;
  }

  /** The pool's directory. */
  public Path dir() {
    return dir;
  }

  /** Where the chunk whose logical bytes have digest {@code sha256} lives. */
  public Path path(Sha256 sha256) {
    String hex = sha256.hex();
    return dir.resolve(hex.substring(0, 2)).resolve(hex);
  }

  /** Whether the pool holds the chunk; its length, or -1 when it does not. */
  public long length(Sha256 sha256) throws IOException {
    try {
      return Files.size(path(sha256));
    } catch (NoSuchFileException e) {
      return -1;
    }
  }

  /**
   * Reads the stored bytes of chunk {@code sha256} into {@code dst}, which must have room for
   * exactly {@code length} bytes.
   *
   * @throws IOException naming the chunk when it is missing or not {@code length} bytes long
   */
  public void read(Sha256 sha256, int length, ByteBuffer dst) throws IOException {
    Path p = path(sha256);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      if (ch.size() != length) {
        throw new IOException(
            "chunk pool: " + p + " is " + ch.size() + " bytes, its manifest says " + length);
      }
      int end = dst.position() + length;
      long pos = 0;
      while (dst.position() < end) {
        int n = ch.read(dst, pos);
        if (n < 0) {
          throw new IOException("chunk pool: " + p + " ended at " + pos + " of " + length);
        }
        pos += n;
      }
    } catch (NoSuchFileException e) {
      throw new IOException("chunk pool: chunk " + sha256.hex() + " is missing (" + p + ")", e);
    }
  }

  /** A new hold: what it puts or holds is never swept until it is closed. */
  public Hold hold() {
    return new Hold();
  }

  /**
   * Deletes every chunk that neither {@code live} (evaluated under the pool's lock: the digests of
   * every published manifest) nor an open hold references.
   *
   * @return the chunks deleted and their bytes
   */
  public long[] sweep(Supplier<Set<Sha256>> live) throws IOException {
    long files = 0;
    long bytes = 0;
    synchronized (held) {
      Set<Sha256> keep = live.get();
      if (!Files.isDirectory(dir)) {
        return new long[] {0, 0};
      }
      try (DirectoryStream<Path> fans = Files.newDirectoryStream(dir)) {
        for (Path fan : fans) {
          if (!Files.isDirectory(fan)) {
            continue;
          }
          try (DirectoryStream<Path> chunks = Files.newDirectoryStream(fan)) {
            for (Path c : chunks) {
              String name = c.getFileName().toString();
              if (!CHUNK_NAME.matcher(name).matches()) {
                continue;
              }
              Sha256 d = Sha256.ofHex(name);
              if (keep.contains(d) || held.containsKey(d)) {
                continue;
              }
              long size = Files.size(c);
              Files.delete(c);
              files++;
              bytes += size;
            }
          }
        }
      }
    }
    return new long[] {files, bytes};
  }

  /**
   * Writes {@code data} to {@code tmp}, fsyncs it and renames it over {@code target}: {@code
   * target} then holds its old bytes or the new ones, whole. The caller syncs the directory.
   */
  static void replace(Path target, Path tmp, ByteBuffer data) throws IOException {
    try {
      try (FileChannel ch =
          FileChannel.open(
              tmp,
              StandardOpenOption.CREATE,
              StandardOpenOption.TRUNCATE_EXISTING,
              StandardOpenOption.WRITE)) {
        while (data.hasRemaining()) {
          ch.write(data);
        }
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Makes the renames in directory {@code d} durable. */
  static void syncDirectory(Path d) {
    try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some file systems refuse fsync on directories; the renames themselves have happened.
      LOG.debug("chunk pool: fsync of directory {} failed: {}", d, e.toString());
    }
  }

  /** After a restart: deletes what writers killed mid-chunk left. */
  public void removeTemporaries() throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (DirectoryStream<Path> fans = Files.newDirectoryStream(dir)) {
      for (Path fan : fans) {
        if (Files.isDirectory(fan)) {
          try (DirectoryStream<Path> ds = Files.newDirectoryStream(fan, "*" + TEMPORARY + "*")) {
            for (Path t : ds) {
              Files.deleteIfExists(t);
            }
          }
        }
      }
    }
  }

  /** Reads a chunk's stored bytes when the pool needs them. */
  @FunctionalInterface
  public interface StoredBytes {
    /** The stored bytes, position to limit. */
    ByteBuffer read() throws IOException;
  }

  /**
   * Chunks a writer puts, or a reader sends, kept from {@link #sweep} until {@link #close()}. A
   * writer closes its hold only after its manifest is published. Thread-safe.
   */
  public final class Hold implements AutoCloseable {
    private final Set<Sha256> mine = new HashSet<>();
    private final Set<Path> dirty = new HashSet<>();

    /** Chunks {@link #stage} wrote, not yet counted by {@link #put}. */
    private final Set<Sha256> staged = new HashSet<>();

    private long written;
    private long reused;
    private boolean closed;

    private Hold() {}

    /** Keeps these chunks (a reader's) from the sweep. */
    public void holdAll(Collection<Sha256> digests) {
      for (Sha256 d : digests) {
        hold(d);
      }
    }

    private void hold(Sha256 d) {
      synchronized (held) {
        if (closed) {
          throw new IllegalStateException("hold closed");
        }
        if (mine.add(d)) {
          held.merge(d, 1, Integer::sum);
        }
      }
    }

    /**
     * The length of what the pool holds of chunk {@code sha256} when it is a usable copy (a zstd
     * frame shorter than the chunk, or the raw chunk), else -1.
     */
    private long usable(Sha256 sha256, int logicalLength) throws IOException {
      long have = length(sha256);
      return have > 0 && have <= logicalLength ? have : -1;
    }

    /**
     * Writes chunk {@code sha256} ahead of the {@link #put} that will name it, unless the pool
     * holds it: as {@link #put}, but not counted as written or reused until that put, which then
     * finds it and reads nothing. A network capture stages each chunk as it arrives, so that
     * publishing the image does not copy its chunks into the pool after the upload
     * (docs/capture.md).
     */
    public void stage(Sha256 sha256, int logicalLength, ByteBuffer stored) throws IOException {
      hold(sha256);
      if (usable(sha256, logicalLength) >= 0) {
        return;
      }
      write(sha256, stored);
      synchronized (held) {
        staged.add(sha256);
      }
    }

    /**
     * As {@link #stage}, but written even when the pool holds the chunk: for a writer that found
     * the pool's copy damaged (its bytes do not decode to its digest). The rename replaces it
     * whole.
     */
    public void restage(Sha256 sha256, ByteBuffer stored) throws IOException {
      hold(sha256);
      write(sha256, stored);
      synchronized (held) {
        staged.add(sha256);
      }
    }

    /**
     * As {@link #put}, reading the stored bytes only when the pool does not hold the chunk yet.
     *
     * @param stored reads the chunk's stored bytes
     */
    public int put(Sha256 sha256, int logicalLength, StoredBytes stored) throws IOException {
      hold(sha256);
      long have = usable(sha256, logicalLength);
      if (have > 0) {
        synchronized (held) {
          // The first put after a stage counts what the stage wrote; any other found it there.
          if (staged.remove(sha256)) {
            written += have;
          } else {
            reused += have;
          }
        }
        return (int) have;
      }
      ByteBuffer b = stored.read();
      int length = b.remaining();
      write(sha256, b);
      synchronized (held) {
        staged.remove(sha256);
        written += length;
      }
      return length;
    }

    /** Writes {@code stored} as chunk {@code sha256} (a wrong length, damage, is replaced). */
    private void write(Sha256 sha256, ByteBuffer stored) throws IOException {
      Path p = path(sha256);
      Files.createDirectories(p.getParent());
      // Before the rename: whoever sees the chunk (a put racing a stage) finds its directory in
      // the set the next sync makes durable.
      synchronized (held) {
        dirty.add(p.getParent());
      }
      // rename(2) is atomic.
      replace(
          p,
          p.resolveSibling(p.getFileName() + TEMPORARY + "." + temporaries.incrementAndGet()),
          stored.duplicate());
    }

    /**
     * Makes the pool hold chunk {@code sha256} whose logical bytes are {@code logicalLength} long:
     * when it holds one already (stored by whichever image came first, or by this hold's {@link
     * #stage}) that is kept, else {@code stored} (position to limit, not consumed) is written.
     *
     * @return the length of what the pool holds: {@code logicalLength} means raw, less a zstd frame
     */
    public int put(Sha256 sha256, int logicalLength, ByteBuffer stored) throws IOException {
      return put(sha256, logicalLength, stored::duplicate);
    }

    /**
     * Makes the renames of every chunk put so far durable: call before writing a manifest that
     * references them.
     */
    public void sync() {
      Set<Path> dirs;
      synchronized (held) {
        dirs = new HashSet<>(dirty);
        dirty.clear();
      }
      for (Path d : dirs) {
        syncDirectory(d);
      }
    }

    /** Bytes this hold wrote to the pool. */
    public long written() {
      synchronized (held) {
        return written;
      }
    }

    /** Bytes this hold found in the pool already. */
    public long reused() {
      synchronized (held) {
        return reused;
      }
    }

    @Override
    public void close() {
      synchronized (held) {
        if (closed) {
          return;
        }
        closed = true;
        for (Sha256 d : mine) {
          held.computeIfPresent(d, (k, n) -> n == 1 ? null : n - 1);
        }
      }
    }
  }
}

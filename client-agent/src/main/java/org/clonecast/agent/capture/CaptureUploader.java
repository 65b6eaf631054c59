package org.clonecast.agent.capture;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.agent.report.ServerClient;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.CaptureFinished;
import org.clonecast.common.api.CaptureHeld;
import org.clonecast.common.image.ChunkScanner;
import org.clonecast.common.image.SourceDevice;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.EncodedChunk;
import org.clonecast.protocol.image.Manifest;

/**
 * Captures a disk to the server: opens it read-only (it is never written), reads and compresses
 * its chunks on every core with the image pipeline ({@link ChunkScanner}, at most a few chunks in
 * memory), and uploads each stored chunk as it comes, in index order, skipping those the server
 * already holds. A dropped connection, a 5xx or a server restart is retried with a growing pause,
 * then {@code begin} says where the server stands and the upload goes on; only {@link
 * Settings#stallLimit} without any progress fails the capture. At the end the manifest goes to the
 * server, which publishes the image.
 *
 * <p>Stored offsets are those {@code clonecast image create} gives (the header, then the stored
 * chunks in index order), which the server's upload has too; the manifest says so.
 *
 * <p>One run per instance; not thread-safe.
 */
public final class CaptureUploader {
  /** Longest pause between two attempts. */
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(20);
  /** Times the scan may start over because the server lost chunks it had acknowledged. */
  private static final int MAX_RESCANS = 3;

  /**
   * What to capture.
   *
   * @param allocation which bytes of the disk the image carries; its size must be the disk's
   * @param stallLimit how long the upload may go without progress before it fails
   */
  public record Settings(Assignment.Capture assignment, String mac, Path disk, AllocationMap allocation, int threads,
      Duration stallLimit) {
    public Settings {
      Objects.requireNonNull(assignment, "assignment");
      Objects.requireNonNull(mac, "mac");
      Objects.requireNonNull(disk, "disk");
      Objects.requireNonNull(allocation, "allocation");
      Objects.requireNonNull(stallLimit, "stallLimit");
    }
  }

  /**
   * How it went.
   *
   * @param uploaded chunks sent and stored by the server
   * @param held chunks the server already held (not sent)
   * @param duplicates chunks sent that the server already held (an answer lost on the way back)
   * @param retries attempts that failed and were retried
   * @param server the server's figures of the published image
   */
  public record Result(Manifest manifest, int uploaded, int held, int duplicates, int retries, CaptureFinished server, long nanos) {}

  /** The server holds fewer chunks than it acknowledged: the scan starts over, skipping what it holds. */
  private static final class Rescan extends IOException {
    private static final long serialVersionUID = 1L;

    Rescan(String message) {
      super(message);
    }
  }

  private final ServerClient api;
  private final Settings s;
  private final long id;
  private final AtomicLong done = new AtomicLong();
  private CaptureHeld held;
  private long lastProgress;
  private int uploaded;
  private int skipped;
  private int duplicates;
  private int retries;
  private int lastSent = -1;

  public CaptureUploader(ServerClient api, Settings settings) {
    this.api = Objects.requireNonNull(api);
    this.s = Objects.requireNonNull(settings);
    this.id = settings.assignment().capture();
  }

  /** Runs the capture to the end. */
  public Result run() throws IOException, InterruptedException {
    long start = System.nanoTime();
    Assignment.Capture a = s.assignment();
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "capture-progress");
      t.setDaemon(true);
      return t;
    });
    // READ only: the golden disk is never written, not even by accident.
    try (FileChannel in = FileChannel.open(s.disk(), StandardOpenOption.READ)) {
      long size = SourceDevice.size(s.disk(), in);
      if (s.allocation().diskSize() != size) {
        throw new IOException("the allocation map is for " + s.allocation().diskSize() + " bytes, " + s.disk() + " has " + size);
      }
      lastProgress = System.nanoTime();
      held = retrying("begin", () -> api.captureBegin(id, s.mac(), size, a.chunkSize()));
      ticker.scheduleWithFixedDelay(() -> {
        try {
          api.captureProgress(id, s.mac(), done.get(), size);
        } catch (IOException e) {
          // Progress is best effort; the upload itself notices a server that is gone.
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, 1, 1, TimeUnit.SECONDS);
      Manifest m = null;
      for (int scan = 0; m == null; scan++) {
        try {
          m = ChunkScanner.scan(s.disk(), in, size, s.allocation(), a.imageId(), a.chunkSize(), a.level(), s.threads(), done::set,
              this::store);
        } catch (Rescan e) {
          if (scan + 1 >= MAX_RESCANS) {
            throw new IOException("the server keeps losing chunks it stored: " + e.getMessage(), e);
          }
          lastSent = -1;
        }
      }
      ticker.shutdownNow();
      ByteBuf buf = Unpooled.buffer(m.encodedLength());
      byte[] encoded;
      try {
        m.encode(buf);
        encoded = new byte[buf.readableBytes()];
        buf.readBytes(encoded);
      } finally {
        buf.release();
      }
      CaptureFinished server = retrying("finish", () -> api.captureFinish(id, s.mac(), encoded));
      return new Result(m, uploaded, skipped, duplicates, retries, server, System.nanoTime() - start);
    } finally {
      ticker.shutdownNow();
    }
  }

  /**
   * The scanner's sink: a stored chunk goes to the server unless it holds it already; ZERO and
   * UNUSED chunks store nothing and live in the manifest alone.
   */
  private void store(ChunkEntry entry, EncodedChunk chunk) throws IOException {
    if (!entry.kind().isStored()) {
      return;
    }
    int index = entry.index();
    if (index <= held.heldThrough()) {
      if (index > lastSent) {
        skipped++;
      }
      return;
    }
    try {
      boolean dup = retrying("chunk " + index, () -> {
        if (index <= held.heldThrough()) {
          return Boolean.TRUE; // a begin between two attempts said it arrived after all
        }
        return api.capturePut(id, s.mac(), index, chunk, entry.used().bitmap());
      });
      if (dup) {
        duplicates++;
      } else {
        uploaded++;
      }
      lastSent = index;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while uploading chunk " + index);
    }
  }

  /** One call to the server. */
  private interface Call<T> {
    T call() throws IOException, InterruptedException;
  }

  /**
   * Runs {@code c} until it succeeds. A refusal (4xx) ends the capture, except 409 and 413, which
   * a server that restarted without this upload in memory answers: then {@code begin} again and
   * retry. Anything else (connection refused or dropped, timeout, 5xx) is retried after a pause
   * growing to {@link #MAX_BACKOFF}, with a {@code begin} in between, until {@link
   * Settings#stallLimit} passed without progress.
   */
  private <T> T retrying(String what, Call<T> c) throws IOException, InterruptedException {
    long pause = 500;
    int resyncs = 0;
    while (true) {
      try {
        T t = c.call();
        lastProgress = System.nanoTime();
        return t;
      } catch (ServerClient.RefusedException e) {
        if ((e.status() != 409 && e.status() != 413) || ++resyncs > 3 || what.equals("begin")) {
          throw e;
        }
        retries++;
        resync(what);
      } catch (IOException e) {
        if (e instanceof Rescan) {
          throw e;
        }
        retries++;
        long stalled = System.nanoTime() - lastProgress;
        if (stalled > s.stallLimit().toNanos()) {
          throw new IOException(what + ": no progress for " + Duration.ofNanos(stalled).toSeconds() + " s, giving up: "
              + e.getMessage(), e);
        }
        System.err.println("clonecast-agent: capture " + what + " failed (" + (e.getMessage() == null ? e : e.getMessage())
            + "); retrying in " + pause + " ms");
        Thread.sleep(pause);
        pause = Math.min(2 * pause, MAX_BACKOFF.toMillis());
        if (!what.equals("begin")) {
          try {
            resync(what);
          } catch (Rescan | ServerClient.RefusedException lostOrRefused) {
            throw lostOrRefused;
          } catch (IOException stillDown) {
            // The server is not back yet; the next attempt waits longer.
          }
        }
      }
    }
  }

  /** Asks the server where it stands; a server that lost acknowledged chunks makes the scan start over. */
  private void resync(String what) throws IOException, InterruptedException {
    CaptureHeld now = api.captureBegin(id, s.mac(), s.allocation().diskSize(), s.assignment().chunkSize());
    if (now.heldThrough() < lastSent) {
      held = now;
      throw new Rescan("after " + what + " the server holds chunks up to " + now.heldThrough() + ", but chunk " + lastSent
          + " was stored");
    }
    held = now;
  }
}

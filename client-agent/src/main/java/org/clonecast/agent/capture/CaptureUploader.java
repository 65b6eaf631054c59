package org.clonecast.agent.capture;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.agent.report.ServerClient;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.CaptureFinished;
import org.clonecast.common.api.CaptureHeld;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.common.image.ChunkScanner;
import org.clonecast.common.image.SourceDevice;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.EncodedChunk;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;

/**
 * Captures a disk to the server: opens it read-only (it is never written), reads and compresses its
 * chunks on every core with the image pipeline ({@link ChunkScanner}, at most a few chunks in
 * memory), and uploads each stored chunk as it comes, in index order, skipping those the server
 * already holds. Up to {@link #IN_FLIGHT} chunks are in flight at once, each naming the stored
 * chunk it follows so that the server appends them in order whichever arrives first; a chunk stays
 * in memory until the server says it holds it. One request at a time left the node's cores and the
 * server waiting for each other's turn (docs/benchmarks.md, "Capture").
 *
 * <p>A dropped connection, a 5xx or a server restart is retried with a growing pause: the chunks in
 * flight are waited for, {@code begin} says where the server stands, the chunks it does not hold
 * are sent again one at a time, and the upload goes on; only {@link Settings#stallLimit} without
 * any progress fails the capture. A refusal (4xx) ends it, and so does a full disk on the server
 * (507), at once. At the end the manifest goes to the server, which publishes the image.
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
   * Chunk uploads in flight at once (the server lets up to 16 wait for their predecessor). With 4,
   * the agent waited for answers while the daemon was idle most of the upload (the timers of
   * docs/benchmarks.md, "Capture"): each chunk's round trip (the body through both kernels, the
   * daemon's event loop and request thread, the answer back, each a thread to wake on busy cores)
   * is longer than the daemon's work on it, so more round trips must overlap.
   */
  public static final int IN_FLIGHT = 8;

  /**
   * Chunks kept until the server holds them: those running and those answered out of order behind
   * an older one still running. At most one fewer than that waits on the server for its
   * predecessor, within the 16 it lets wait ({@code CaptureManager.WAITING}).
   */
  static final int WINDOW = 16;

  /**
   * Chunks the read and compression threads may run ahead of the upload. With the scanner's default
   * (two per thread: 4 on a node's single core) they stopped whenever the uploads waited for
   * answers, and the uploads then waited for them: both waits showed in the timers, each about half
   * the upload's time (docs/benchmarks.md, "Capture"). 1 MiB each.
   */
  static final int AHEAD = 16;

  /**
   * What to capture.
   *
   * @param allocation which bytes of the disk the image carries; its size must be the disk's
   * @param stallLimit how long the upload may go without progress before it fails
   */
  public record Settings(
      Assignment.Capture assignment,
      String mac,
      Path disk,
      AllocationMap allocation,
      int threads,
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
   * @param uploadedBytes their stored bytes: what went over the network
   * @param referenced chunks sent as references to the server's pool (no bytes), which it took from
   *     there, checked
   * @param referencedBytes their stored bytes here, which did not go over the network
   * @param referencesRefused references the server's pool could not serve, sent again as bytes
   * @param held chunks the server already held (not sent)
   * @param duplicates chunks sent that the server already held (an answer lost on the way back)
   * @param retries attempts that failed and were retried
   * @param server the server's figures of the published image
   */
  public record Result(
      Manifest manifest,
      int uploaded,
      long uploadedBytes,
      int referenced,
      long referencedBytes,
      int referencesRefused,
      int held,
      int duplicates,
      int retries,
      CaptureFinished server,
      long nanos,
      Times times) {}

  /**
   * Where the capture's time went, in nanoseconds, for the summary an operator reads.
   *
   * @param begin the first {@code begin} (the server opens the upload)
   * @param scan reading, compressing and uploading, until the server held every chunk
   * @param waitingForChunks of {@code scan}: waiting for the next chunk to be read and compressed
   * @param waitingForServer of {@code scan}: waiting for the server's answers with {@link
   *     #IN_FLIGHT} chunks in flight, and for the last ones at the end
   * @param finish the manifest sent until the server published the image
   */
  public record Times(
      long begin, long scan, long waitingForChunks, long waitingForServer, long finish) {
    /**
     * e.g. "begin 0.1 s, upload 5.2 s (waiting for chunks 1.2 s, for the server 3.0 s), finish 0.1
     * s".
     */
    public String summary() {
      return String.format(
          Locale.ROOT,
          "begin %.1f s, upload %.1f s (waiting for chunks %.1f s, for the server %.1f s),"
              + " finish %.1f s",
          begin / 1e9,
          scan / 1e9,
          waitingForChunks / 1e9,
          waitingForServer / 1e9,
          finish / 1e9);
    }
  }

  /**
   * The server holds fewer chunks than it acknowledged: the scan starts over, skipping what it
   * holds.
   */
  private static final class Rescan extends IOException {
    private static final long serialVersionUID = 1L;

    Rescan(String message) {
      super(message);
    }
  }

  /** A stored chunk sent to the server and not yet known to be held by it. */
  private static final class Sent {
    final ChunkEntry entry;
    final EncodedChunk chunk;

    /** The stored chunk it follows, -1 for the first. */
    final int after;

    /** The answer to the request in flight; null once it is taken. */
    CompletableFuture<ServerClient.ChunkAnswer> answer;

    /** Whether an answer to it was counted (a chunk sent again is counted once). */
    boolean counted;

    /**
     * Whether it goes as a reference (its digest is among the pooled ones): no bytes, the server
     * takes it from its pool; false once the server said its pool lacks it.
     */
    boolean reference;

    Sent(ChunkEntry entry, EncodedChunk chunk, int after) {
      this.entry = entry;
      this.chunk = chunk;
      this.after = after;
    }

    int index() {
      return entry.index();
    }
  }

  private final ServerClient api;
  private final Settings s;
  private final long id;
  private final AtomicLong done = new AtomicLong();
  private CaptureHeld held;
  private long lastProgress;
  private int uploaded;
  private long uploadedBytes;
  private int referenced;
  private long referencedBytes;
  private int referencesRefused;
  private int skipped;
  private int duplicates;
  private int retries;

  /** Nanoseconds the scan's thread spent in {@link #store}, and waiting for answers. */
  private long inSink;

  private long waitingForServer;

  /** The highest chunk index the server said it holds whose chunk is no longer kept here. */
  private int lastSent = -1;

  /** The highest chunk index the server said it holds, in any answer since the last begin. */
  private int heldNow = -1;

  /** The index of the last stored chunk the scan gave, -1 before the first. */
  private int lastStored = -1;

  /**
   * Chunks sent and not yet known held, in index order; the first ones' answers are taken first.
   */
  private final ArrayDeque<Sent> window = new ArrayDeque<>();

  /** The digests of the chunks the server's pool holds of the image this capture updates. */
  private final Set<Sha256> pooled = new HashSet<>();

  public CaptureUploader(ServerClient api, Settings settings) {
    this.api = Objects.requireNonNull(api);
    this.s = Objects.requireNonNull(settings);
    this.id = settings.assignment().capture();
    for (byte[] d : settings.assignment().pooledDigests()) {
      pooled.add(Sha256.of(d));
    }
  }

  /** Runs the capture to the end. */
  public Result run() throws IOException, InterruptedException {
    long start = System.nanoTime();
    Assignment.Capture a = s.assignment();
    ScheduledExecutorService ticker =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("capture-progress"));
    // READ only: the golden disk is never written, not even by accident.
    try (FileChannel in = FileChannel.open(s.disk(), StandardOpenOption.READ)) {
      long size = SourceDevice.size(s.disk(), in);
      if (s.allocation().diskSize() != size) {
        throw new IOException(
            "the allocation map is for "
                + s.allocation().diskSize()
                + " bytes, "
                + s.disk()
                + " has "
                + size);
      }
      lastProgress = System.nanoTime();
      long t = lastProgress;
      held =
          retrying(
              "begin", () -> api.captureBegin(id, s.mac(), size, a.chunkSize(), hashOfChunks()));
      long begin = System.nanoTime() - t;
      long scanStart = System.nanoTime();
      long scanning = 0; // inside ChunkScanner.scan
      heldNow = held.heldThrough();
      ticker.scheduleWithFixedDelay(
          () -> {
            try {
              api.captureProgress(id, s.mac(), done.get(), size);
            } catch (IOException e) {
              // Progress is best effort; the upload itself notices a server that is gone.
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          },
          1,
          1,
          TimeUnit.SECONDS);
      Manifest m = null;
      for (int scan = 0; m == null; scan++) {
        t = System.nanoTime();
        try {
          lastStored = -1;
          Manifest result =
              ChunkScanner.scan(
                  s.disk(),
                  in,
                  size,
                  s.allocation(),
                  a.imageId(),
                  a.chunkSize(),
                  a.level(),
                  s.threads(),
                  AHEAD,
                  done::set,
                  this::store);
          scanning += System.nanoTime() - t;
          drain();
          m = result;
        } catch (Rescan e) {
          if (scan + 1 >= MAX_RESCANS) {
            throw new IOException("the server keeps losing chunks it stored: " + e.getMessage(), e);
          }
          window.clear();
          lastSent = -1;
        }
      }
      long scan = System.nanoTime() - scanStart;
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
      t = System.nanoTime();
      CaptureFinished server = retrying("finish", () -> api.captureFinish(id, s.mac(), encoded));
      long finish = System.nanoTime() - t;
      return new Result(
          m,
          uploaded,
          uploadedBytes,
          referenced,
          referencedBytes,
          referencesRefused,
          skipped,
          duplicates,
          retries,
          server,
          System.nanoTime() - start,
          new Times(begin, scan, scanning - inSink, waitingForServer, finish));
    } finally {
      ticker.shutdownNow();
    }
  }

  /**
   * The scanner's sink: a stored chunk goes to the server unless it holds it already; ZERO and
   * UNUSED chunks store nothing and live in the manifest alone. Returns once fewer than {@link
   * #IN_FLIGHT} chunks are in flight.
   */
  private void store(ChunkEntry entry, EncodedChunk chunk) throws IOException {
    if (!entry.kind().isStored()) {
      return;
    }
    long t = System.nanoTime();
    try {
      send(entry, chunk);
    } finally {
      inSink += System.nanoTime() - t;
    }
  }

  private void send(ChunkEntry entry, EncodedChunk chunk) throws IOException {
    int index = entry.index();
    int after = lastStored;
    lastStored = index;
    if (index <= held.heldThrough()) {
      if (index > lastSent) {
        skipped++;
      }
      return;
    }
    Sent sent = new Sent(entry, chunk, after);
    sent.reference = pooled.contains(entry.sha256());
    window.add(sent);
    sent.answer = put(sent);
    long t = System.nanoTime();
    makeRoom();
    waitingForServer += System.nanoTime() - t;
  }

  /**
   * Returns once fewer than {@link #IN_FLIGHT} uploads are running and fewer than {@link #WINDOW}
   * chunks are kept, taking the answers that are in, in index order, on the way. An upload that
   * ends before an older one frees its connection at once: waiting for the oldest answer alone left
   * the other connections idle whenever one request was slow (behind another chunk on the daemon's
   * request thread, or a thread not yet woken on a busy core).
   */
  private void makeRoom() throws IOException {
    while (true) {
      Sent oldest = oldestDue();
      if (oldest != null && oldest.answer.isDone()) {
        settleOldest();
        continue;
      }
      List<CompletableFuture<ServerClient.ChunkAnswer>> running = new ArrayList<>();
      for (Sent x : window) {
        if (x.answer != null && !x.answer.isDone()) {
          running.add(x.answer);
        }
      }
      if (running.size() < IN_FLIGHT && window.size() < WINDOW) {
        return;
      }
      if (window.size() >= WINDOW) {
        settleOldest();
        continue;
      }
      try {
        // Whichever ends first; a failure is taken, in order, by settleOldest.
        CompletableFuture.anyOf(running.toArray(CompletableFuture[]::new))
            .handle((x, e) -> null)
            .get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for the server");
      } catch (ExecutionException e) {
        throw new IllegalStateException("handled futures do not fail", e);
      }
    }
  }

  /** The oldest chunk whose answer has not been taken, or null. */
  private Sent oldestDue() {
    for (Sent x : window) {
      if (x.answer != null) {
        return x;
      }
    }
    return null;
  }

  private CompletableFuture<ServerClient.ChunkAnswer> put(Sent sent) {
    return api.capturePut(
        id,
        s.mac(),
        sent.index(),
        sent.after,
        sent.chunk,
        sent.entry.used().bitmap(),
        sent.reference);
  }

  /** Takes every answer still due and makes sure the server holds every chunk sent. */
  private void drain() throws IOException {
    long t = System.nanoTime();
    try {
      while (!window.isEmpty()) {
        settleOldest();
      }
    } finally {
      waitingForServer += System.nanoTime() - t;
    }
  }

  /**
   * Takes the oldest answer still due and lets go of the chunks the server holds. A failure is
   * recovered from here ({@link #recover}); a chunk the server answered but does not hold once
   * every answer before it is in (a server that restarted and lost it) is sent again the same way.
   */
  private void settleOldest() throws IOException {
    Sent oldest = oldestDue();
    try {
      if (oldest != null) {
        CompletableFuture<ServerClient.ChunkAnswer> f = oldest.answer;
        oldest.answer = null;
        taken(oldest, await(f));
      }
      Sent first = window.peekFirst();
      if (first != null && first.answer == null && first.index() > heldNow) {
        throw new IOException(
            "the server holds chunks up to " + heldNow + " after answering chunk " + first.index());
      }
    } catch (IOException e) {
      recover(e);
    }
  }

  /**
   * Counts an answer to {@code sent} and lets go of the chunks the server holds. A reference the
   * server's pool could not serve is sent again at once with its bytes (its answer is then due).
   */
  private void taken(Sent sent, ServerClient.ChunkAnswer a) {
    lastProgress = System.nanoTime();
    if (!a.stored()) {
      if (!sent.reference) {
        throw new IllegalStateException("the server stored nothing of chunk " + sent.index());
      }
      sent.reference = false;
      referencesRefused++;
      sent.answer = put(sent);
      return;
    }
    if (!sent.counted) {
      sent.counted = true;
      if (a.duplicate()) {
        duplicates++;
      } else if (sent.reference) {
        referenced++;
        referencedBytes += sent.chunk.storedLength();
      } else {
        uploaded++;
        uploadedBytes += sent.chunk.storedLength();
      }
    }
    heldNow = Math.max(heldNow, a.heldThrough());
    while (!window.isEmpty()
        && window.peekFirst().answer == null
        && window.peekFirst().index() <= heldNow) {
      lastSent = Math.max(lastSent, window.removeFirst().index());
    }
  }

  /**
   * After a failed chunk upload: waits for the others in flight, then (unless the failure is final)
   * sends every chunk the server does not hold again, one at a time, each retried as {@link
   * #retrying} says; a server that lost chunks this agent no longer keeps makes the scan start
   * over.
   */
  private void recover(IOException failure) throws IOException {
    for (Sent x : window) {
      if (x.answer != null) {
        try {
          await(x.answer);
        } catch (IOException ignored) {
          // Sent again below if the server does not hold it.
        }
        x.answer = null;
      }
    }
    String what = "chunk " + (window.isEmpty() ? "upload" : window.peekFirst().index());
    try {
      failed(what, failure, new Backoff());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while uploading " + what);
    }
    while (!window.isEmpty()) {
      Sent x = window.peekFirst();
      try {
        ServerClient.ChunkAnswer a =
            retrying(
                "chunk " + x.index(),
                () -> {
                  if (x.index() <= held.heldThrough()) {
                    return new ServerClient.ChunkAnswer(
                        true, held.heldThrough()); // a begin between two attempts: it arrived
                  }
                  ServerClient.ChunkAnswer got = await(put(x));
                  if (!got.stored() && x.reference) {
                    // The pool lacks it: its bytes, now.
                    x.reference = false;
                    referencesRefused++;
                    got = await(put(x));
                  }
                  return got;
                });
        taken(x, a);
        if (!window.isEmpty() && window.peekFirst() == x) {
          throw new IOException(
              "the server holds chunks up to "
                  + heldNow
                  + " after chunk "
                  + x.index()
                  + " was stored");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while uploading chunk " + x.index());
      }
    }
  }

  private static <T> T await(CompletableFuture<T> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the server");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      throw new IOException(c);
    }
  }

  /** One call to the server. */
  private interface Call<T> {
    T call() throws IOException, InterruptedException;
  }

  /** How often and how long a call has been retried. */
  private static final class Backoff {
    long pause = 500;
    int resyncs;
  }

  /**
   * Runs {@code c} until it succeeds. A refusal (4xx, or 507: the server's disk is full) ends the
   * capture, except 409 and 413, which a server that restarted without this upload in memory
   * answers: then {@code begin} again and retry. Anything else (connection refused or dropped,
   * timeout, 5xx) is retried after a pause growing to {@link #MAX_BACKOFF}, with a {@code begin} in
   * between, until {@link Settings#stallLimit} passed without progress.
   */
  private <T> T retrying(String what, Call<T> c) throws IOException, InterruptedException {
    Backoff b = new Backoff();
    while (true) {
      try {
        T t = c.call();
        lastProgress = System.nanoTime();
        return t;
      } catch (IOException e) {
        failed(what, e, b);
      }
    }
  }

  /**
   * After {@code what} failed with {@code e}: rethrows it when it is final, else pauses as {@link
   * #retrying} says.
   */
  private void failed(String what, IOException e, Backoff b)
      throws IOException, InterruptedException {
    if (e instanceof ServerClient.RefusedException r) {
      if ((r.status() != 409 && r.status() != 413) || ++b.resyncs > 3 || what.equals("begin")) {
        throw e;
      }
      retries++;
      resync(what);
      return;
    }
    if (e instanceof Rescan) {
      throw e;
    }
    retries++;
    long stalled = System.nanoTime() - lastProgress;
    if (stalled > s.stallLimit().toNanos()) {
      throw new IOException(
          what
              + ": no progress for "
              + Duration.ofNanos(stalled).toSeconds()
              + " s, giving up: "
              + e.getMessage(),
          e);
    }
    System.err.println(
        "clonecast-agent: capture "
            + what
            + " failed ("
            + (e.getMessage() == null ? e : e.getMessage())
            + "); retrying in "
            + b.pause
            + " ms");
    Thread.sleep(b.pause);
    b.pause = Math.min(2 * b.pause, MAX_BACKOFF.toMillis());
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

  /**
   * Whether the scan's manifest will be of version 3, which the server is told at {@code begin}.
   */
  private boolean hashOfChunks() {
    return ChunkScanner.hashesChunkDigests(s.allocation());
  }

  /**
   * Asks the server where it stands; a server that lost acknowledged chunks makes the scan start
   * over.
   */
  private void resync(String what) throws IOException, InterruptedException {
    CaptureHeld now =
        api.captureBegin(
            id, s.mac(), s.allocation().diskSize(), s.assignment().chunkSize(), hashOfChunks());
    if (now.heldThrough() < lastSent) {
      held = now;
      throw new Rescan(
          "after "
              + what
              + " the server holds chunks up to "
              + now.heldThrough()
              + ", but chunk "
              + lastSent
              + " was stored");
    }
    held = now;
    heldNow = now.heldThrough();
    while (!window.isEmpty()
        && window.peekFirst().answer == null
        && window.peekFirst().index() <= heldNow) {
      lastSent = Math.max(lastSent, window.removeFirst().index());
    }
  }
}

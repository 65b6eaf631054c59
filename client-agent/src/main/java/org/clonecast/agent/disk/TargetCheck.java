package org.clonecast.agent.disk;

import java.io.IOException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.ChunkKind;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.image.UsedBlocks;

/**
 * What a target already holds of an image: every chunk the image carries is read from the target
 * (only its used blocks; the unused ones count as zeros, as in the manifest's hash) and its SHA-256
 * compared with the manifest's, on several threads. This is the same check a received chunk passes
 * before it is written, so a chunk found right is as verified as one received: a node's disk is
 * never trusted without hashing it. UNUSED chunks are neither read nor written.
 *
 * <p>Stateless; {@link #run} blocks until the whole target is read.
 */
public final class TargetCheck {
  private TargetCheck() {}

  /**
   * What the check found.
   *
   * @param needed stored chunks whose bytes on the target differ: to receive
   * @param zeros ZERO chunks whose used blocks on the target are not all zeros: to zero-fill
   * @param chunksRight chunks (stored or ZERO) the target already holds
   * @param bytesRight their used bytes
   * @param bytesRead bytes read from the target
   */
  public record Result(
      BitSet needed,
      List<Integer> zeros,
      int chunksRight,
      long bytesRight,
      long bytesRead,
      long nanos) {}

  /**
   * What a target that holds nothing needs: every stored chunk, and no zero-fill (a new file reads
   * as zeros).
   */
  public static Result nothingHeld(Manifest m, boolean zeroFill) {
    BitSet needed = new BitSet();
    List<Integer> zeros = new ArrayList<>();
    for (ChunkEntry e : m.chunks()) {
      if (e.kind().isStored()) needed.set(e.index());
      if (e.kind() == ChunkKind.ZERO && zeroFill) zeros.add(e.index());
    }
    return new Result(needed, zeros, 0, 0, 0, 0);
  }

  /**
   * Reads and hashes every chunk the image carries from {@code target}, on {@code threads} threads.
   */
  public static Result run(Target target, Manifest m, int threads) throws IOException {
    long t0 = System.nanoTime();
    int n = m.chunkCount();
    boolean[] wrong = new boolean[n];
    AtomicInteger next = new AtomicInteger();
    AtomicLong read = new AtomicLong();
    AtomicLong right = new AtomicLong();
    AtomicLong rightBytes = new AtomicLong();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "target-check");
              t.setDaemon(true);
              return t;
            });
    try {
      List<Future<Void>> work = new ArrayList<>();
      for (int w = 0; w < threads; w++) {
        work.add(
            pool.submit(
                () -> {
                  byte[] buf = new byte[m.chunkSize()];
                  MessageDigest md = Sha256.newDigest();
                  // Chunks are taken in index order by all threads at once, so the disk is read
                  // about front to back.
                  for (int c = next.getAndIncrement(); c < n; c = next.getAndIncrement()) {
                    ChunkEntry e = m.chunk(c);
                    if (e.kind() == ChunkKind.UNUSED) continue;
                    int len = m.logicalLength(c);
                    if (m.logicalOffset(c) + len > target.size()) {
                      wrong[c] =
                          true; // past a smaller disk's end: not read; received or zeroed, clipped
                      // at the end
                      continue;
                    }
                    long got = readUsed(target, m.logicalOffset(c), buf, len, e.used());
                    read.addAndGet(got);
                    if (matches(e, buf, len, md)) {
                      right.incrementAndGet();
                      rightBytes.addAndGet(m.usedBytes(c));
                    } else {
                      wrong[c] = true;
                    }
                  }
                  return null;
                }));
      }
      for (Future<Void> f : work) f.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) throw io;
      throw new IOException("checking " + target.path() + ": " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("checking " + target.path() + " interrupted", e);
    } finally {
      pool.shutdownNow();
    }
    BitSet needed = new BitSet();
    List<Integer> zeros = new ArrayList<>();
    for (int c = 0; c < n; c++) {
      if (!wrong[c]) continue;
      if (m.chunk(c).kind() == ChunkKind.ZERO) {
        zeros.add(c);
      } else {
        needed.set(c);
      }
    }
    return new Result(
        needed, zeros, (int) right.get(), rightBytes.get(), read.get(), System.nanoTime() - t0);
  }

  /**
   * Reads the used blocks of a chunk into {@code buf}; its unused blocks become zeros. Returns the
   * bytes read.
   */
  private static long readUsed(Target target, long offset, byte[] buf, int len, UsedBlocks used)
      throws IOException {
    if (used.isAll()) {
      target.read(offset, buf, len);
      return len;
    }
    zero(buf, len);
    long[] n = {0};
    used.forEachRun(
        len,
        (off, runLength) -> {
          target.read(offset + off, buf, off, runLength);
          n[0] += runLength;
        });
    return n[0];
  }

  private static boolean matches(ChunkEntry e, byte[] buf, int len, MessageDigest md) {
    // Zeros are cheaper to recognise than to hash: a blank disk is checked at memory speed.
    if (allZero(buf, len)) return e.sha256().equals(ChunkCodec.zeroHash(len));
    if (e.kind() == ChunkKind.ZERO) return false;
    md.reset();
    md.update(buf, 0, len);
    return Sha256.finish(md).equals(e.sha256());
  }

  private static final byte[] ZEROS = new byte[64 * 1024];

  /**
   * Zeros {@code buf[0, len)} by copying from {@link #ZEROS}: System.arraycopy is native in every
   * tier, where Arrays.fill runs byte by byte until the JIT has compiled it (profiled: a sixth of a
   * fresh agent's check samples, on a filesystem's partly used chunks).
   */
  private static void zero(byte[] buf, int len) {
    for (int i = 0; i < len; i += ZEROS.length) {
      System.arraycopy(ZEROS, 0, buf, i, Math.min(ZEROS.length, len - i));
    }
  }

  /**
   * Runs a check's work on each chunk, the zero test and SHA-256, over {@code chunks} chunks of
   * {@code chunkSize} bytes in memory (no disk), half of them zeros, or until {@code stop} says so
   * (asked between chunks), so that the JIT has compiled that path, SHA-256 with the CPU's SHA
   * instructions, before a check needs it: in a fresh JVM the first 32 MiB hash about six times
   * slower than the rest (docs/benchmarks.md). For an agent with time on its hands, one waiting for
   * its session; on the critical path it costs more than it saves. Returns the chunks done.
   */
  public static int warmUp(int chunks, int chunkSize, BooleanSupplier stop) {
    byte[] buf = new byte[chunkSize];
    MessageDigest md = Sha256.newDigest();
    int done = 0;
    for (; done < chunks && !stop.getAsBoolean(); done++) {
      if (done % 2 == 0) {
        zero(buf, chunkSize);
        allZero(buf, chunkSize);
      } else {
        buf[done % chunkSize] = (byte) (done | 1);
        allZero(buf, chunkSize);
        md.reset();
        md.update(buf, 0, chunkSize);
        Sha256.finish(md);
      }
    }
    return done;
  }

  private static boolean allZero(byte[] b, int len) {
    for (int i = 0; i < len; i += ZEROS.length) {
      int n = Math.min(ZEROS.length, len - i);
      if (Arrays.mismatch(b, i, i + n, ZEROS, 0, n) >= 0) return false;
    }
    return true;
  }
}

package org.clonecast.server.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.server.store.ChunkPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A capture's chunks staged into a real chunk pool while the upload goes on: every chunk offered
 * within the limit lands in the pool, is counted once by the publish's put and read no more; past
 * the limit chunks are left for the publish; a drain's wait is bounded; once handed over or closed
 * nothing more is staged.
 */
class ChunkStagerTest {
  static final int LENGTH = 4096;

  @TempDir Path dir;
  ChunkPool pool;
  ExecutorService writer;
  final AtomicLong pending = new AtomicLong();

  @BeforeEach
  void setUp() {
    pool = new ChunkPool(dir.resolve("chunks"));
    writer = Executors.newFixedThreadPool(2);
  }

  @AfterEach
  void tearDown() throws Exception {
    writer.shutdownNow();
    assertTrue(writer.awaitTermination(10, TimeUnit.SECONDS));
  }

  static List<byte[]> chunks(int n) {
    Random rnd = new Random(12);
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] b = new byte[LENGTH];
      rnd.nextBytes(b);
      out.add(b);
    }
    return out;
  }

  static Sha256 sha(byte[] b) {
    return Sha256.digest(b, 0, b.length);
  }

  @Test
  void everyChunkOfferedIsInThePoolAndThePublishReadsNone() throws Exception {
    List<byte[]> cs = chunks(20);
    ChunkStager s = new ChunkStager(pool.hold(), writer, pending, 1L << 20);
    for (byte[] c : cs) {
      assertTrue(s.offer(sha(c), LENGTH, c));
    }
    assertTrue(s.drain(TimeUnit.SECONDS.toNanos(30)));
    assertEquals(0, pending.get());
    assertEquals(20L * LENGTH, s.stagedBytes());
    assertEquals(0, s.skippedBytes());
    try (ChunkPool.Hold h = s.handOver()) {
      assertFalse(s.offer(sha(cs.get(0)), LENGTH, cs.get(0)), "handed over: no more staging");
      for (byte[] c : cs) {
        assertEquals(LENGTH, pool.length(sha(c)));
        ByteBuffer got = ByteBuffer.allocate(LENGTH);
        pool.read(sha(c), LENGTH, got);
        assertEquals(ByteBuffer.wrap(c), got.flip());
        assertEquals(
            LENGTH,
            h.put(
                sha(c),
                LENGTH,
                () -> {
                  throw new AssertionError("read a staged chunk again");
                }));
      }
      assertEquals(20L * LENGTH, h.written(), "each staged chunk counted once, as new");
      assertEquals(0, h.reused());
    }
  }

  @Test
  void pastTheLimitChunksAreLeftForThePublishAndTheDrainIsBounded() throws Exception {
    ExecutorService one = Executors.newSingleThreadExecutor();
    CountDownLatch release = new CountDownLatch(1);
    try {
      one.execute(
          () -> {
            try {
              release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
      List<byte[]> cs = chunks(5);
      ChunkStager s = new ChunkStager(pool.hold(), one, pending, 3L * LENGTH);
      for (int i = 0; i < 5; i++) {
        assertEquals(i < 3, s.offer(sha(cs.get(i)), LENGTH, cs.get(i)), "chunk " + i);
      }
      assertEquals(2L * LENGTH, s.skippedBytes());
      assertFalse(s.drain(TimeUnit.MILLISECONDS.toNanos(100)), "the writer is stuck: bounded");
      release.countDown();
      assertTrue(s.drain(TimeUnit.SECONDS.toNanos(30)));
      assertEquals(3L * LENGTH, s.stagedBytes());
      for (int i = 0; i < 5; i++) {
        assertEquals(i < 3 ? LENGTH : -1, pool.length(sha(cs.get(i))), "chunk " + i);
      }
      s.close();
      assertThrows(
          IllegalStateException.class,
          () -> s.handOver().put(sha(cs.get(3)), LENGTH, ByteBuffer.wrap(cs.get(3))),
          "closed: its hold is released");
      assertFalse(s.offer(sha(cs.get(4)), LENGTH, cs.get(4)));
    } finally {
      release.countDown();
      one.shutdownNow();
      assertTrue(one.awaitTermination(10, TimeUnit.SECONDS));
    }
  }
}

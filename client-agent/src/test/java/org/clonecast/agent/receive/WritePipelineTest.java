package org.clonecast.agent.receive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.agent.disk.Target;
import org.clonecast.protocol.image.ChunkVerificationException;
import org.clonecast.protocol.image.Sha256;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared receive pipeline on a real file target: one worker writes in order and every outcome
 * comes back on the receiver's loop (here a single thread standing for it), a piece that fails its
 * check, is refused or breaks comes back as that failure, and the sync runs behind the writes.
 */
class WritePipelineTest {
  @TempDir Path dir;
  private final ExecutorService loop = Executors.newSingleThreadExecutor();
  private final List<String> events = new ArrayList<>();
  private volatile Thread loopThread;

  @AfterEach
  void stop() {
    loop.shutdownNow();
  }

  /** A piece writing {@code data} at {@code offset} after {@code decode} ran; logs its outcome. */
  private WritePipeline.Piece<byte[]> piece(
      Target target, String name, long offset, Supplier<byte[]> decode) {
    return new WritePipeline.Piece<>() {
      @Override
      public byte[] decode() {
        return decode.get();
      }

      @Override
      public long write(byte[] data) throws IOException {
        if (data.length == 0) throw new WritePipeline.Refused("does not fit");
        target.write(offset, data, data.length);
        return data.length;
      }

      @Override
      public void written(long bytes) {
        loopThread = Thread.currentThread();
        events.add(name + " written " + bytes);
      }

      @Override
      public void failed(Throwable cause) {
        events.add(name + " failed " + cause.getClass().getSimpleName());
      }
    };
  }

  @Test
  void oneWorkerWritesInOrderAndHandsEveryOutcomeBackOnTheLoop() throws Exception {
    Path out = dir.resolve("out.raw");
    try (Target target = Target.open(out, 0, 0);
        WritePipeline p = new WritePipeline(1, "test-write", loop)) {
      Thread loopsOwn = loop.submit(Thread::currentThread).get();
      for (int i = 0; i < 50; i++) {
        byte[] b = new byte[1000];
        Arrays.fill(b, (byte) i);
        p.submit(piece(target, "s" + i, i * 1000L, () -> b));
      }
      p.submit(
          piece(
              target,
              "bad",
              0,
              () -> {
                throw new ChunkVerificationException(
                    7,
                    "hash mismatch",
                    Sha256.digest(new byte[1], 0, 1),
                    Sha256.digest(new byte[2], 0, 2));
              }));
      p.submit(piece(target, "refused", 0, () -> new byte[0]));
      p.submit(
          piece(
              target,
              "broken",
              0,
              () -> {
                throw new IllegalStateException("rebuild");
              }));
      CompletableFuture<Optional<IOException>> synced = new CompletableFuture<>();
      p.sync(target, synced::complete);
      assertTrue(synced.get(30, TimeUnit.SECONDS).isEmpty());
      loop.submit(() -> {}).get(); // every outcome before the sync's has run
      assertEquals(loopsOwn, loopThread, "outcomes on the loop");
      List<String> want = new ArrayList<>();
      for (int i = 0; i < 50; i++) want.add("s" + i + " written 1000");
      want.add("bad failed ChunkVerificationException");
      want.add("refused failed Refused");
      want.add("broken failed IllegalStateException");
      assertEquals(want, loop.submit(() -> List.copyOf(events)).get());
      assertEquals(50_000, p.bytesWritten());
      assertEquals(0, p.pending());
      byte[] got = Files.readAllBytes(out);
      assertEquals(50_000, got.length);
      for (int i = 0; i < 50; i++) assertEquals((byte) i, got[i * 1000 + 999]);
      assertTrue(p.describeTimes().contains("s from the process's start to the first byte"));
      // The wait for a sender is taken out of the start: the same first byte, one second less
      // (never below zero).
      Matcher m =
          Pattern.compile(
                  "([0-9.]+) s from the process's start to the first byte written"
                      + " \\(([0-9.]+) s without waiting for a sender, ([0-9.]+) CPU s\\)$")
              .matcher(p.describeTimes(1_000_000_000L));
      assertTrue(m.find(), p.describeTimes(1_000_000_000L));
      double total = Double.parseDouble(m.group(1));
      assertEquals(Math.max(0, total - 1), Double.parseDouble(m.group(2)), 0.015);
      assertTrue(Double.parseDouble(m.group(3)) > 0, "this JVM had used CPU by its first write");
    }
  }

  @Test
  void aPieceThatBreaksTheDecoderEndsWithoutKillingItsWorker() throws Exception {
    try (Target target = Target.open(dir.resolve("out.raw"), 0, 0);
        WritePipeline p = new WritePipeline(1, "test-write", loop)) {
      p.submit(
          piece(
              target,
              "linkage",
              0,
              () -> {
                throw new UnsatisfiedLinkError("libzstd-jni gone");
              }));
      byte[] after = {1, 2, 3};
      p.submit(piece(target, "after", 0, () -> after));
      CompletableFuture<Void> drained = new CompletableFuture<>();
      p.drain(() -> drained.complete(null));
      drained.get(30, TimeUnit.SECONDS);
      assertEquals(
          List.of("linkage failed UnsatisfiedLinkError", "after written 3"),
          loop.submit(() -> List.copyOf(events)).get());
      assertArrayEquals(after, Files.readAllBytes(dir.resolve("out.raw")));
    }
  }
}

package org.clonecast.common.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class OrderedPipelineTest {
  @Test
  void resultsArriveInOrderWithBoundedBuffers() throws IOException {
    List<Integer> seen = new ArrayList<>();
    Set<byte[]> buffers =
        Collections.newSetFromMap(Collections.synchronizedMap(new IdentityHashMap<>()));
    OrderedPipeline.run(
        500,
        4,
        16,
        (i, buf) -> {
          buffers.add(buf);
          buf[0] = (byte) i;
          if (i % 7 == 0) {
            Thread.onSpinWait();
          }
          return i;
        },
        (i, buf, r) -> {
          assertEquals((byte) (int) i, buf[0], "buffer still holds its chunk");
          seen.add(r);
        });
    for (int i = 0; i < 500; i++) {
      assertEquals(i, seen.get(i));
    }
    assertTrue(buffers.size() <= 10, "used " + buffers.size() + " buffers");
  }

  @Test
  void workRunsAheadOfAWaitingSinkAsFarAsAsked() throws IOException {
    // The sink of chunk 0 waits until chunk 12 has been worked on: only a window of more than 12
    // chunks lets a single worker get there (the default, two per thread, would leave it waiting).
    CountDownLatch twelfth = new CountDownLatch(1);
    Set<byte[]> buffers =
        Collections.newSetFromMap(Collections.synchronizedMap(new IdentityHashMap<>()));
    List<Integer> seen = new ArrayList<>();
    OrderedPipeline.run(
        40,
        1,
        16,
        8,
        (i, buf) -> {
          buffers.add(buf);
          if (i == 12) {
            twelfth.countDown();
          }
          return i;
        },
        (i, buf, r) -> {
          if (i == 0) {
            try {
              assertTrue(twelfth.await(30, TimeUnit.SECONDS), "the worker did not run ahead");
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new InterruptedIOException();
            }
          }
          seen.add(r);
        });
    assertEquals(40, seen.size());
    assertTrue(buffers.size() <= 17, "used " + buffers.size() + " buffers");
  }

  @Test
  void firstFailureInOrderIsRethrownUnwrapped() {
    IOException boom = new IOException("chunk 5 unreadable");
    AtomicInteger sunk = new AtomicInteger();
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                OrderedPipeline.run(
                    100,
                    3,
                    8,
                    (i, buf) -> {
                      if (i == 5) {
                        throw boom;
                      }
                      if (i == 9) {
                        throw new IllegalStateException("later failure must not win");
                      }
                      return i;
                    },
                    (i, buf, r) -> sunk.incrementAndGet()));
    assertSame(boom, e);
    assertEquals(5, sunk.get());
    assertThrows(
        IllegalStateException.class,
        () ->
            OrderedPipeline.run(
                3,
                2,
                8,
                (i, b) -> i,
                (i, b, r) -> {
                  throw new IllegalStateException("sink");
                }));
  }
}

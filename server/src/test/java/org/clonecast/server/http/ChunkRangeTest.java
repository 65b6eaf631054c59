package org.clonecast.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The unicast fallback's one range: exactly a span inside the chunks, or a clear 400 or 416. */
class ChunkRangeTest {
  static final long START = 4096;
  static final long END = 4096 + (40L << 20);

  @Test
  void aChunkRangeInsideTheRegionIsServed() {
    assertEquals(new ChunkRange.Ok(4096, 1000), ChunkRange.parse("bytes=4096-5095", START, END));
    assertEquals(
        new ChunkRange.Ok(END - 1, 1),
        ChunkRange.parse(" bytes=" + (END - 1) + "-" + (END - 1), START, END));
  }

  @Test
  void hostileRangesAreRefusedNamingWhatIsWanted() {
    for (String h :
        List.of(
            "",
            "bytes=",
            "bytes=5000-",
            "bytes=-500",
            "bytes=5000-4999",
            "bytes=4096-5000,6000-7000",
            "items=4096-5000",
            "bytes=4096-" + (4096 + ChunkRange.MAX_LENGTH),
            "bytes=99999999999999999999-1",
            "bytes=+4096-5000",
            "bytes=0x10-0x20")) {
      ChunkRange r = ChunkRange.parse(h, START, END);
      ChunkRange.Bad bad = assertInstanceOf(ChunkRange.Bad.class, r, h);
      assertTrue(bad.why().contains("want one range 'Range: bytes=FIRST-LAST'"), bad.why());
    }
    assertInstanceOf(ChunkRange.Bad.class, ChunkRange.parse(null, START, END));
    for (String h : List.of("bytes=0-4095", "bytes=4095-5000", "bytes=" + (END - 10) + "-" + END)) {
      assertInstanceOf(ChunkRange.Outside.class, ChunkRange.parse(h, START, END), h);
    }
  }

  @Test
  void noHeaderEverThrowsAndEveryServedRangeLiesInside() {
    Random r = new Random(17);
    String alphabet = "bytes=0123456789-, +";
    for (int i = 0; i < 20_000; i++) {
      char[] c = new char[r.nextInt(40)];
      for (int j = 0; j < c.length; j++) c[j] = alphabet.charAt(r.nextInt(alphabet.length()));
      String h =
          i % 2 == 0
              ? new String(c)
              : "bytes=" + r.nextInt(50_000_000) + "-" + r.nextInt(50_000_000);
      ChunkRange p = ChunkRange.parse(h, START, END);
      if (p instanceof ChunkRange.Ok ok) {
        assertTrue(ok.first() >= START && ok.first() + ok.length() <= END, h + " " + ok);
        assertTrue(
            ok.length() >= 1 && ok.length() <= ChunkRange.MAX_LENGTH, h + " " + Arrays.toString(c));
      }
    }
  }
}

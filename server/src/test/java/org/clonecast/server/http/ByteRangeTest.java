package org.clonecast.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ByteRangeTest {
  private static ByteRange part(String header, long size) {
    return assertInstanceOf(ByteRange.Part.class, ByteRange.parse(Optional.of(header), size))
        .range();
  }

  @Test
  void rangesResolveAgainstTheSize() {
    assertEquals(new ByteRange(0, 99), part("bytes=0-99", 1000));
    assertEquals(new ByteRange(900, 999), part("bytes=900-", 1000));
    assertEquals(new ByteRange(900, 999), part("bytes=-100", 1000));
    assertEquals(new ByteRange(0, 999), part("bytes=-5000", 1000));
    assertEquals(new ByteRange(10, 999), part("bytes=10-5000", 1000));
  }

  @Test
  void outsideTheFileIsUnsatisfiable() {
    assertInstanceOf(
        ByteRange.Unsatisfiable.class, ByteRange.parse(Optional.of("bytes=1000-"), 1000));
    assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.parse(Optional.of("bytes=-0"), 1000));
    assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.parse(Optional.of("bytes=0-"), 0));
  }

  @Test
  void whatWeDoNotHonourGetsTheWholeBody() {
    for (String h :
        new String[] {
          "items=0-1", "bytes=0-1,5-6", "bytes=x-y", "bytes=5-1", "bytes=-", "bytes=7"
        }) {
      assertInstanceOf(ByteRange.Whole.class, ByteRange.parse(Optional.of(h), 1000), h);
    }
    assertInstanceOf(ByteRange.Whole.class, ByteRange.parse(Optional.empty(), 1000));
  }
}

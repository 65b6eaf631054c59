package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ZerosTest {
  /** The constant digests are those of zeros of every chunk size a manifest allows. */
  @Test
  void theKnownDigestsAreThoseOfZerosOfEveryChunkSize() {
    assertEquals(Manifest.MIN_CHUNK_SIZE, Zeros.KNOWN_FROM);
    assertEquals(Manifest.MAX_CHUNK_SIZE, Zeros.KNOWN_FROM << (Zeros.KNOWN.length - 1));
    for (int i = 0; i < Zeros.KNOWN.length; i++) {
      int len = Zeros.KNOWN_FROM << i;
      assertEquals(Zeros.compute(len), Zeros.hash(len), len + " zero bytes");
      assertEquals(Zeros.KNOWN[i], Zeros.hash(len).hex());
    }
    // Other lengths (a short last chunk) are computed.
    assertEquals(Zeros.compute(5000), Zeros.hash(5000));
    assertEquals(Zeros.compute(1), Zeros.hash(1));
  }
}

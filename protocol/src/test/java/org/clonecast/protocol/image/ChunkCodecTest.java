package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class ChunkCodecTest {
  /** Chunk contents of every flavour: zeros, random, text-like, sparse, one odd byte. */
  @Provide
  Arbitrary<byte[]> chunks() {
    return Arbitraries.integers()
        .between(1, 70_000)
        .flatMap(len -> Arbitraries.longs().map(seed -> content(seed, len)));
  }

  static byte[] content(long seed, int len) {
    Random r = new Random(seed);
    byte[] b = new byte[len];
    switch ((int) Math.floorMod(seed, 5L)) {
      case 0 -> {} // zeros
      case 1 -> r.nextBytes(b);
      case 2 -> {
        byte[] text =
            "the quick brown fox jumps over the lazy dog ".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < len; i++) {
          b[i] = text[(i + r.nextInt(3)) % text.length];
        }
      }
      case 3 -> {
        for (int i = 0; i < len / 97; i++) {
          b[r.nextInt(len)] = (byte) r.nextInt();
        }
      }
      default -> b[r.nextInt(len)] = 1;
    }
    return b;
  }

  @Property(tries = 300)
  void roundTrips(
      @ForAll("chunks") byte[] logical,
      @ForAll @IntRange(min = -5, max = 9) int level,
      @ForAll boolean direct) {
    int off = 3;
    byte[] in = new byte[logical.length + 2 * off];
    System.arraycopy(logical, 0, in, off, logical.length);
    EncodedChunk c = ChunkCodec.encode(7, in, off, logical.length, level);
    assertEquals(Sha256.digest(logical, 0, logical.length), c.sha256());
    boolean zero = Arrays.equals(logical, new byte[logical.length]);
    assertEquals(zero, c.kind() == ChunkKind.ZERO);
    if (c.kind() == ChunkKind.ZSTD) {
      assertTrue(c.storedLength() < logical.length);
    }
    if (c.kind() == ChunkKind.RAW) {
      assertArrayEquals(logical, c.stored());
    }
    ChunkEntry e = c.entry(7, 1000);
    ByteBuffer stored =
        direct
            ? ByteBuffer.allocateDirect(c.storedLength()).put(c.stored()).flip()
            : ByteBuffer.wrap(c.stored());
    byte[] out = new byte[logical.length + 5];
    Arrays.fill(out, (byte) 0x55);
    ChunkCodec.decode(e, stored, out, 5, logical.length);
    assertArrayEquals(logical, Arrays.copyOfRange(out, 5, out.length));
    assertEquals(0, stored.position());
  }

  @Test
  void kindsFollowContent() {
    assertEquals(ChunkKind.ZERO, ChunkCodec.encode(0, new byte[4096], 0, 4096, 3).kind());
    assertEquals(ChunkKind.RAW, ChunkCodec.encode(0, content(1, 4096), 0, 4096, 3).kind());
    assertEquals(ChunkKind.ZSTD, ChunkCodec.encode(0, content(2, 4096), 0, 4096, 3).kind());
    assertEquals(ChunkKind.RAW, ChunkCodec.encode(0, new byte[] {5}, 0, 1, 3).kind());
    EncodedChunk zero = ChunkCodec.encode(0, new byte[100], 0, 100, 3);
    assertEquals(0, zero.storedLength());
    assertEquals(ChunkCodec.zeroHash(100), zero.sha256());
  }

  @Test
  void readOnlyHeapBufferDecodes() {
    byte[] logical = content(2, 10_000);
    EncodedChunk c = ChunkCodec.encode(1, logical, 0, logical.length, 3);
    byte[] out = new byte[logical.length];
    ChunkCodec.decode(c.entry(1, 64), c.storedBuffer(), out, 0, out.length);
    assertArrayEquals(logical, out);
  }

  @Test
  void corruptedZstdNamesTheChunk() {
    byte[] logical = content(2, 50_000);
    EncodedChunk c = ChunkCodec.encode(17, logical, 0, logical.length, 3);
    assertEquals(ChunkKind.ZSTD, c.kind());
    byte[] out = new byte[logical.length];
    for (int i = 0; i < c.storedLength(); i += 7) {
      byte[] bad = c.stored();
      bad[i] ^= 0x20;
      ChunkVerificationException e =
          assertThrows(
              ChunkVerificationException.class,
              () -> ChunkCodec.decode(c.entry(17, 0), ByteBuffer.wrap(bad), out, 0, out.length));
      assertEquals(17, e.chunkIndex());
      assertTrue(e.getMessage().startsWith("chunk 17: "), e.getMessage());
      assertEquals(c.sha256(), e.expected());
    }
  }

  @Test
  void corruptedRawReportsBothHashes() {
    byte[] logical = content(1, 4096);
    EncodedChunk c = ChunkCodec.encode(3, logical, 0, logical.length, 3);
    byte[] bad = c.stored();
    bad[100] ^= 1;
    byte[] out = new byte[4096];
    ChunkVerificationException e =
        assertThrows(
            ChunkVerificationException.class,
            () -> ChunkCodec.decode(c.entry(3, 0), ByteBuffer.wrap(bad), out, 0, 4096));
    Sha256 got = Sha256.digest(bad, 0, bad.length);
    assertEquals(
        "chunk 3: sha256 mismatch: want " + c.sha256().hex() + ", got " + got.hex(),
        e.getMessage());
    assertEquals(got, e.actual().orElseThrow());
  }

  @Test
  void wrongLengthsAreVerificationErrors() {
    byte[] logical = content(2, 8192);
    EncodedChunk c = ChunkCodec.encode(4, logical, 0, logical.length, 3);
    byte[] out = new byte[8192];
    ByteBuffer shorter = ByteBuffer.wrap(c.stored(), 0, c.storedLength() - 1);
    assertTrue(
        assertThrows(
                ChunkVerificationException.class,
                () -> ChunkCodec.decode(c.entry(4, 0), shorter, out, 0, 8192))
            .getMessage()
            .contains("stored length"));
    // A frame that decodes to more or fewer bytes than the chunk's logical length.
    assertThrows(
        ChunkVerificationException.class,
        () -> ChunkCodec.decode(c.entry(4, 0), c.storedBuffer(), out, 0, 8000));
    assertThrows(
        ChunkVerificationException.class,
        () -> ChunkCodec.decode(c.entry(4, 0), c.storedBuffer(), new byte[9000], 0, 9000));
  }

  @Test
  void zeroEntryWithOtherHashFails() {
    ChunkEntry e = ChunkEntry.zero(9, Sha256.ofHex("11".repeat(32)));
    assertThrows(
        ChunkVerificationException.class,
        () -> ChunkCodec.decode(e, ByteBuffer.allocate(0), new byte[10], 0, 10));
  }

  @Test
  void unusedChunksDecodeToZeros() {
    EncodedChunk u = EncodedChunk.unused(5000);
    assertEquals(ChunkKind.UNUSED, u.kind());
    assertEquals(0, u.storedLength());
    ChunkEntry e = u.entry(2, 1234);
    assertEquals(ChunkEntry.unused(2, ChunkCodec.zeroHash(5000)), e);
    byte[] out = content(7, 5000);
    ChunkCodec.decode(e, ByteBuffer.allocate(0), out, 0, 5000);
    assertArrayEquals(new byte[5000], out);
    assertThrows(
        ChunkVerificationException.class,
        () -> ChunkCodec.decode(e, ByteBuffer.allocate(0), out, 0, 4999));
  }

  /**
   * A partial chunk is its logical bytes (unused blocks zeroed) encoded as any other; its entry
   * carries the map.
   */
  @Test
  void partialChunksRoundTripTheirLogicalBytes() {
    byte[] disk = content(3, 4 * 4096);
    UsedBlocks used = UsedBlocks.of(new byte[] {(byte) 0x50}, 4);
    byte[] logical = disk.clone();
    used.zeroUnused(logical, 0, logical.length);
    EncodedChunk c = ChunkCodec.encode(1, logical, 0, logical.length, 3);
    ChunkEntry e = c.entry(1, 64, used);
    assertEquals(used, e.used());
    assertTrue(e.isPartial());
    byte[] out = new byte[logical.length];
    ChunkCodec.decode(e, c.storedBuffer(), out, 0, out.length);
    assertArrayEquals(logical, out);
    assertEquals(0, out[0]);
    assertEquals(disk[4096], out[4096]);
  }

  /**
   * A partial chunk whose stored bytes carry data in unused blocks is refused even when its hash
   * matches: receivers never write those blocks, so such a disk could never verify.
   */
  @Test
  void partialChunkWithDataInUnusedBlocksFails() {
    byte[] disk = content(1, 4 * 4096); // random bytes in every block
    UsedBlocks used = UsedBlocks.of(new byte[] {(byte) 0x50}, 4);
    EncodedChunk c = ChunkCodec.encode(2, disk, 0, disk.length, 3);
    ChunkEntry e = c.entry(2, 64, used);
    ChunkVerificationException x =
        assertThrows(
            ChunkVerificationException.class,
            () -> ChunkCodec.decode(e, c.storedBuffer(), new byte[disk.length], 0, disk.length));
    assertTrue(x.getMessage().contains("unused blocks hold data"), x.getMessage());
    // The same through decodeInPlace, which hashes a RAW chunk where it is (random bytes are stored
    // RAW).
    assertEquals(ChunkKind.RAW, c.kind());
    ChunkVerificationException y =
        assertThrows(
            ChunkVerificationException.class,
            () -> ChunkCodec.decodeInPlace(e, c.stored(), new byte[disk.length], disk.length));
    assertTrue(y.getMessage().contains("unused blocks hold data"), y.getMessage());
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> ChunkCodec.encode(0, new byte[1], 0, 0, 3));
    assertThrows(IllegalArgumentException.class, () -> ChunkCodec.encode(0, new byte[1], 0, 1, 99));
    assertThrows(IndexOutOfBoundsException.class, () -> ChunkCodec.encode(0, new byte[1], 0, 2, 3));
  }

  @Test
  void sha256KnownAnswer() {
    byte[] abc = "abc".getBytes(StandardCharsets.US_ASCII);
    Sha256 h = Sha256.digest(abc, 0, 3);
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", h.hex());
    assertEquals(h, Sha256.digest(ByteBuffer.wrap(abc)));
    assertEquals(h, Sha256.of(h.bytes()));
    assertEquals(h.hashCode(), Sha256.ofHex(h.hex()).hashCode());
    byte[] b = h.bytes();
    b[0] = 0;
    assertEquals("ba", h.hex().substring(0, 2)); // bytes() is a copy
    assertThrows(
        MalformedImageException.class, () -> Sha256.decode(Unpooled.wrappedBuffer(new byte[31])));
    assertThrows(MalformedImageException.class, () -> ChunkKind.fromCode(4));
    assertThrows(MalformedImageException.class, () -> ChunkKind.fromCode(0x81));
    for (ChunkKind k : ChunkKind.values()) {
      assertEquals(k, ChunkKind.fromCode(k.code()));
    }
  }
}

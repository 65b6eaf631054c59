package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.zip.CRC32C;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class ManifestTest {
  private static final int CS = 4096;

  /** A valid manifest from a seed: mixed kinds, a short last chunk when {@code tail > 0}. */
  static Manifest sample(long seed, int fullChunks, int tail) {
    Random r = new Random(seed);
    long size = (long) fullChunks * CS + tail;
    int n = Manifest.chunkCount(size, CS);
    List<ChunkEntry> chunks = new ArrayList<>();
    long offset = 64;
    for (int i = 0; i < n; i++) {
      int len = (int) Math.min(CS, size - (long) i * CS);
      ChunkKind kind = ChunkKind.values()[r.nextInt(3)];
      if (kind == ChunkKind.ZSTD && len == 1) {
        kind = ChunkKind.RAW;
      }
      byte[] sha = new byte[32];
      r.nextBytes(sha);
      switch (kind) {
        case ZERO -> chunks.add(ChunkEntry.zero(i, ChunkCodec.zeroHash(len)));
        case RAW -> chunks.add(new ChunkEntry(i, kind, offset, len, Sha256.of(sha)));
        case ZSTD -> chunks.add(new ChunkEntry(i, kind, offset, 1 + r.nextInt(len - 1), Sha256.of(sha)));
      }
      offset += chunks.get(i).storedLength();
    }
    byte[] h = new byte[32];
    r.nextBytes(h);
    return new Manifest(new UUID(r.nextLong(), r.nextLong()), size, CS, chunks, Sha256.of(h));
  }

  static byte[] encode(Manifest m) {
    ByteBuf buf = Unpooled.buffer();
    m.encode(buf);
    assertEquals(m.encodedLength(), buf.readableBytes());
    return ByteBufUtil.getBytes(buf);
  }

  @Provide
  Arbitrary<Manifest> manifests() {
    return Combinators.combine(Arbitraries.longs(), Arbitraries.integers().between(0, 40), Arbitraries.integers().between(0, CS - 1))
        .as(ManifestTest::sample);
  }

  @Property(tries = 200)
  void roundTrips(@ForAll("manifests") Manifest m) {
    ByteBuf buf = Unpooled.wrappedBuffer(encode(m), new byte[] {9, 9}); // trailing bytes stay unread
    assertEquals(m, Manifest.decode(buf));
    assertEquals(2, buf.readableBytes());
  }

  @Property(tries = 30)
  void everyTruncationIsMalformed(@ForAll("manifests") Manifest m) {
    byte[] b = encode(m);
    for (int len = 0; len < b.length; len++) {
      ByteBuf buf = Unpooled.wrappedBuffer(b, 0, len);
      MalformedImageException e = assertThrows(MalformedImageException.class, () -> Manifest.decode(buf));
      assertTrue(e.getMessage().startsWith("manifest"), e.getMessage());
    }
  }

  /** Every byte flipped in turn, with and without a recomputed crc, yields a manifest or MalformedImageException. */
  @Property(tries = 15)
  void everyCorruptionIsMalformedOrValid(@ForAll("manifests") Manifest m) {
    byte[] good = encode(m);
    for (int i = 0; i < good.length; i++) {
      for (int mask : new int[] {0x01, 0x80, 0xff}) {
        byte[] b = good.clone();
        b[i] ^= (byte) mask;
        decodeOnlyMalformed(b);
        decodeOnlyMalformed(withCrc(b));
      }
    }
  }

  @Test
  void corruptedLengthFieldsAreMalformed() {
    Manifest m = sample(7, 5, 100);
    byte[] good = encode(m);
    int count = 36;
    int size = 24;
    int chunk = 32;
    for (long v : new long[] {0, 1, 5, 7, 0x7fffffffL, 0xffffffffL}) {
      expectMalformed(withCrc(put(good, count, 4, v)), "chunk count");
    }
    for (long v : new long[] {-1, Long.MAX_VALUE, 0, 1L << 40}) {
      expectMalformed(withCrc(put(good, size, 8, v)), "manifest");
    }
    for (long v : new long[] {0, 4095, 4097, 1L << 27, 0xffffffffL}) {
      expectMalformed(withCrc(put(good, chunk, 4, v)), "chunk size");
    }
    // Stored lengths of each stored entry: 0, huge, and one more than the logical length.
    int p = Manifest.FIXED_LENGTH;
    for (ChunkEntry e : m.chunks()) {
      if (e.kind() != ChunkKind.ZERO) {
        for (long v : new long[] {0, 0xffffffffL, 0x80000000L, m.logicalLength(e.index()) + 1L}) {
          expectMalformed(withCrc(put(good, p + 9, 4, v)), "chunk " + e.index());
        }
        expectMalformed(withCrc(put(good, p + 1, 8, -5)), "chunk " + e.index());
        p += Manifest.STORED_ENTRY_LENGTH;
      } else {
        p += Manifest.ZERO_ENTRY_LENGTH;
      }
    }
  }

  @Test
  void hostileCountDoesNotAllocate() {
    // 2^31-1 chunks of 4 KiB declared in a 100-byte manifest: rejected before any allocation.
    ByteBuf buf = Unpooled.buffer();
    buf.writeInt(Manifest.MAGIC).writeShort(1).writeShort(0).writeLong(1).writeLong(2);
    buf.writeLong(0x7fffffffL * CS).writeInt(CS).writeInt(0x7fffffff).writeZero(32 + 4);
    MalformedImageException e = assertThrows(MalformedImageException.class, () -> Manifest.decode(buf));
    assertTrue(e.getMessage().contains("2147483647 chunks need at least"), e.getMessage());
  }

  @Test
  void messagesNameTheProblem() {
    byte[] good = encode(sample(3, 3, 0));
    expectMalformed(put(good, 0, 4, 0x12345678), "bad magic 0x12345678");
    expectMalformed(put(good, 4, 2, 2), "version 2 unsupported");
    expectMalformed(put(good, 6, 2, 1), "flags 0x0001 unknown");
    expectMalformed(put(good, good.length - 4, 4, 0), "crc32c 0x00000000 at byte " + (good.length - 4));
    expectMalformed(withCrc(put(good, Manifest.FIXED_LENGTH, 1, 9)), "chunk 0 at byte 72: chunk kind code 9 unknown");
  }

  @Test
  void geometry() {
    Manifest m = sample(1, 2, 10);
    assertEquals(3, m.chunkCount());
    assertEquals(CS, m.logicalLength(0));
    assertEquals(10, m.logicalLength(2));
    assertEquals(2L * CS, m.logicalOffset(2));
    assertEquals(m.chunks().stream().mapToLong(ChunkEntry::storedLength).sum(), m.storedBytes());
    assertThrows(IndexOutOfBoundsException.class, () -> m.logicalLength(3));
    Manifest empty = new Manifest(UUID.randomUUID(), 0, CS, List.of(), ChunkCodec.zeroHash(0));
    assertEquals(0, empty.chunkCount());
    assertEquals(empty, Manifest.decode(Unpooled.wrappedBuffer(encode(empty))));
  }

  @Test
  void constructorValidates() {
    Sha256 h = ChunkCodec.zeroHash(CS);
    UUID id = UUID.randomUUID();
    assertThrows(IllegalArgumentException.class, () -> new Manifest(id, CS, 3000, List.of(ChunkEntry.zero(0, h)), h));
    assertThrows(IllegalArgumentException.class, () -> new Manifest(id, CS + 1, CS, List.of(ChunkEntry.zero(0, h)), h));
    assertThrows(IllegalArgumentException.class, () -> new Manifest(id, CS, CS, List.of(ChunkEntry.zero(1, h)), h));
    assertThrows(IllegalArgumentException.class, () -> new Manifest(id, CS, CS, List.of(ChunkEntry.zero(0, ChunkCodec.zeroHash(1))), h));
    assertThrows(IllegalArgumentException.class, () -> new Manifest(id, CS, CS, List.of(new ChunkEntry(0, ChunkKind.RAW, 64, CS - 1, h)), h));
    assertThrows(IllegalArgumentException.class, () -> new Manifest(id, CS, CS, List.of(new ChunkEntry(0, ChunkKind.ZSTD, 64, CS, h)), h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.ZERO, 0, 1, h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.ZERO, 64, 0, h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.RAW, 64, 0, h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(-1, ChunkKind.RAW, 64, 1, h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.RAW, Long.MAX_VALUE, 1, h));
  }

  /** The layout in docs/image-format.md, pinned: one ZERO, one ZSTD and one short RAW chunk. */
  @Test
  void goldenBytes() {
    Sha256 a = Sha256.ofHex("aa".repeat(32));
    Sha256 b = Sha256.ofHex("bb".repeat(32));
    Manifest m = new Manifest(
        new UUID(0x0102030405060708L, 0x090a0b0c0d0e0f10L),
        2L * CS + 3,
        CS,
        List.of(ChunkEntry.zero(0, ChunkCodec.zeroHash(CS)), new ChunkEntry(1, ChunkKind.ZSTD, 64, 100, a),
            new ChunkEntry(2, ChunkKind.RAW, 164, 3, b)),
        b);
    String want = "43434d46" + "0001" + "0000" + "0102030405060708090a0b0c0d0e0f10" + "0000000000002003" + "00001000"
        + "00000003" + "bb".repeat(32)
        + "00"
        + "01" + "0000000000000040" + "00000064" + "aa".repeat(32)
        + "02" + "00000000000000a4" + "00000003" + "bb".repeat(32);
    byte[] body = ByteBufUtil.decodeHexDump(want);
    CRC32C crc = new CRC32C();
    crc.update(body);
    assertEquals(want + String.format("%08x", crc.getValue()), ByteBufUtil.hexDump(encode(m)));
  }

  private static void decodeOnlyMalformed(byte[] b) {
    try {
      Manifest.decode(Unpooled.wrappedBuffer(b));
    } catch (MalformedImageException expected) {
      // the only acceptable failure
    } catch (RuntimeException e) {
      fail("decode threw " + e + " instead of MalformedImageException", e);
    }
  }

  private static void expectMalformed(byte[] b, String fragment) {
    MalformedImageException e = assertThrows(MalformedImageException.class, () -> Manifest.decode(Unpooled.wrappedBuffer(b)));
    assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' lacks '" + fragment + "'");
  }

  private static byte[] put(byte[] src, int at, int width, long value) {
    byte[] b = src.clone();
    for (int i = width - 1; i >= 0; i--) {
      b[at + i] = (byte) value;
      value >>>= 8;
    }
    return b;
  }

  /** The manifest with its trailing crc recomputed, so corruption reaches the field checks. */
  private static byte[] withCrc(byte[] b) {
    byte[] c = b.clone();
    CRC32C crc = new CRC32C();
    crc.update(c, 0, c.length - 4);
    return put(c, c.length - 4, 4, crc.getValue());
  }
}

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
    return sample(seed, fullChunks, tail, CS, false);
  }

  /**
   * A valid manifest from a seed: mixed kinds, a short last chunk when {@code tail > 0}; with
   * {@code partial}, also UNUSED chunks and chunks with random used-block maps (version 2).
   */
  static Manifest sample(long seed, int fullChunks, int tail, int chunkSize, boolean partial) {
    return sample(seed, fullChunks, tail, chunkSize, partial, false);
  }

  /**
   * {@link #sample(long, int, int, int, boolean)}; with {@code ofChunks} of version 3 (the image
   * hash of the chunk digests).
   */
  static Manifest sample(
      long seed, int fullChunks, int tail, int chunkSize, boolean partial, boolean ofChunks) {
    Random r = new Random(seed);
    long size = (long) fullChunks * chunkSize + tail;
    int n = Manifest.chunkCount(size, chunkSize);
    List<ChunkEntry> chunks = new ArrayList<>();
    long offset = 64;
    for (int i = 0; i < n; i++) {
      int len = (int) Math.min(chunkSize, size - (long) i * chunkSize);
      ChunkKind kind = ChunkKind.values()[r.nextInt(partial ? 4 : 3)];
      if (kind == ChunkKind.ZSTD && len == 1) {
        kind = ChunkKind.RAW;
      }
      UsedBlocks used =
          kind == ChunkKind.UNUSED
              ? UsedBlocks.none()
              : partial && r.nextBoolean() ? randomUsed(r, len) : UsedBlocks.all();
      byte[] sha = new byte[32];
      r.nextBytes(sha);
      switch (kind) {
        case ZERO -> chunks.add(ChunkEntry.zero(i, ChunkCodec.zeroHash(len), used));
        case UNUSED -> chunks.add(ChunkEntry.unused(i, ChunkCodec.zeroHash(len)));
        case RAW -> chunks.add(new ChunkEntry(i, kind, offset, len, Sha256.of(sha), used));
        case ZSTD ->
            chunks.add(
                new ChunkEntry(i, kind, offset, 1 + r.nextInt(len - 1), Sha256.of(sha), used));
      }
      offset += chunks.get(i).storedLength();
    }
    byte[] h = new byte[32];
    r.nextBytes(h);
    UUID id = new UUID(r.nextLong(), r.nextLong());
    return ofChunks
        ? Manifest.ofChunks(id, size, chunkSize, chunks)
        : new Manifest(id, size, chunkSize, chunks, Sha256.of(h));
  }

  /**
   * A random map of a chunk of {@code len} bytes with at least one used block (all() when it
   * happens to be full).
   */
  static UsedBlocks randomUsed(Random r, int len) {
    int blocks = UsedBlocks.blockCount(len);
    byte[] bitmap = new byte[UsedBlocks.bitmapLength(len)];
    for (int b = 0; b < blocks; b++) {
      if (r.nextInt(3) > 0) {
        bitmap[b >>> 3] |= (byte) (0x80 >>> (b & 7));
      }
    }
    bitmap[0] |= (byte) 0x80;
    return UsedBlocks.of(bitmap, blocks);
  }

  static byte[] encode(Manifest m) {
    ByteBuf buf = Unpooled.buffer();
    m.encode(buf);
    assertEquals(m.encodedLength(), buf.readableBytes());
    return ByteBufUtil.getBytes(buf);
  }

  @Provide
  Arbitrary<Manifest> manifests() {
    return Combinators.combine(
            Arbitraries.longs(),
            Arbitraries.integers().between(0, 40),
            Arbitraries.integers().between(0, 4 * CS - 1),
            Arbitraries.of(CS, 4 * CS, 64 * CS),
            Arbitraries.of(false, true),
            Arbitraries.of(false, true))
        .as(
            (seed, full, tail, cs, partial, ofChunks) ->
                sample(seed, full, tail % cs, cs, partial, ofChunks));
  }

  @Property(tries = 300)
  void roundTrips(@ForAll("manifests") Manifest m) {
    byte[] b = encode(m);
    ByteBuf buf = Unpooled.wrappedBuffer(b, new byte[] {9, 9}); // trailing bytes stay unread
    assertEquals(m, Manifest.decode(buf));
    assertEquals(2, buf.readableBytes());
    boolean whole = m.chunks().stream().allMatch(e -> e.used().isAll());
    assertEquals(
        m.hashOfChunks() ? 3 : whole ? 1 : 2,
        b[5],
        "version 3 for the hash of chunk digests, else 1 exactly when every block of every chunk is used");
    assertTrue(m.encodedLength() <= Manifest.maxEncodedLength(m.chunkCount(), m.chunkSize()));
  }

  @Property(tries = 30)
  void everyTruncationIsMalformed(@ForAll("manifests") Manifest m) {
    byte[] b = encode(m);
    for (int len = 0; len < b.length; len++) {
      ByteBuf buf = Unpooled.wrappedBuffer(b, 0, len);
      MalformedImageException e =
          assertThrows(MalformedImageException.class, () -> Manifest.decode(buf));
      assertTrue(e.getMessage().startsWith("manifest"), e.getMessage());
    }
  }

  /**
   * Every byte flipped in turn, with and without a recomputed crc, yields a manifest or
   * MalformedImageException.
   */
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
    corruptStoredLengths(m, good);
  }

  /**
   * Stored lengths of each stored entry: 0, huge, and one more than the logical length; offsets
   * negative.
   */
  private static void corruptStoredLengths(Manifest m, byte[] good) {
    int p = Manifest.FIXED_LENGTH;
    for (ChunkEntry e : m.chunks()) {
      int bitmap = e.isPartial() ? UsedBlocks.bitmapLength(m.logicalLength(e.index())) : 0;
      if (e.kind().isStored()) {
        int fields = p + 1 + bitmap;
        for (long v : new long[] {0, 0xffffffffL, 0x80000000L, m.logicalLength(e.index()) + 1L}) {
          expectMalformed(withCrc(put(good, fields + 8, 4, v)), "chunk " + e.index());
        }
        expectMalformed(withCrc(put(good, fields, 8, -5)), "chunk " + e.index());
        p += Manifest.STORED_ENTRY_LENGTH + bitmap;
      } else {
        p += Manifest.ZERO_ENTRY_LENGTH + bitmap;
      }
    }
    assertEquals(good.length - Manifest.CRC_LENGTH, p);
  }

  @Test
  void corruptedLengthFieldsOfVersion2AreMalformed() {
    Manifest m = sample(11, 9, 5000, 4 * CS, true);
    assertEquals(2, m.formatVersion());
    corruptStoredLengths(m, encode(m));
  }

  @Test
  void hostileCountDoesNotAllocate() {
    // 2^31-1 chunks of 4 KiB declared in a 100-byte manifest: rejected before any allocation.
    ByteBuf buf = Unpooled.buffer();
    buf.writeInt(Manifest.MAGIC).writeShort(1).writeShort(0).writeLong(1).writeLong(2);
    buf.writeLong(0x7fffffffL * CS).writeInt(CS).writeInt(0x7fffffff).writeZero(32 + 4);
    MalformedImageException e =
        assertThrows(MalformedImageException.class, () -> Manifest.decode(buf));
    assertTrue(e.getMessage().contains("2147483647 chunks need at least"), e.getMessage());
  }

  @Test
  void messagesNameTheProblem() {
    byte[] good = encode(sample(3, 3, 0));
    expectMalformed(put(good, 0, 4, 0x12345678), "bad magic 0x12345678");
    expectMalformed(put(good, 4, 2, 4), "version 4 unsupported");
    expectMalformed(put(good, 4, 2, 0), "version 0 unsupported");
    expectMalformed(put(good, 6, 2, 1), "flags 0x0001 unknown");
    expectMalformed(
        put(good, good.length - 4, 4, 0), "crc32c 0x00000000 at byte " + (good.length - 4));
    expectMalformed(
        withCrc(put(good, Manifest.FIXED_LENGTH, 1, 9)),
        "chunk 0 at byte 72: chunk kind code 9 unknown");
  }

  @Test
  void version2MessagesNameTheProblem() {
    byte[] v1 = encode(sample(3, 3, 0));
    // Version 1 knows neither UNUSED nor the partial flag.
    expectMalformed(
        withCrc(put(v1, Manifest.FIXED_LENGTH, 1, 3)),
        "chunk 0 at byte 72: chunk kind code 3 (UNUSED) in version 1");
    expectMalformed(
        withCrc(put(v1, Manifest.FIXED_LENGTH, 1, 0x80)),
        "chunk 0 at byte 72: chunk kind code 128 unknown");
    // Version 2, chunks of 16 KiB (four blocks, one bitmap byte): a partial ZERO chunk 0, then ZERO
    // chunk 1.
    Sha256 z = ChunkCodec.zeroHash(4 * CS);
    Manifest m =
        new Manifest(
            UUID.randomUUID(),
            8L * CS,
            4 * CS,
            List.of(
                ChunkEntry.zero(0, z, UsedBlocks.of(new byte[] {(byte) 0x40}, 4)),
                ChunkEntry.zero(1, z)),
            z);
    byte[] v2 = encode(m);
    assertEquals(2, v2[5]);
    int e0 = Manifest.FIXED_LENGTH;
    expectMalformed(
        withCrc(put(v2, e0 + 1, 1, 0xf0)),
        "chunk 0 at byte 72: partial flag with every block used");
    expectMalformed(
        withCrc(put(v2, e0 + 1, 1, 0x00)),
        "chunk 0 at byte 72: used-block bitmap marks no block used");
    expectMalformed(
        withCrc(put(v2, e0 + 1, 1, 0x41)),
        "chunk 0 at byte 72: used-block bitmap has bits set past block 4");
    expectMalformed(
        withCrc(put(v2, e0, 1, 0x83)), "chunk 0 at byte 72: UNUSED chunk with a used-block bitmap");
    expectMalformed(withCrc(put(v2, e0, 1, 0x84)), "chunk 0 at byte 72: chunk kind code 4 unknown");
    // A partial flag on the last entry whose bitmap would swallow the crc.
    expectMalformed(
        withCrc(put(v2, e0 + 2, 1, 0x80)),
        "chunk 1 at byte 74: used-block bitmap needs 1 bytes plus the crc");
  }

  @Test
  void usedBytes() {
    Sha256 z = ChunkCodec.zeroHash(4 * CS);
    Sha256 a = Sha256.ofHex("aa".repeat(32));
    Manifest m =
        new Manifest(
            UUID.randomUUID(),
            3L * 4 * CS + 5000,
            4 * CS,
            List.of(
                ChunkEntry.unused(0, z),
                ChunkEntry.zero(1, z, UsedBlocks.of(new byte[] {(byte) 0x80}, 4)),
                new ChunkEntry(
                    2, ChunkKind.ZSTD, 64, 100, a, UsedBlocks.of(new byte[] {(byte) 0xa0}, 4)),
                new ChunkEntry(
                    3, ChunkKind.RAW, 164, 5000, a, UsedBlocks.of(new byte[] {(byte) 0x40}, 2))),
            a);
    assertEquals(0, m.usedBytes(0));
    assertEquals(CS, m.usedBytes(1));
    assertEquals(2 * CS, m.usedBytes(2));
    assertEquals(5000 - CS, m.usedBytes(3));
    assertEquals(3 * CS + 5000 - CS, m.usedBytes());
    assertEquals(2 * CS + 5000 - CS, m.dataBytes());
    assertEquals(1, m.count(ChunkKind.UNUSED));
    assertEquals(2, m.formatVersion());
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
    assertThrows(
        IllegalArgumentException.class,
        () -> new Manifest(id, CS, 3000, List.of(ChunkEntry.zero(0, h)), h));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Manifest(id, CS + 1, CS, List.of(ChunkEntry.zero(0, h)), h));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Manifest(id, CS, CS, List.of(ChunkEntry.zero(1, h)), h));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Manifest(id, CS, CS, List.of(ChunkEntry.zero(0, ChunkCodec.zeroHash(1))), h));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new Manifest(id, CS, CS, List.of(new ChunkEntry(0, ChunkKind.RAW, 64, CS - 1, h)), h));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Manifest(id, CS, CS, List.of(new ChunkEntry(0, ChunkKind.ZSTD, 64, CS, h)), h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.ZERO, 0, 1, h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.ZERO, 64, 0, h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.RAW, 64, 0, h));
    assertThrows(IllegalArgumentException.class, () -> new ChunkEntry(-1, ChunkKind.RAW, 64, 1, h));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ChunkEntry(0, ChunkKind.RAW, Long.MAX_VALUE, 1, h));
    // UNUSED: exactly the kind with no used block, digest of zeros, nothing stored.
    assertThrows(
        IllegalArgumentException.class, () -> new ChunkEntry(0, ChunkKind.UNUSED, 0, 0, h));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ChunkEntry(0, ChunkKind.ZERO, 0, 0, h, UsedBlocks.none()));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ChunkEntry(0, ChunkKind.UNUSED, 64, 1, h, UsedBlocks.none()));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Manifest(id, CS, CS, List.of(ChunkEntry.unused(0, ChunkCodec.zeroHash(1))), h));
    // A bitmap must fit its chunk: 4 blocks for a chunk of 2.
    UsedBlocks four = UsedBlocks.of(new byte[] {(byte) 0x80}, 4);
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new Manifest(
                id,
                2L * CS,
                4 * CS,
                List.of(ChunkEntry.zero(0, ChunkCodec.zeroHash(2 * CS), four)),
                ChunkCodec.zeroHash(2 * CS)));
  }

  /** The layout in docs/image-format.md, pinned: one ZERO, one ZSTD and one short RAW chunk. */
  @Test
  void goldenBytes() {
    Sha256 a = Sha256.ofHex("aa".repeat(32));
    Sha256 b = Sha256.ofHex("bb".repeat(32));
    Manifest m =
        new Manifest(
            new UUID(0x0102030405060708L, 0x090a0b0c0d0e0f10L),
            2L * CS + 3,
            CS,
            List.of(
                ChunkEntry.zero(0, ChunkCodec.zeroHash(CS)),
                new ChunkEntry(1, ChunkKind.ZSTD, 64, 100, a),
                new ChunkEntry(2, ChunkKind.RAW, 164, 3, b)),
            b);
    String want =
        "43434d46"
            + "0001"
            + "0000"
            + "0102030405060708090a0b0c0d0e0f10"
            + "0000000000002003"
            + "00001000"
            + "00000003"
            + "bb".repeat(32)
            + "00"
            + "01"
            + "0000000000000040"
            + "00000064"
            + "aa".repeat(32)
            + "02"
            + "00000000000000a4"
            + "00000003"
            + "bb".repeat(32);
    assertEquals(withCrcHex(want), ByteBufUtil.hexDump(encode(m)));
  }

  /** {@code hex} followed by the hex of its CRC-32C. */
  private static String withCrcHex(String hex) {
    CRC32C crc = new CRC32C();
    crc.update(ByteBufUtil.decodeHexDump(hex));
    return hex + String.format("%08x", crc.getValue());
  }

  /**
   * Chunks of 16 KiB (four blocks): an UNUSED chunk, a partial ZERO, a partial ZSTD (digest {@code
   * a}), a whole RAW and a short partial RAW chunk (digest {@code b}).
   */
  /**
   * The encoded entries of {@link #goldenVersion2Chunks} with digests aa.. and bb..
   * (docs/image-format.md).
   */
  private static final String GOLDEN_VERSION2_ENTRIES =
      "03"
          + "80"
          + "80"
          + "81"
          + "a0"
          + "0000000000000040"
          + "00000064"
          + "aa".repeat(32)
          + "02"
          + "00000000000000a4"
          + "00004000"
          + "bb".repeat(32)
          + "82"
          + "40"
          + "00000000000040a4"
          + "00001388"
          + "bb".repeat(32);

  private static List<ChunkEntry> goldenVersion2Chunks(Sha256 a, Sha256 b) {
    int cs = 4 * CS;
    return List.of(
        ChunkEntry.unused(0, ChunkCodec.zeroHash(cs)),
        ChunkEntry.zero(1, ChunkCodec.zeroHash(cs), UsedBlocks.of(new byte[] {(byte) 0x80}, 4)),
        new ChunkEntry(2, ChunkKind.ZSTD, 64, 100, a, UsedBlocks.of(new byte[] {(byte) 0xa0}, 4)),
        new ChunkEntry(3, ChunkKind.RAW, 164, cs, b),
        new ChunkEntry(
            4, ChunkKind.RAW, 164 + cs, 5000, b, UsedBlocks.of(new byte[] {(byte) 0x40}, 2)));
  }

  /**
   * Version 3: the layout of version 2 (the manifest of {@link #goldenBytesVersion2}) with the
   * image hash of the chunk digests (pinned: computed apart, by Python's hashlib, over the five
   * 32-byte digests), checked when built and when decoded.
   */
  @Test
  void goldenBytesVersion3() {
    int cs = 4 * CS;
    Sha256 a = Sha256.ofHex("aa".repeat(32));
    Sha256 b = Sha256.ofHex("bb".repeat(32));
    List<ChunkEntry> chunks = goldenVersion2Chunks(a, b);
    UUID id = new UUID(0x0102030405060708L, 0x090a0b0c0d0e0f10L);
    Manifest m = Manifest.ofChunks(id, 4L * cs + 5000, cs, chunks);
    String hash = "3ac2bbf139fbb555c20429aac0044c86ae4c530df69bfd081a03c3b297dd9ab7";
    assertEquals(hash, m.imageHash().hex());
    assertEquals(3, m.formatVersion());
    String want =
        "43434d46"
            + "0003"
            + "0000"
            + "0102030405060708090a0b0c0d0e0f10"
            + "0000000000011388"
            + "00004000"
            + "00000005"
            + hash
            + GOLDEN_VERSION2_ENTRIES;
    byte[] got = encode(m);
    assertEquals(withCrcHex(want), ByteBufUtil.hexDump(got));
    assertEquals(m, Manifest.decode(Unpooled.wrappedBuffer(got)));
    // Another image hash, or another chunk digest under the same image hash: refused, also with a
    // good crc.
    expectMalformed(
        withCrc(put(got, Manifest.FIXED_LENGTH - Sha256.LENGTH, 1, 0x3b)),
        "is not that of the chunk digests");
    int lastDigest = got.length - Manifest.CRC_LENGTH - Sha256.LENGTH;
    expectMalformed(withCrc(put(got, lastDigest, 1, 0xbc)), "is not that of the chunk digests");
    assertThrows(
        IllegalArgumentException.class,
        () -> new Manifest(id, 4L * cs + 5000, cs, chunks, b, true));
    // The same entries as version 2 keep the hash they are given (that of the logical bytes).
    assertEquals(2, new Manifest(id, 4L * cs + 5000, cs, chunks, b).formatVersion());
  }

  /**
   * The version 2 layout in docs/image-format.md, pinned: chunks of 16 KiB (four blocks) with an
   * UNUSED chunk, a partial ZERO, a partial ZSTD, a whole RAW and a short partial RAW chunk.
   */
  @Test
  void goldenBytesVersion2() {
    int cs = 4 * CS;
    Sha256 a = Sha256.ofHex("aa".repeat(32));
    Sha256 b = Sha256.ofHex("bb".repeat(32));
    Manifest m =
        new Manifest(
            new UUID(0x0102030405060708L, 0x090a0b0c0d0e0f10L),
            4L * cs + 5000,
            cs,
            goldenVersion2Chunks(a, b),
            b);
    String want =
        "43434d46"
            + "0002"
            + "0000"
            + "0102030405060708090a0b0c0d0e0f10"
            + "0000000000011388"
            + "00004000"
            + "00000005"
            + "bb".repeat(32)
            + GOLDEN_VERSION2_ENTRIES;
    byte[] got = encode(m);
    assertEquals(withCrcHex(want), ByteBufUtil.hexDump(got));
    assertEquals(m, Manifest.decode(Unpooled.wrappedBuffer(got)));
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
    MalformedImageException e =
        assertThrows(
            MalformedImageException.class, () -> Manifest.decode(Unpooled.wrappedBuffer(b)));
    assertTrue(
        e.getMessage().contains(fragment), "'" + e.getMessage() + "' lacks '" + fragment + "'");
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

package org.clonecast.protocol.image;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * Turns one chunk's logical bytes into stored bytes and back: all zeros are not stored, other
 * chunks are one zstd frame each, or raw when zstd does not shrink them. Decoding always checks the
 * SHA-256 of the result. A partially used chunk is encoded from its logical bytes (unused blocks
 * already zeroed, {@link UsedBlocks#zeroUnused}); an UNUSED one decodes to zeros.
 *
 * <p>Thread-safe and stateless; native zstd contexts are pooled internally.
 */
public final class ChunkCodec {
  /** The zstd level used unless told otherwise: fast, and most of the ratio of higher levels. */
  public static final int DEFAULT_LEVEL = 3;

  /** Where {@link #encode} compresses: one chunk's worth per encoding thread, reused. */
  private static final ThreadLocal<byte[]> SCRATCH = new ThreadLocal<>();

  private ChunkCodec() {}

  /**
   * Loads zstd-jni's native library if it is not loaded yet. The library unpacks itself into {@code
   * java.io.tmpdir} (or {@code -DZstdTempFolder}) on first use, which fails on a read-only or
   * {@code noexec} temporary directory; every ZSTD chunk would then fail alike.
   *
   * @return empty when zstd is usable, else what went wrong and what to do about it
   */
  public static Optional<String> nativeLibraryProblem() {
    try {
      com.github.luben.zstd.util.Native.load();
      Zstd.maxCompressionLevel(); // a native call: proves the library is bound, not just found
      return Optional.empty();
    } catch (LinkageError e) {
      return Optional.of(
          "cannot load the zstd native library ("
              + e.getMessage()
              + "); it is unpacked into "
              + System.getProperty("ZstdTempFolder", System.getProperty("java.io.tmpdir"))
              + ", which must be writable and allow executables (choose another with -DZstdTempFolder=DIR)");
    }
  }

  /** Lowest accepted zstd level (negative levels trade ratio for speed). */
  public static int minLevel() {
    return Zstd.minCompressionLevel();
  }

  /** Highest accepted zstd level. */
  public static int maxLevel() {
    return Zstd.maxCompressionLevel();
  }

  /**
   * Encodes {@code len} logical bytes of chunk {@code index} from {@code logical[off]}.
   *
   * @return ZERO (nothing stored) when all bytes are zero, ZSTD when a zstd frame at {@code
   *     zstdLevel} is shorter than {@code len}, RAW (a copy) otherwise
   */
  public static EncodedChunk encode(int index, byte[] logical, int off, int len, int zstdLevel) {
    Objects.checkFromIndexSize(off, len, logical.length);
    if (len == 0) {
      throw new IllegalArgumentException("chunk " + index + ": a chunk has at least one byte");
    }
    if (zstdLevel < minLevel() || zstdLevel > maxLevel()) {
      throw new IllegalArgumentException(
          "zstd level " + zstdLevel + " not in " + minLevel() + ".." + maxLevel());
    }
    if (Zeros.isZero(logical, off, len)) {
      return new EncodedChunk(ChunkKind.ZERO, new byte[0], Zeros.hash(len));
    }
    Sha256 sha = Sha256.digest(logical, off, len);
    // A frame at least as long as the input is useless, so the output buffer is one byte short
    // of that: zstd fails with "destination too small" exactly when the chunk does not shrink.
    // The frame goes into this thread's scratch array and is copied once, to its length (a new
    // chunk-sized array per chunk was most of a capture's garbage).
    byte[] dst = scratch(len - 1);
    int n = len == 1 ? -1 : compress(dst, len - 1, logical, off, len, zstdLevel);
    if (n < 0) {
      return EncodedChunk.owning(ChunkKind.RAW, Arrays.copyOfRange(logical, off, off + len), sha);
    }
    return EncodedChunk.owning(ChunkKind.ZSTD, Arrays.copyOf(dst, n), sha);
  }

  /** This thread's scratch array of at least {@code length} bytes. */
  private static byte[] scratch(int length) {
    byte[] b = SCRATCH.get();
    if (b == null || b.length < length) {
      b = new byte[length];
      SCRATCH.set(b);
    }
    return b;
  }

  /** The frame length, or -1 when it does not fit {@code dst[0 .. room)}. */
  private static int compress(byte[] dst, int room, byte[] src, int off, int len, int level) {
    ZstdCompressCtx ctx = ZstdContexts.COMPRESS.take();
    try {
      ctx.setLevel(level);
      int n = ctx.compressByteArray(dst, 0, room, src, off, len);
      ZstdContexts.COMPRESS.give(ctx);
      return n;
    } catch (ZstdException e) {
      // A context that reported an error is closed rather than reused.
      ctx.close();
      if (e.getErrorCode() == Zstd.errDstSizeTooSmall()) {
        return -1;
      }
      throw new IllegalStateException("zstd compression failed: " + e.getMessage(), e);
    }
  }

  /**
   * Decodes the stored bytes of chunk {@code e} into {@code out[outOff .. outOff+logicalLen)} and
   * checks their SHA-256. {@code stored} (heap or direct) holds exactly the chunk's stored bytes
   * between its position and limit; its position is not changed.
   *
   * @throws ChunkVerificationException when the stored bytes have the wrong length, are not a valid
   *     zstd frame of {@code logicalLen} bytes, or hash to something else
   */
  public static void decode(
      ChunkEntry e, ByteBuffer stored, byte[] out, int outOff, int logicalLen) {
    Objects.checkFromIndexSize(outOff, logicalLen, out.length);
    if (stored.remaining() != e.storedLength()) {
      throw new ChunkVerificationException(
          e.index(),
          "stored length " + stored.remaining() + ", want " + e.storedLength(),
          e.sha256(),
          null);
    }
    switch (e.kind()) {
      case ZERO, UNUSED -> {
        Sha256 zero = Zeros.hash(logicalLen);
        if (!zero.equals(e.sha256())) {
          throw mismatch(e, zero);
        }
        Zeros.fill(out, outOff, logicalLen);
        return;
      }
      case RAW -> {
        if (e.storedLength() != logicalLen) {
          throw new ChunkVerificationException(
              e.index(),
              "RAW chunk of " + e.storedLength() + " bytes, want " + logicalLen,
              e.sha256(),
              null);
        }
        stored.duplicate().get(out, outOff, logicalLen);
      }
      case ZSTD -> decompress(e, stored, out, outOff, logicalLen);
    }
    if (e.used().isPartial() && !unusedAreZero(e.used(), out, outOff, logicalLen)) {
      // By definition a partial chunk's unused blocks are zeros: receivers never write them, so
      // bytes there would make a disk that can never verify against the chunk's hash.
      throw new ChunkVerificationException(e.index(), "unused blocks hold data", e.sha256(), null);
    }
    Sha256 actual = Sha256.digest(out, outOff, logicalLen);
    if (!actual.equals(e.sha256())) {
      throw mismatch(e, actual);
    }
  }

  /** Whether every byte of {@code out} outside {@code used}'s runs is zero. */
  private static boolean unusedAreZero(UsedBlocks used, byte[] out, int off, int logicalLen) {
    int[] gapStart = {0};
    boolean[] ok = {true};
    used.forEachRun(
        logicalLen,
        (o, len) -> {
          ok[0] &= Zeros.isZero(out, off + gapStart[0], o - gapStart[0]);
          gapStart[0] = o + len;
        });
    return ok[0] && Zeros.isZero(out, off + gapStart[0], logicalLen - gapStart[0]);
  }

  /**
   * Decodes chunk {@code e} from {@code stored[0 .. e.storedLength())} and returns an array whose
   * first {@code logicalLen} bytes are its verified logical bytes: {@code stored} itself for a RAW
   * chunk (no copy), else {@code scratch} (at least {@code logicalLen} long) filled by {@link
   * #decode}.
   *
   * @throws ChunkVerificationException as {@link #decode}
   */
  public static byte[] decodeInPlace(ChunkEntry e, byte[] stored, byte[] scratch, int logicalLen) {
    if (e.kind() != ChunkKind.RAW) {
      decode(e, ByteBuffer.wrap(stored, 0, e.storedLength()), scratch, 0, logicalLen);
      return scratch;
    }
    if (e.storedLength() != logicalLen || stored.length < logicalLen) {
      throw new ChunkVerificationException(
          e.index(),
          "RAW chunk of " + e.storedLength() + " bytes, want " + logicalLen,
          e.sha256(),
          null);
    }
    if (e.used().isPartial() && !unusedAreZero(e.used(), stored, 0, logicalLen)) {
      throw new ChunkVerificationException(e.index(), "unused blocks hold data", e.sha256(), null);
    }
    Sha256 actual = Sha256.digest(stored, 0, logicalLen);
    if (!actual.equals(e.sha256())) {
      throw mismatch(e, actual);
    }
    return stored;
  }

  private static ChunkVerificationException mismatch(ChunkEntry e, Sha256 actual) {
    return new ChunkVerificationException(
        e.index(),
        "sha256 mismatch: want " + e.sha256().hex() + ", got " + actual.hex(),
        e.sha256(),
        actual);
  }

  private static void decompress(
      ChunkEntry e, ByteBuffer stored, byte[] out, int outOff, int logicalLen) {
    ZstdDecompressCtx ctx = ZstdContexts.DECOMPRESS.take();
    int n;
    try {
      if (stored.isDirect()) {
        n =
            ctx.decompressDirectByteBufferToByteArray(
                out, outOff, logicalLen, stored, stored.position(), stored.remaining());
      } else if (stored.hasArray()) {
        n =
            ctx.decompressByteArray(
                out,
                outOff,
                logicalLen,
                stored.array(),
                stored.arrayOffset() + stored.position(),
                stored.remaining());
      } else {
        // A read-only heap buffer hides its array: copy (stored bytes are at most a chunk).
        byte[] copy = new byte[stored.remaining()];
        stored.duplicate().get(copy);
        n = ctx.decompressByteArray(out, outOff, logicalLen, copy, 0, copy.length);
      }
    } catch (ZstdException ex) {
      ctx.close();
      throw new ChunkVerificationException(
          e.index(), "zstd data damaged: " + ex.getMessage(), e.sha256(), null, ex);
    }
    ZstdContexts.DECOMPRESS.give(ctx);
    if (n != logicalLen) {
      throw new ChunkVerificationException(
          e.index(), "zstd data decodes to " + n + " bytes, want " + logicalLen, e.sha256(), null);
    }
  }

  /** The SHA-256 of {@code len} zero bytes: the digest of every ZERO chunk of that length. */
  public static Sha256 zeroHash(int len) {
    return Zeros.hash(len);
  }
}

package org.clonecast.protocol.image;

import io.netty.buffer.ByteBuf;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * What an image holds: its id, logical size, chunk size, one {@link ChunkEntry} per chunk and the
 * SHA-256 of the whole logical image. Encoded at the end of a {@code .cci} file and sent to
 * receivers; the byte layout is specified in {@code docs/image-format.md} ("Manifest").
 *
 * <p>Every chunk but the last is {@code chunkSize} logical bytes long; the last one holds the rest.
 * A manifest is consistent by construction: the chunk count matches the size, entries are in index
 * order, stored lengths fit their kind, used-block maps fit their chunk, and ZERO and UNUSED
 * entries carry the digest of zeros.
 *
 * <p>Versions: {@link #encode} writes version 1 when every block of every chunk is used (an image
 * of a whole disk), so that older clonecast builds (agents in netboot environments built before
 * version 2, older daemons) still take such images; version 2 when some chunk is partial or UNUSED,
 * which version 1 cannot express; version 3 (the layout of version 2) when the image hash is
 * {@linkplain #hashOfChunks the hash of the chunk digests}. {@link #decode} reads all three.
 *
 * <p>The image hash: in versions 1 and 2 the SHA-256 of all logical bytes in order; in version 3
 * the SHA-256 of the chunks' 32-byte digests in index order ({@link #hashOfChunkDigests}). Both
 * bind every logical byte (each chunk digest binds its chunk's bytes and length); version 3's costs
 * nothing beyond the chunk digests, where the other took a second SHA-256 pass over the whole
 * logical image, zeros of unused space included (docs/image-format.md, "Image hash"). A version 3
 * manifest's image hash is checked here, against its entries, when it is built or decoded.
 *
 * <p>Immutable and thread-safe.
 *
 * @param imageId identifies the image across copies and sessions
 * @param logicalSize size of the disk image in bytes
 * @param chunkSize logical bytes per chunk, a power of two from {@link #MIN_CHUNK_SIZE} to {@link
 *     #MAX_CHUNK_SIZE}
 * @param chunks one entry per chunk, entry {@code i} has index {@code i}
 * @param imageHash SHA-256 of all {@code logicalSize} logical bytes in order, or with {@code
 *     hashOfChunks} of the chunk digests in index order
 * @param hashOfChunks whether the image hash is that of the chunk digests (version 3)
 */
public record Manifest(
    UUID imageId,
    long logicalSize,
    int chunkSize,
    List<ChunkEntry> chunks,
    Sha256 imageHash,
    boolean hashOfChunks) {
  /** "CCMF": the first four bytes of an encoded manifest. */
  public static final int MAGIC = 0x43434D46;

  /**
   * The newest manifest layout this class writes and reads: the image hash of the chunk digests.
   */
  public static final int VERSION = 3;

  /** The layout that adds partial and UNUSED chunks. */
  public static final int PARTIAL_VERSION = 2;

  /** The oldest manifest layout this class reads (and writes for whole-disk images). */
  public static final int MIN_VERSION = 1;

  /** From version 2, the bit of an entry's kind byte that says a used-block bitmap follows. */
  public static final int PARTIAL_FLAG = 0x80;

  /** Smallest chunk size: one page. */
  public static final int MIN_CHUNK_SIZE = 4 * 1024;

  /** Largest chunk size: bounds the memory one chunk needs in every sender and receiver. */
  public static final int MAX_CHUNK_SIZE = 64 * 1024 * 1024;

  /** The chunk size used unless told otherwise. */
  public static final int DEFAULT_CHUNK_SIZE = 1024 * 1024;

  /** Bytes before the first entry: magic, version, flags, id, sizes, count, image hash. */
  public static final int FIXED_LENGTH = 4 + 2 + 2 + 16 + 8 + 4 + 4 + Sha256.LENGTH;

  /** Bytes of an entry for a stored chunk: kind, offset, length, digest. */
  public static final int STORED_ENTRY_LENGTH = 1 + 8 + 4 + Sha256.LENGTH;

  /**
   * Bytes of an entry for a ZERO or UNUSED chunk with no bitmap: just the kind (the rest is
   * implied).
   */
  public static final int ZERO_ENTRY_LENGTH = 1;

  /** Bytes of the trailing CRC-32C. */
  public static final int CRC_LENGTH = 4;

  public Manifest {
    Objects.requireNonNull(imageId, "imageId");
    Objects.requireNonNull(imageHash, "imageHash");
    chunks = List.copyOf(chunks);
    checkChunkSize(chunkSize);
    long want = chunkCount(logicalSize, chunkSize);
    if (want != chunks.size()) {
      throw new IllegalArgumentException(
          "logical size "
              + logicalSize
              + " in chunks of "
              + chunkSize
              + " needs "
              + want
              + " chunks, got "
              + chunks.size());
    }
    Sha256 fullZero = chunks.isEmpty() ? null : Zeros.hash(chunkSize);
    for (int i = 0; i < chunks.size(); i++) {
      ChunkEntry e = chunks.get(i);
      if (e.index() != i) {
        throw new IllegalArgumentException("chunk at position " + i + " has index " + e.index());
      }
      int len = logicalLength(logicalSize, chunkSize, i);
      if (!e.used().fits(len)) {
        throw new IllegalArgumentException(
            "chunk "
                + i
                + ": used-block map "
                + e.used()
                + " does not fit a chunk of "
                + len
                + " bytes ("
                + UsedBlocks.blockCount(len)
                + " blocks)");
      }
      switch (e.kind()) {
        case ZERO, UNUSED -> {
          Sha256 zero = len == chunkSize ? fullZero : Zeros.hash(len);
          if (!e.sha256().equals(zero)) {
            throw new IllegalArgumentException(
                "chunk " + i + ": " + e.kind() + " chunk with a digest other than that of zeros");
          }
        }
        case RAW -> {
          if (e.storedLength() != len) {
            throw new IllegalArgumentException(
                "chunk "
                    + i
                    + ": RAW stored length "
                    + e.storedLength()
                    + ", want logical length "
                    + len);
          }
        }
        case ZSTD -> {
          if (e.storedLength() >= len) {
            throw new IllegalArgumentException(
                "chunk "
                    + i
                    + ": ZSTD stored length "
                    + e.storedLength()
                    + " does not shrink logical length "
                    + len
                    + " (it would be stored RAW)");
          }
        }
      }
    }
    if (hashOfChunks) {
      Sha256 digests = hashOfChunkDigests(chunks);
      if (!digests.equals(imageHash)) {
        throw new IllegalArgumentException(
            "image sha256 "
                + imageHash.hex()
                + " is not that of the chunk digests, "
                + digests.hex());
      }
    }
  }

  /**
   * A manifest of versions 1 or 2: {@code imageHash} is the SHA-256 of all logical bytes in order.
   */
  public Manifest(
      UUID imageId, long logicalSize, int chunkSize, List<ChunkEntry> chunks, Sha256 imageHash) {
    this(imageId, logicalSize, chunkSize, chunks, imageHash, false);
  }

  /** A version 3 manifest: its image hash is that of the chunk digests, computed here. */
  public static Manifest ofChunks(
      UUID imageId, long logicalSize, int chunkSize, List<ChunkEntry> chunks) {
    return new Manifest(imageId, logicalSize, chunkSize, chunks, hashOfChunkDigests(chunks), true);
  }

  /**
   * The version 3 image hash: the SHA-256 of the 32-byte digests of {@code chunks} in their order
   * (ZERO and UNUSED chunks' digests are those of their zeros).
   */
  public static Sha256 hashOfChunkDigests(List<ChunkEntry> chunks) {
    MessageDigest d = Sha256.newDigest();
    for (ChunkEntry e : chunks) {
      d.update(e.sha256().bytes());
    }
    return Sha256.finish(d);
  }

  /** Throws unless {@code chunkSize} is a power of two within the allowed range. */
  public static void checkChunkSize(int chunkSize) {
    if (chunkSize < MIN_CHUNK_SIZE
        || chunkSize > MAX_CHUNK_SIZE
        || Integer.bitCount(chunkSize) != 1) {
      throw new IllegalArgumentException(
          "chunk size "
              + chunkSize
              + " is not a power of two from "
              + MIN_CHUNK_SIZE
              + " to "
              + MAX_CHUNK_SIZE);
    }
  }

  /**
   * How many chunks an image of {@code logicalSize} bytes has: {@code ceil(logicalSize /
   * chunkSize)}. Throws when that is negative or does not fit an {@code int}.
   */
  public static int chunkCount(long logicalSize, int chunkSize) {
    if (logicalSize < 0) {
      throw new IllegalArgumentException("logical size " + logicalSize + " is negative");
    }
    long n = logicalSize / chunkSize + (logicalSize % chunkSize == 0 ? 0 : 1);
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "logical size "
              + logicalSize
              + " needs "
              + n
              + " chunks of "
              + chunkSize
              + "; use a larger chunk size");
    }
    return (int) n;
  }

  private static int logicalLength(long logicalSize, int chunkSize, int index) {
    return (int) Math.min(chunkSize, logicalSize - (long) index * chunkSize);
  }

  /** Number of chunks. */
  public int chunkCount() {
    return chunks.size();
  }

  /** The entry of chunk {@code index}. */
  public ChunkEntry chunk(int index) {
    return chunks.get(index);
  }

  /** Logical bytes in chunk {@code index}: {@code chunkSize}, or less for the last chunk. */
  public int logicalLength(int index) {
    Objects.checkIndex(index, chunks.size());
    return logicalLength(logicalSize, chunkSize, index);
  }

  /** Where chunk {@code index} starts in the logical image. */
  public long logicalOffset(int index) {
    Objects.checkIndex(index, chunks.size());
    return (long) index * chunkSize;
  }

  /** Total stored bytes of all chunks. */
  public long storedBytes() {
    long sum = 0;
    for (ChunkEntry e : chunks) {
      sum += e.storedLength();
    }
    return sum;
  }

  /** How many chunks are stored as {@code kind}. */
  public int count(ChunkKind kind) {
    int n = 0;
    for (ChunkEntry e : chunks) {
      if (e.kind() == kind) {
        n++;
      }
    }
    return n;
  }

  /**
   * Used bytes of chunk {@code index}: its logical length less its unused blocks (0 for UNUSED).
   */
  public int usedBytes(int index) {
    return chunks.get(index).used().usedBytes(logicalLength(index));
  }

  /** Used bytes of all chunks: what the image carries of the disk, zeros included. */
  public long usedBytes() {
    long sum = 0;
    for (int i = 0; i < chunks.size(); i++) {
      sum += usedBytes(i);
    }
    return sum;
  }

  /**
   * Used bytes of the stored (ZSTD and RAW) chunks: what a receiver writes to a target that already
   * reads as zeros, such as a new sparse file.
   */
  public long dataBytes() {
    long sum = 0;
    for (int i = 0; i < chunks.size(); i++) {
      if (chunks.get(i).kind().isStored()) {
        sum += usedBytes(i);
      }
    }
    return sum;
  }

  /**
   * The layout version {@link #encode} writes: {@link #VERSION} when the image hash is that of the
   * chunk digests, else {@link #MIN_VERSION} when every block of every chunk is used, else {@link
   * #PARTIAL_VERSION}.
   */
  public int formatVersion() {
    if (hashOfChunks) {
      return VERSION;
    }
    for (ChunkEntry e : chunks) {
      if (!e.used().isAll()) {
        return PARTIAL_VERSION;
      }
    }
    return MIN_VERSION;
  }

  /** Encoded length in bytes. */
  public int encodedLength() {
    long n = FIXED_LENGTH + CRC_LENGTH;
    for (int i = 0; i < chunks.size(); i++) {
      n += entryLength(chunks.get(i), logicalLength(i));
    }
    return Math.toIntExact(n);
  }

  private static int entryLength(ChunkEntry e, int logicalLength) {
    return (e.kind().isStored() ? STORED_ENTRY_LENGTH : ZERO_ENTRY_LENGTH)
        + (e.isPartial() ? UsedBlocks.bitmapLength(logicalLength) : 0);
  }

  /**
   * The most bytes a manifest of {@code chunkCount} chunks of {@code chunkSize} can take: every
   * entry stored and partial. Bounds what a reader allocates for a manifest it was told the length
   * of.
   */
  public static long maxEncodedLength(int chunkCount, int chunkSize) {
    return FIXED_LENGTH
        + (long) chunkCount * (STORED_ENTRY_LENGTH + UsedBlocks.bitmapLength(chunkSize))
        + CRC_LENGTH;
  }

  /** Appends the encoded manifest (big-endian; layout in {@code docs/image-format.md}). */
  public void encode(ByteBuf out) {
    int start = out.writerIndex();
    out.writeInt(MAGIC); // magic "CCMF"
    out.writeShort(
        formatVersion()); // version: 1 unless some chunk is partial or UNUSED, 3 for the hash of
    // chunk digests
    out.writeShort(0); // flags
    out.writeLong(imageId.getMostSignificantBits()); // image id, 16 bytes
    out.writeLong(imageId.getLeastSignificantBits());
    out.writeLong(logicalSize); // logical size
    out.writeInt(chunkSize); // chunk size
    out.writeInt(chunks.size()); // chunk count
    imageHash.encode(out); // image sha256
    for (ChunkEntry e : chunks) {
      out.writeByte(e.kind().code() | (e.isPartial() ? PARTIAL_FLAG : 0)); // kind, partial flag
      if (e.isPartial()) {
        out.writeBytes(e.used().bitmap()); // used-block bitmap, bitmapLength(logical length) bytes
      }
      if (e.kind().isStored()) {
        out.writeLong(e.storedOffset()); // stored offset
        out.writeInt(e.storedLength()); // stored length
        e.sha256().encode(out); // chunk sha256
      }
    }
    out.writeInt(crc(out, start, out.writerIndex() - start)); // crc32c of all the above
  }

  /**
   * Reads one manifest at the reader index and leaves the reader index after it; bytes after it are
   * not read (room for a later signature block). Throws only {@link MalformedImageException}, with
   * the byte position (relative to the manifest start) of the problem.
   */
  public static Manifest decode(ByteBuf in) {
    int start = in.readerIndex();
    try {
      return decode(in, start);
    } catch (IndexOutOfBoundsException e) {
      // Every read below is length-checked first; this is a last line of defence.
      throw new MalformedImageException(
          "manifest truncated at byte " + (in.readerIndex() - start), e);
    }
  }

  private static Manifest decode(ByteBuf in, int start) {
    if (in.readableBytes() < FIXED_LENGTH + CRC_LENGTH) {
      throw new MalformedImageException(
          "manifest truncated: "
              + in.readableBytes()
              + " bytes, the fixed part alone is "
              + (FIXED_LENGTH + CRC_LENGTH));
    }
    int magic = in.readInt();
    if (magic != MAGIC) {
      throw new MalformedImageException(
          String.format("manifest: bad magic 0x%08x, want 0x%08x (\"CCMF\")", magic, MAGIC));
    }
    int version =
        FormatVersion.read(in, "manifest: version", "manifest: flags", MIN_VERSION, VERSION);
    UUID id = new UUID(in.readLong(), in.readLong());
    long logicalSize = in.readLong();
    int chunkSize = in.readInt();
    long declared = in.readUnsignedInt();
    Sha256 imageHash = Sha256.decode(in);
    if (logicalSize < 0) {
      throw new MalformedImageException("manifest: logical size " + logicalSize + " is negative");
    }
    int count;
    try {
      checkChunkSize(chunkSize);
      count = chunkCount(logicalSize, chunkSize);
    } catch (IllegalArgumentException e) {
      throw new MalformedImageException("manifest: " + e.getMessage());
    }
    if (declared != count) {
      throw new MalformedImageException(
          "manifest: chunk count "
              + declared
              + ", want "
              + count
              + " for logical size "
              + logicalSize
              + " in chunks of "
              + chunkSize);
    }
    // Hostile input: never allocate for more entries than the remaining bytes could hold.
    long minRemaining = (long) count * ZERO_ENTRY_LENGTH + CRC_LENGTH;
    if (in.readableBytes() < minRemaining) {
      throw new MalformedImageException(
          "manifest truncated: "
              + count
              + " chunks need at least "
              + minRemaining
              + " more bytes, "
              + in.readableBytes()
              + " remain");
    }
    Sha256 fullZero = count == 0 ? null : Zeros.hash(chunkSize);
    List<ChunkEntry> chunks = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int at = in.readerIndex() - start;
      int kindByte = in.readUnsignedByte();
      boolean partial = version >= PARTIAL_VERSION && (kindByte & PARTIAL_FLAG) != 0;
      int code = partial ? kindByte & ~PARTIAL_FLAG : kindByte;
      ChunkKind kind;
      try {
        kind = ChunkKind.fromCode(code);
      } catch (MalformedImageException e) {
        throw new MalformedImageException(
            "manifest: chunk " + i + " at byte " + at + ": " + e.getMessage());
      }
      if (kind == ChunkKind.UNUSED && (version < PARTIAL_VERSION || partial)) {
        throw new MalformedImageException(
            "manifest: chunk "
                + i
                + " at byte "
                + at
                + ": "
                + (partial
                    ? "UNUSED chunk with a used-block bitmap"
                    : "chunk kind code 3 (UNUSED) in version 1"));
      }
      int len = logicalLength(logicalSize, chunkSize, i);
      UsedBlocks used = kind == ChunkKind.UNUSED ? UsedBlocks.none() : UsedBlocks.all();
      if (partial) {
        used = readBitmap(in, i, at, len);
      }
      if (!kind.isStored()) {
        Sha256 zero = len == chunkSize ? fullZero : Zeros.hash(len);
        chunks.add(new ChunkEntry(i, kind, 0, 0, zero, used));
        continue;
      }
      if (in.readableBytes() < STORED_ENTRY_LENGTH - 1 + CRC_LENGTH) {
        throw new MalformedImageException(
            "manifest truncated in chunk "
                + i
                + " at byte "
                + at
                + ": entry needs "
                + (STORED_ENTRY_LENGTH - 1)
                + " more bytes plus the crc, "
                + in.readableBytes()
                + " remain");
      }
      long offset = in.readLong();
      long length = in.readUnsignedInt();
      Sha256 sha = Sha256.decode(in);
      if (offset < 0 || length > Integer.MAX_VALUE || offset > Long.MAX_VALUE - length) {
        throw new MalformedImageException(
            "manifest: chunk "
                + i
                + " at byte "
                + at
                + ": stored offset "
                + Long.toUnsignedString(offset)
                + " length "
                + length
                + " out of range");
      }
      try {
        chunks.add(new ChunkEntry(i, kind, offset, (int) length, sha, used));
      } catch (IllegalArgumentException e) {
        throw new MalformedImageException("manifest: at byte " + at + ": " + e.getMessage());
      }
    }
    int crcAt = in.readerIndex();
    if (in.readableBytes() < CRC_LENGTH) {
      throw new MalformedImageException(
          "manifest truncated at byte " + (crcAt - start) + ": crc32c missing");
    }
    int crc = in.readInt();
    int want = crc(in, start, crcAt - start);
    if (crc != want) {
      throw new MalformedImageException(
          String.format(
              "manifest: crc32c 0x%08x at byte %d, computed 0x%08x: the manifest is damaged",
              crc, crcAt - start, want));
    }
    try {
      return new Manifest(id, logicalSize, chunkSize, chunks, imageHash, version >= VERSION);
    } catch (IllegalArgumentException e) {
      throw new MalformedImageException("manifest: " + e.getMessage());
    }
  }

  /**
   * Reads the bitmap of a partial entry. One encoding per map: a bitmap with every block used is
   * written as no bitmap, one with none as UNUSED, so either here is malformed.
   */
  private static UsedBlocks readBitmap(ByteBuf in, int i, int at, int logicalLength) {
    int n = UsedBlocks.bitmapLength(logicalLength);
    if (in.readableBytes() < n + CRC_LENGTH) {
      throw new MalformedImageException(
          "manifest truncated in chunk "
              + i
              + " at byte "
              + at
              + ": used-block bitmap needs "
              + n
              + " bytes plus the crc, "
              + in.readableBytes()
              + " remain");
    }
    byte[] bitmap = new byte[n];
    in.readBytes(bitmap);
    UsedBlocks used;
    try {
      used = UsedBlocks.of(bitmap, UsedBlocks.blockCount(logicalLength));
    } catch (IllegalArgumentException e) {
      throw new MalformedImageException(
          "manifest: chunk " + i + " at byte " + at + ": " + e.getMessage());
    }
    if (used.isAll()) {
      throw new MalformedImageException(
          "manifest: chunk "
              + i
              + " at byte "
              + at
              + ": partial flag with every block used (write no bitmap)");
    }
    return used;
  }

  private static int crc(ByteBuf buf, int index, int length) {
    CRC32C crc = new CRC32C();
    crc.update(buf.nioBuffer(index, length));
    return (int) crc.getValue();
  }
}

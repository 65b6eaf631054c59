package org.clonecast.common.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Optional;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.Manifest;

/**
 * Where an image's stored chunks sit in its {@code .cci} layout, ordered by offset, so that the
 * chunks filling a byte range are found by binary search instead of a walk over the whole manifest
 * (a 1 TB disk in 1 MiB chunks has a million entries, and the unicast fallback asks for a range at
 * a time).
 */
public final class StoredLayout {
  private final int[] index;
  private final long[] start;
  private final long[] end;
  private final Optional<String> overlap;
  private final long regionEnd;

  private StoredLayout(int[] index, long[] start, long[] end, Optional<String> overlap) {
    this.index = index;
    this.start = start;
    this.end = end;
    this.overlap = overlap;
    this.regionEnd = Arrays.stream(end).max().orElse(0);
  }

  /** The stored chunks of {@code manifest}, by offset; ZERO and UNUSED chunks store nothing. */
  public static StoredLayout of(Manifest manifest) {
    ChunkEntry[] stored =
        manifest.chunks().stream()
            .filter(e -> e.storedLength() > 0)
            .sorted(Comparator.comparingLong(ChunkEntry::storedOffset))
            .toArray(ChunkEntry[]::new);
    int[] index = new int[stored.length];
    long[] start = new long[stored.length];
    long[] end = new long[stored.length];
    Optional<String> overlap = Optional.empty();
    for (int i = 0; i < stored.length; i++) {
      index[i] = stored[i].index();
      start[i] = stored[i].storedOffset();
      end[i] = stored[i].storedEnd();
      if (i > 0 && start[i] < end[i - 1] && overlap.isEmpty()) {
        overlap =
            Optional.of(
                "chunks " + index[i - 1] + " and " + index[i] + " overlap in the image's layout");
      }
    }
    return new StoredLayout(index, start, end, overlap);
  }

  /** The stored chunks' extent: {@code [first, end)}, or {@code [0, 0)} when nothing is stored. */
  public long regionStart() {
    return start.length == 0 ? 0 : start[0];
  }

  /** See {@link #regionStart}. */
  public long regionEnd() {
    return regionEnd;
  }

  /**
   * Bytes {@code [first, first + length)} of the {@code .cci} layout, from the stored chunks of
   * {@code src} that fill them (wherever it keeps them: a chunk pool or one file).
   *
   * @throws IOException when a chunk cannot be read, stored chunks do not fill the range, or they
   *     overlap (a layout no writer of this project makes)
   */
  public byte[] read(ChunkSource src, long first, int length) throws IOException {
    if (overlap.isPresent()) throw new IOException(overlap.get());
    byte[] out = new byte[length];
    long last = first + length;
    // The first chunk ending after `first`: ends ascend, as the chunks are disjoint and sorted.
    int i = Arrays.binarySearch(end, first);
    i = i >= 0 ? i + 1 : -i - 1;
    long filled = 0;
    for (; i < start.length && start[i] < last; i++) {
      ByteBuffer stored = src.readStored(index[i]);
      long from = Math.max(start[i], first);
      long to = Math.min(end[i], last);
      stored.position((int) (from - start[i]));
      stored.get(out, (int) (from - first), (int) (to - from));
      filled += to - from;
    }
    if (filled != length) {
      throw new IOException(
          "stored chunks fill " + filled + " of the " + length + " bytes from " + first);
    }
    return out;
  }
}

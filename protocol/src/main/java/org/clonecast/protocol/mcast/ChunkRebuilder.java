package org.clonecast.protocol.mcast;

import java.util.Arrays;
import org.clonecast.protocol.fec.CauchyCode;

/**
 * Turns a {@link ReceiverMachine.CompleteChunk} back into the chunk's stored bytes: rebuilds lost
 * source symbols from repair rows stripe by stripe, then concatenates the sources. Stateless and
 * thread-safe; runs on the receiver's worker threads, never the network thread.
 */
public final class ChunkRebuilder {
  private ChunkRebuilder() {}

  /**
   * Rebuilds the chunk's lost source symbols in place in {@code c.data()}; afterwards its first
   * {@code layout.storedLength()} bytes are the chunk's stored bytes. Stripes that lost nothing
   * cost nothing; an intact chunk is returned untouched.
   */
  public static byte[] rebuild(ReceiverMachine.CompleteChunk c) {
    if (c.intact()) return c.data();
    SymbolLayout layout = c.layout();
    int size = layout.symbolSize();
    byte[] data = c.data();
    for (int s = 0; s < layout.stripes(); s++) {
      int k = layout.stripeSources(s);
      boolean[] present = new boolean[k];
      int missing = 0;
      for (int p = 0; p < k; p++) {
        present[p] = c.present()[layout.symbolAt(s, p)];
        if (!present[p]) missing++;
      }
      if (missing == 0) continue;
      byte[][] src = new byte[k][];
      for (int p = 0; p < k; p++) {
        int at = layout.symbolAt(s, p) * size;
        src[p] = present[p] ? Arrays.copyOfRange(data, at, at + size) : new byte[size];
      }
      CauchyCode.PARITY_FIRST.reconstruct(src, present, k, c.repairs()[s], c.repairRows()[s], size);
      for (int p = 0; p < k; p++) {
        if (!present[p]) System.arraycopy(src[p], 0, data, layout.symbolAt(s, p) * size, size);
      }
    }
    return data;
  }

  /**
   * The source symbols of one stripe of a chunk's stored bytes, each zero-padded to a full symbol.
   */
  public static byte[][] stripeSources(byte[] stored, SymbolLayout layout, int stripe) {
    int k = layout.stripeSources(stripe);
    byte[][] src = new byte[k][];
    for (int p = 0; p < k; p++) {
      int j = layout.symbolAt(stripe, p);
      src[p] = new byte[layout.symbolSize()];
      System.arraycopy(stored, layout.offsetOf(j), src[p], 0, layout.lengthOf(j));
    }
    return src;
  }

  /**
   * Encodes repair row {@code row} over a stripe's sources (from {@link #stripeSources}) into
   * {@code out}.
   */
  public static void encodeRepair(byte[][] stripeSources, int row, byte[] out) {
    CauchyCode.PARITY_FIRST.encodeRow(row, stripeSources, stripeSources.length, out.length, out, 0);
  }

  /**
   * Encodes repair row {@code row} of stripe {@code stripe} of a chunk's stored bytes into {@code
   * out}.
   */
  public static void encodeRepair(
      byte[] stored, SymbolLayout layout, int stripe, int row, byte[] out) {
    encodeRepair(stripeSources(stored, layout, stripe), row, out);
  }
}

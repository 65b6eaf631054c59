package org.clonecast.protocol.mcast;

import org.clonecast.protocol.fec.CauchyCode;

/**
 * Turns a {@link ReceiverMachine.CompleteChunk} back into the chunk's stored bytes: rebuilds
 * lost source symbols from repair rows stripe by stripe, then concatenates the sources.
 * Stateless and thread-safe; runs on the receiver's worker threads, never the network thread.
 */
public final class ChunkRebuilder {
  private ChunkRebuilder() {}

  /** The chunk's stored bytes ({@code layout.storedLength()} long). */
  public static byte[] rebuild(ReceiverMachine.CompleteChunk c) {
    SymbolLayout layout = c.layout();
    int stripes = layout.stripes();
    int size = layout.symbolSize();
    for (int s = 0; s < stripes; s++) {
      int k = layout.stripeSources(s);
      byte[][] src = new byte[k][];
      boolean[] present = new boolean[k];
      int missing = 0;
      for (int p = 0; p < k; p++) {
        src[p] = c.sources()[layout.symbolAt(s, p)];
        present[p] = src[p] != null;
        if (!present[p]) {
          src[p] = new byte[size];
          missing++;
        }
      }
      if (missing == 0) continue;
      CauchyCode.PARITY_FIRST.reconstruct(src, present, k, c.repairs()[s], c.repairRows()[s], size);
      for (int p = 0; p < k; p++) c.sources()[layout.symbolAt(s, p)] = src[p];
    }
    byte[] out = new byte[layout.storedLength()];
    for (int j = 0; j < layout.sourceCount(); j++) {
      System.arraycopy(c.sources()[j], 0, out, layout.offsetOf(j), layout.lengthOf(j));
    }
    return out;
  }

  /** The source symbols of one stripe of a chunk's stored bytes, each zero-padded to a full symbol. */
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

  /** Encodes repair row {@code row} over a stripe's sources (from {@link #stripeSources}) into {@code out}. */
  public static void encodeRepair(byte[][] stripeSources, int row, byte[] out) {
    CauchyCode.PARITY_FIRST.encodeRow(row, stripeSources, stripeSources.length, out.length, out, 0);
  }

  /** Encodes repair row {@code row} of stripe {@code stripe} of a chunk's stored bytes into {@code out}. */
  public static void encodeRepair(byte[] stored, SymbolLayout layout, int stripe, int row, byte[] out) {
    encodeRepair(stripeSources(stored, layout, stripe), row, out);
  }
}

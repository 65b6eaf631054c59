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
      CauchyCode.decode(src, present, k, c.repairs()[s], c.repairRows()[s], size);
      for (int p = 0; p < k; p++) c.sources()[layout.symbolAt(s, p)] = src[p];
    }
    byte[] out = new byte[layout.storedLength()];
    for (int j = 0; j < layout.sourceCount(); j++) {
      System.arraycopy(c.sources()[j], 0, out, layout.offsetOf(j), layout.lengthOf(j));
    }
    return out;
  }

  /** Encodes repair row {@code row} of stripe {@code stripe} of a chunk's stored bytes into {@code out}. */
  public static void encodeRepair(byte[] stored, SymbolLayout layout, int stripe, int row, byte[] out) {
    int k = layout.stripeSources(stripe);
    int size = layout.symbolSize();
    byte[][] src = new byte[k][];
    for (int p = 0; p < k; p++) {
      int j = layout.symbolAt(stripe, p);
      int len = layout.lengthOf(j);
      if (len == size) {
        src[p] = java.util.Arrays.copyOfRange(stored, layout.offsetOf(j), layout.offsetOf(j) + size);
      } else {
        src[p] = new byte[size];
        System.arraycopy(stored, layout.offsetOf(j), src[p], 0, len);
      }
    }
    CauchyCode.encode(row, src, k, size, out, 0);
  }
}

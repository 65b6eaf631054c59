package org.clonecast.protocol.mcast;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class SymbolLayoutTest {

  @Test
  void oneMebibyteRawChunkAtMtu1500() {
    SymbolLayout l = new SymbolLayout(1 << 20, 1452);
    assertEquals(723, l.sourceCount());
    assertEquals(23, l.stripes()); // 32 sources at most per stripe
    assertEquals((1 << 20) - 722 * 1452, l.lengthOf(722));
  }

  @Test
  void symbolSizeForAnMtuLeavesRoomForTheHeadersAndStaysWithinTheWireFormat() {
    assertEquals(1452, SymbolLayout.symbolSizeFor(1500));
    assertEquals(8952, SymbolLayout.symbolSizeFor(9000));
    // Loopback's MTU: the rest of the 64 KiB would exceed what a WELCOME may name.
    assertEquals(SymbolLayout.MAX_SYMBOL_SIZE, SymbolLayout.symbolSizeFor(65536));
  }

  @Property
  void stripesPartitionTheSymbols(
      @ForAll @IntRange(min = 1, max = 4_000_000) int stored,
      @ForAll @IntRange(min = 256, max = 9000) int symbol) {
    SymbolLayout l;
    try {
      l = new SymbolLayout(stored, symbol);
    } catch (IllegalArgumentException tooBig) {
      assertTrue(stored > SymbolLayout.maxStoredLength(symbol));
      return;
    }
    Set<Integer> seen = new HashSet<>();
    int total = 0;
    for (int s = 0; s < l.stripes(); s++) {
      int k = l.stripeSources(s);
      assertTrue(k >= 1 && k <= SymbolLayout.MAX_STRIPE_SOURCES, "stripe " + s + " has " + k);
      for (int p = 0; p < k; p++) {
        int j = l.symbolAt(s, p);
        assertEquals(s, l.stripeOf(j));
        assertEquals(p, l.positionOf(j));
        assertTrue(seen.add(j));
      }
      total += k;
    }
    assertEquals(l.sourceCount(), total);
    int bytes = 0;
    for (int j = 0; j < l.sourceCount(); j++) bytes += l.lengthOf(j);
    assertEquals(stored, bytes);
  }

  @Test
  void tooLargeAChunkIsRefusedWithAHint() {
    var e = assertThrows(IllegalArgumentException.class, () -> new SymbolLayout(64 << 20, 1452));
    assertTrue(e.getMessage().contains("smaller chunk size or larger symbols"), e.getMessage());
  }
}

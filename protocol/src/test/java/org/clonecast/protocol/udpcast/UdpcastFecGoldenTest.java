package org.clonecast.protocol.udpcast;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.clonecast.protocol.fec.CauchyCode;
import org.clonecast.protocol.wire.ByteBufs;
import org.junit.jupiter.api.Test;

/**
 * Interop of {@link CauchyCode} and {@link UdpcastFecLayout} with a real {@code udp-sender --async
 * --fec 8x8/128} (asyncfec.pcap, blocksize 1456): our encoder reproduces every FEC payload of a
 * slice byte for byte from that slice's DATA payloads, and our decoder rebuilds lost DATA blocks
 * from udpcast's FEC blocks.
 *
 * <p>What the capture settles, beyond docs/ref/udpcast-protocol.md §1.10: the doc calls the code
 * "Reed–Solomon/Vandermonde"; the matrix is the Cauchy one c(r,k) = (0x80 ⊕ k ⊕ r)^−1 it also
 * gives, and that formula is right. The slice is not S×Z blocks here but 206 (the input was short):
 * stripes simply hold ⌈(n − s)/S⌉ blocks. The short last block is zero-padded. Repair blocks of
 * stripes without data, and all repair blocks of the zero-byte end slice, carry no code at all:
 * zeros in slice 1 (fresh buffer), stale copies of slice 0's repair blocks in the end slice.
 */
class UdpcastFecGoldenTest {
  private static final int BLOCKSIZE = Udpcast.DEFAULT_BLOCKSIZE;

  /** A slice as captured: data blocks by number, FEC messages by index. */
  private record Slice(int bytes, int stripes, byte[][] data, Fec[] fec) {
    int dataBlocks() {
      return (bytes + BLOCKSIZE - 1) / BLOCKSIZE;
    }
  }

  private static Slice slice(String golden) {
    List<Data> data = new ArrayList<>();
    List<Fec> fec = new ArrayList<>();
    for (byte[] packet : UdpcastGoldens.entry(golden).packets()) {
      UdpcastMessage m = UdpcastMessage.decode(Unpooled.wrappedBuffer(packet));
      if (m instanceof Data d) {
        data.add(d);
      } else {
        fec.add((Fec) m);
      }
    }
    int bytes = data.get(0).bytes();
    byte[][] blocks = new byte[(bytes + BLOCKSIZE - 1) / BLOCKSIZE][];
    data.forEach(d -> blocks[d.blockNo()] = ByteBufs.toByteArray(d.payload()));
    Fec[] byIndex = new Fec[fec.size()];
    fec.forEach(f -> byIndex[f.blockNo()] = f);
    return new Slice(bytes, fec.get(0).stripes(), blocks, byIndex);
  }

  @Test
  void everyRepairBlockOfAFullSliceIsReproduced() {
    Slice s = slice("asyncfec-slice0");
    assertEquals(299936, s.bytes());
    assertEquals(206, s.dataBlocks());
    assertEquals(8, s.stripes());
    assertEquals(64, s.fec().length); // 8 stripes x redundancy 8
    UdpcastFecLayout layout = new UdpcastFecLayout(s.stripes());
    for (Fec f : s.fec()) {
      assertNotNull(f, "FEC index missing from the capture");
      assertEquals(s.bytes(), f.bytes());
      byte[] ours = new byte[BLOCKSIZE];
      layout.encodeFec(s.data(), s.dataBlocks(), BLOCKSIZE, f.blockNo(), ours, 0);
      assertArrayEquals(ByteBufs.toByteArray(f.payload()), ours, "FEC index " + f.blockNo());
    }
  }

  /**
   * S = R = 8 here, so "stripe i mod S, row i div S" and its transpose "stripe i div R, row i mod
   * R" are the two readings of the FEC index; the capture rules out the transpose.
   */
  @Test
  void theTransposedIndexReadingDoesNotMatch() {
    Slice s = slice("asyncfec-slice0");
    UdpcastFecLayout layout = new UdpcastFecLayout(s.stripes());
    Fec f = s.fec()[1]; // stripe 1 row 0 per the doc; stripe 0 row 1 if transposed
    byte[][] stripe0 = layout.stripeSources(s.data(), s.dataBlocks(), 0);
    byte[] transposed = new byte[BLOCKSIZE];
    CauchyCode.encode(1, stripe0, stripe0.length, BLOCKSIZE, transposed, 0);
    assertFalse(Arrays.equals(ByteBufs.toByteArray(f.payload()), transposed));
  }

  @Test
  void theShortLastBlockIsZeroPadded() {
    Slice s = slice("asyncfec-slice1");
    assertEquals(64, s.bytes());
    assertEquals(64, s.data()[0].length);
    UdpcastFecLayout layout = new UdpcastFecLayout(s.stripes());
    for (int row = 0; row < 8; row++) {
      Fec f = s.fec()[layout.fecBlockNo(0, row)];
      byte[] ours = new byte[BLOCKSIZE];
      layout.encodeFec(s.data(), 1, BLOCKSIZE, f.blockNo(), ours, 0);
      assertArrayEquals(ByteBufs.toByteArray(f.payload()), ours, "row " + row);

      // Padding with anything but zeros would change the repair block.
      byte[] padded = Arrays.copyOf(s.data()[0], BLOCKSIZE);
      Arrays.fill(padded, 64, BLOCKSIZE, (byte) 0xFF);
      byte[] wrong = new byte[BLOCKSIZE];
      CauchyCode.encode(row, new byte[][] {padded}, 1, BLOCKSIZE, wrong, 0);
      assertFalse(Arrays.equals(ours, wrong));
    }
  }

  /**
   * Observed, not specified: what udpcast sends for stripes that hold no data. Receivers must
   * ignore it.
   */
  @Test
  void repairBlocksWithoutDataAreLeftoverBuffers() {
    Slice s1 = slice("asyncfec-slice1");
    for (Fec f : s1.fec()) {
      if (f.blockNo() % s1.stripes() != 0) { // stripes 1..7 of a one-block slice are empty
        assertEquals(
            -1, f.payload().forEachByte(b -> b == 0), "FEC " + f.blockNo() + " not all zero");
      }
    }
    Fec end =
        (Fec)
            UdpcastMessage.decode(
                Unpooled.wrappedBuffer(UdpcastGoldens.entry("asyncfec-fec-end").packet()));
    assertEquals(2, end.sliceNo());
    assertEquals(0, end.bytes());
    assertEquals(
        slice("asyncfec-slice0").fec()[0].payload(), end.payload()); // stale slice-0 buffer
  }

  /**
   * Our decoder recovers udpcast's data: lose R = 8 blocks of one stripe and 1 of another, rebuild
   * from the captured FEC.
   */
  @Test
  void lostDataBlocksAreRebuiltFromUdpcastRepairBlocks() {
    Slice s = slice("asyncfec-slice0");
    UdpcastFecLayout layout = new UdpcastFecLayout(s.stripes());
    for (int stripe : new int[] {3, 5}) {
      byte[][] original = layout.stripeSources(s.data(), s.dataBlocks(), stripe);
      int k = original.length;
      int lose = stripe == 3 ? 8 : 1;
      byte[][] sources = original.clone();
      boolean[] present = new boolean[k];
      Arrays.fill(present, true);
      for (int t = 0; t < lose; t++) {
        int position = (t * 3 + 1) % k;
        present[position] = false;
        sources[position] = null;
      }
      // receive the repair rows in an odd order, as after reordering
      int[] rows = {7, 2, 5, 0, 6, 1, 4, 3};
      byte[][] repairs = new byte[rows.length][];
      for (int i = 0; i < rows.length; i++) {
        repairs[i] = ByteBufs.toByteArray(s.fec()[layout.fecBlockNo(stripe, rows[i])].payload());
      }
      CauchyCode.decode(sources, present, k, repairs, rows, BLOCKSIZE);
      for (int position = 0; position < k; position++) {
        assertArrayEquals(
            original[position], sources[position], "stripe " + stripe + " position " + position);
      }
    }
  }
}

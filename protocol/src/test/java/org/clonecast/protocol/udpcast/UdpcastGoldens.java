package org.clonecast.protocol.udpcast;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Predicate;
import org.clonecast.protocol.testutil.Golden;
import org.clonecast.protocol.testutil.Pcap.Udp;

/**
 * Which packets of the udpcast reference captures (stock udpcast 20120424; docs/ref/captures.md)
 * the golden tests take.
 */
public final class UdpcastGoldens {
  /**
   * One golden: the packets of {@code capture}.pcap that {@code select} keeps, in capture order.
   *
   * @param single whether exactly one packet is expected (the first match); else all matches
   */
  public record Entry(
      String name, String capture, String what, boolean single, Predicate<Udp> select) {
    /**
     * @return the packets this entry takes from its capture
     */
    public List<byte[]> packets() {
      List<byte[]> matches =
          Golden.udp("udpcast", capture).stream().filter(select).map(Udp::payload).toList();
      if (matches.isEmpty()) {
        throw new IllegalStateException(name + ": no packet in " + capture + ".pcap matches");
      }
      return single ? List.of(matches.get(0)) : matches;
    }

    /**
     * @return the single packet of a {@link #single} entry
     */
    public byte[] packet() {
      if (!single) {
        throw new IllegalStateException(name + " holds every match, not one packet");
      }
      return packets().get(0);
    }
  }

  /** Every golden of this package. GO, HELLO_NEW and HELLO_STREAMING appear in no capture. */
  public static final List<Entry> ENTRIES =
      List.of(
          first(
              "mc2-connect-req",
              "mc2",
              "first CONNECT_REQ (receiver .11, broadcast at start)",
              op(Udpcast.OP_CONNECT_REQ)),
          first("mc2-hello", "mc2", "first HELLO (opcode 0x0500, caps 0x09)", op(Udpcast.OP_HELLO)),
          first(
              "mc2-connect-reply",
              "mc2",
              "first CONNECT_REPLY (clNr 0 to .11)",
              op(Udpcast.OP_CONNECT_REPLY)),
          first(
              "mc2-data",
              "mc2",
              "DATA slice 0 block 0, full block",
              op(Udpcast.OP_DATA).and(slice(0)).and(block(0))),
          first(
              "mc2-data-short",
              "mc2",
              "DATA slice 2 block 0: the 64-byte tail of the file",
              op(Udpcast.OP_DATA).and(slice(2))),
          first(
              "mc2-reqack-ready",
              "mc2",
              "first REQACK with a non-empty readySet (slice 1, rxmit 1, {0})",
              op(Udpcast.OP_REQACK).and(u -> !allZero(u.payload(), 16, 144))),
          first(
              "mc2-reqack-end",
              "mc2",
              "REQACK bytes=0: end of transfer",
              op(Udpcast.OP_REQACK).and(i32(8, 0))),
          first("mc2-ok", "mc2", "first OK (slice 0 from .11)", op(Udpcast.OP_OK)),
          first(
              "mc2-retransmit",
              "mc2",
              "first RETRANSMIT (slice 1: blocks 0-67 present)",
              op(Udpcast.OP_RETRANSMIT)),
          first("mc2-disconnect", "mc2", "first DISCONNECT", op(Udpcast.OP_DISCONNECT)),
          first(
              "p2p1-retransmit-none",
              "p2p1",
              "RETRANSMIT of slice 1 with an empty map (whole slice lost)",
              op(Udpcast.OP_RETRANSMIT).and(slice(1))),
          first(
              "loss5-retransmit",
              "loss5",
              "first RETRANSMIT under 5% loss (slice 0, 105 blocks present)",
              op(Udpcast.OP_RETRANSMIT)),
          first(
              "loss5-reqack",
              "loss5",
              "first REQACK of round 1 (slice 0, readySet {1})",
              op(Udpcast.OP_REQACK).and(i32(12, 1))),
          first(
              "asyncfec-hello",
              "asyncfec",
              "first HELLO with --async (caps 0x29)",
              op(Udpcast.OP_HELLO)),
          first(
              "asyncfec-fec",
              "asyncfec",
              "first FEC (slice 0, index 0, 8 stripes)",
              op(Udpcast.OP_FEC)),
          first(
              "asyncfec-fec-end",
              "asyncfec",
              "first FEC of the zero-byte end slice 2",
              op(Udpcast.OP_FEC).and(i32(12, 0))),
          all(
              "asyncfec-slice0",
              "asyncfec",
              "slice 0: all DATA and FEC packets (206 + 64), capture order",
              op(Udpcast.OP_DATA).or(op(Udpcast.OP_FEC)).and(slice(0))),
          all(
              "asyncfec-slice1",
              "asyncfec",
              "slice 1: all DATA and FEC packets (1 short block + 64), capture order",
              op(Udpcast.OP_DATA).or(op(Udpcast.OP_FEC)).and(slice(1))));

  private UdpcastGoldens() {}

  /**
   * @return the entry named {@code name}
   */
  public static Entry entry(String name) {
    return ENTRIES.stream()
        .filter(e -> e.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no golden entry " + name));
  }

  private static Entry first(String name, String capture, String what, Predicate<Udp> select) {
    return new Entry(name, capture, what, true, select);
  }

  private static Entry all(String name, String capture, String what, Predicate<Udp> select) {
    return new Entry(name, capture, what, false, select);
  }

  private static Predicate<Udp> op(int opcode) {
    return u -> u.opcode() == opcode;
  }

  private static Predicate<Udp> slice(int sliceNo) {
    return i32(4, sliceNo);
  }

  private static Predicate<Udp> block(int blockNo) {
    return u ->
        u.payload().length >= 10
            && ((u.payload()[8] & 0xFF) << 8 | (u.payload()[9] & 0xFF)) == blockNo;
  }

  /** The big-endian i32 at {@code offset} equals {@code value}. */
  private static Predicate<Udp> i32(int offset, int value) {
    return u ->
        u.payload().length >= offset + 4 && ByteBuffer.wrap(u.payload()).getInt(offset) == value;
  }

  private static boolean allZero(byte[] b, int from, int to) {
    for (int i = from; i < Math.min(to, b.length); i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }
}

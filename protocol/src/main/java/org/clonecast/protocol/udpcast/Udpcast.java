package org.clonecast.protocol.udpcast;

import java.net.Inet4Address;
import org.clonecast.protocol.wire.Ipv4;

/**
 * Constants of the udpcast 20120424 protocol (docs/ref/udpcast-protocol.md §1.1–§1.3, §1.6), named
 * after udpcast's C identifiers, and the data-group derivation of §1.1.
 *
 * <p>Stateless; thread-safe.
 */
public final class Udpcast {
  // Opcodes (§1.2), the first u16 of every message. 5 was the obsolete little-endian HELLO.
  public static final int OP_OK = 0;
  public static final int OP_RETRANSMIT = 1;
  public static final int OP_GO = 2;
  public static final int OP_CONNECT_REQ = 3;
  public static final int OP_DISCONNECT = 4;
  public static final int OP_REQACK = 6;
  public static final int OP_CONNECT_REPLY = 7;
  public static final int OP_DATA = 8;
  public static final int OP_FEC = 9;

  /** Accepted by 20120424 receivers, never sent by its sender. */
  public static final int OP_HELLO_NEW = 10;

  /** Sent inside slices with {@code --streaming}. */
  public static final int OP_HELLO_STREAMING = 11;

  /** What the 20120424 sender actually sends as HELLO. */
  public static final int OP_HELLO = 0x0500;

  /**
   * clonecast's IMAGE_INFO ({@link ImageInfo}), sent only to a receiver that set {@link
   * #CAP_CLONECAST} and only by a sender that set it too: no stock peer ever sees it.
   */
  public static final int OP_IMAGE_INFO = 0x4343;

  // Capability bits (§1.3), a u32 in HELLO, CONNECT_REQ and CONNECT_REPLY.
  /** Capabilities word present, multicast data; always set by both sides. */
  public static final int CAP_NEW_GEN = 0x0001;

  /** Obsolete (commented out in udpcast). */
  public static final int CAP_MULTICAST = 0x0002;

  /** Defined but never sent or checked: FEC is not negotiated. */
  public static final int CAP_FEC = 0x0004;

  /** Always set: all integers are big-endian. */
  public static final int CAP_BIG_ENDIAN = 0x0008;

  /** Obsolete. */
  public static final int CAP_LITTLE_ENDIAN = 0x0010;

  /** Set in HELLO by {@code --async}: receivers become passive. */
  public static final int CAP_ASYNC = 0x0020;

  /**
   * clonecast's extensions (image length and SHA-256, {@link ImageInfo}): a receiver sets it in
   * CONNECT_REQ, a sender that has them answers with it in that receiver's CONNECT_REPLY. The
   * 20120424 sender ANDs unknown receiver bits away and replies with its own, and its receiver
   * tests only NEW_GEN and ASYNC (docs/ref/udpcast-protocol.md §2), so neither ever sees it. A high
   * bit, far from udpcast's own.
   */
  public static final int CAP_CLONECAST = 0x0001_0000;

  /** What a stock receiver sends and a stock sender starts with: NEW_GEN | BIG_ENDIAN. */
  public static final int CAPS_DEFAULT = CAP_NEW_GEN | CAP_BIG_ENDIAN;

  /** Default {@code --portbase}: receivers listen on it, the sender on portbase+1. */
  public static final int DEFAULT_PORTBASE = 9000;

  /** Default and documented maximum block size: 1472-byte UDP payloads with the 16-byte header. */
  public static final int DEFAULT_BLOCKSIZE = 1456;

  /** MAX_SLICE_SIZE: blocks per slice, hence the 1024-bit maps. */
  public static final int MAX_SLICE_BLOCKS = 1024;

  /** MAX_CLIENTS: receiver numbers 0…1023, hence the 1024-bit readySet. */
  public static final int MAX_CLIENTS = 1024;

  private Udpcast() {}

  /**
   * The default data group (§1.1): the sender's low 27 address bits under 0xE8000000, e.g.
   * 10.77.0.1 → 234.77.0.1, 192.168.1.5 → 232.168.1.5.
   *
   * @param senderIpv4 the sender's IPv4 address as a big-endian int
   */
  public static int dataGroup(int senderIpv4) {
    return 0xE8000000 | (senderIpv4 & 0x07FFFFFF);
  }

  /** {@link #dataGroup(int)} for an address object. */
  public static Inet4Address dataGroup(Inet4Address sender) {
    return Ipv4.fromInt(dataGroup(Ipv4.toInt(sender)));
  }
}

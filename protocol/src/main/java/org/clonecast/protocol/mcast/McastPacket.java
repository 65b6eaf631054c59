package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * A UDP packet of the native protocol. Every packet starts with the same 8-byte header
 * (docs/protocol.md §2): magic, version, type, session id. Decoders accept packets longer than the
 * fields they know, so later versions can append fields.
 */
public sealed interface McastPacket permits DataPacket, RepairPacket, Announce, Nak, Status {

  /** Magic number that starts every packet: rejects stray traffic on the port cheaply. */
  int MAGIC = 0xCC1D;

  /** Protocol version carried in every packet and in the control handshake. */
  int VERSION = 1;

  /** Size of the common header. */
  int HEADER_BYTES = 8;

  /**
   * Capability bit of HELLO and WELCOME: the peer seals (docs/protocol.md §2, "Seals"). In HELLO,
   * the receiver seals its STATUS and NAK and checks sealed ANNOUNCEs; in WELCOME, the sender
   * appended the session and receiver keys and seals its ANNOUNCEs.
   */
  int CAP_SEALED = 1;

  /**
   * Capability bit of WELCOME: the sender appended the manifest's signatures (docs/protocol.md §3),
   * which a receiver checks against the keys it trusts before it writes a byte. Sent whatever the
   * HELLO said: a receiver that does not know the bit ignores the bytes.
   */
  int CAP_SIGNED = 2;

  /**
   * Capability bit of HELLO: a node proof follows the name (docs/protocol.md §3), made with the
   * node's per-boot secret, so that in a daemon session only the node itself joins under its name.
   */
  int CAP_NODE_PROOF = 4;

  /**
   * Capability bit of HELLO and WELCOME: a delta session (docs/protocol.md §3, "Delta"). In HELLO,
   * the receiver hashes its target before it says what it needs, and says it once in a CHECKED
   * frame; in WELCOME, the sender takes CHECKED and waits for it before it counts the receiver as
   * ready to start. A first-version peer sends 0 and is served as before.
   */
  int CAP_DELTA = 8;

  int TYPE_DATA = 1;
  int TYPE_REPAIR = 2;
  int TYPE_ANNOUNCE = 3;
  int TYPE_NAK = 4;
  int TYPE_STATUS = 5;

  /** Session this packet belongs to; receivers ignore other sessions. */
  int sessionId();

  /** Appends the whole packet, header included, to {@code out}. */
  void encode(ByteBuf out);

  /**
   * Decodes the packet at {@code in}'s reader index; data payloads are retained slices of {@code
   * in}.
   */
  static McastPacket decode(ByteBuf in) {
    try {
      int magic = in.readUnsignedShort();
      if (magic != MAGIC) {
        throw new MalformedPacketException(
            String.format("magic 0x%04x, want 0x%04x", magic, MAGIC));
      }
      int version = in.readUnsignedByte();
      if (version != VERSION) {
        throw new MalformedPacketException("protocol version " + version + ", want " + VERSION);
      }
      int type = in.readUnsignedByte();
      int session = in.readInt();
      return switch (type) {
        case TYPE_DATA -> DataPacket.decodeBody(session, in);
        case TYPE_REPAIR -> RepairPacket.decodeBody(session, in);
        case TYPE_ANNOUNCE -> Announce.decodeBody(session, in);
        case TYPE_NAK -> Nak.decodeBody(session, in);
        case TYPE_STATUS -> Status.decodeBody(session, in);
        default -> throw new MalformedPacketException("unknown packet type " + type);
      };
    } catch (IndexOutOfBoundsException e) {
      throw new MalformedPacketException("packet truncated: " + e.getMessage());
    }
  }

  /** Writes the common header. */
  static void encodeHeader(ByteBuf out, int type, int sessionId) {
    out.writeShort(MAGIC); // magic
    out.writeByte(VERSION); // version
    out.writeByte(type); // type
    out.writeInt(sessionId); // session id
  }
}

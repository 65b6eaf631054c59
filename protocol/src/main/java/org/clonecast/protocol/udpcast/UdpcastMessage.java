package org.clonecast.protocol.udpcast;

import static org.clonecast.protocol.udpcast.Udpcast.*;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * A udpcast 20120424 message (docs/ref/udpcast-protocol.md §1.2): one UDP payload, a big-endian u16
 * opcode first. Each message is a record with {@code static X decode(ByteBuf)} and {@link #encode};
 * an unknown opcode decodes to {@link Unknown} and round-trips.
 *
 * <p>Fixed-size messages read exactly their size: like udpcast's receivers, which read control
 * messages into a 32-byte buffer and data into header + blocksize, we ignore trailing bytes and
 * leave them unread. DATA and FEC take the rest of the buffer as payload.
 *
 * <p>Implementations are immutable values (DATA and FEC share their payload with the input buffer,
 * see {@link Data}); thread-safe as long as that buffer is not modified.
 */
public sealed interface UdpcastMessage
    permits Hello,
        ConnectReq,
        ConnectReply,
        Data,
        Fec,
        ReqAck,
        Ok,
        Retransmit,
        Go,
        Disconnect,
        ImageInfo,
        Unknown {

  /**
   * @return the opcode this message is sent with
   */
  int opcode();

  /** Appends the message in wire order. */
  void encode(ByteBuf out);

  /**
   * Decodes the message at the reader index, dispatching on its opcode.
   *
   * @throws MalformedPacketException if the buffer is too short or a field is out of range; the
   *     reader index is then unchanged
   */
  static UdpcastMessage decode(ByteBuf in) {
    return ByteBufs.decoding(
        "udpcast message",
        in,
        b -> {
          ByteBufs.requireReadable(b, 2, "udpcast opcode");
          int opcode = b.getUnsignedShort(b.readerIndex());
          return switch (opcode) {
            case OP_OK -> Ok.decode(b);
            case OP_RETRANSMIT -> Retransmit.decode(b);
            case OP_GO -> Go.decode(b);
            case OP_CONNECT_REQ -> ConnectReq.decode(b);
            case OP_DISCONNECT -> Disconnect.decode(b);
            case OP_REQACK -> ReqAck.decode(b);
            case OP_CONNECT_REPLY -> ConnectReply.decode(b);
            case OP_DATA -> Data.decode(b);
            case OP_FEC -> Fec.decode(b);
            case OP_HELLO, OP_HELLO_NEW, OP_HELLO_STREAMING -> Hello.decode(b);
            case OP_IMAGE_INFO -> ImageInfo.decode(b);
            default -> Unknown.decode(b);
          };
        });
  }

  /**
   * @return whether {@code opcode} is one this package decodes to a message other than {@link
   *     Unknown}
   */
  static boolean isKnownOpcode(int opcode) {
    return switch (opcode) {
      case OP_OK,
          OP_RETRANSMIT,
          OP_GO,
          OP_CONNECT_REQ,
          OP_DISCONNECT,
          OP_REQACK,
          OP_CONNECT_REPLY,
          OP_DATA,
          OP_FEC,
          OP_HELLO,
          OP_HELLO_NEW,
          OP_HELLO_STREAMING,
          OP_IMAGE_INFO ->
          true;
      default -> false;
    };
  }
}

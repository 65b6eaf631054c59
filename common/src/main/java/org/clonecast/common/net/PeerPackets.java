package org.clonecast.common.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.socket.DatagramPacket;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.slf4j.Logger;

/**
 * How a datagram handler decodes what a peer sent: a malformed packet is counted, logged at DEBUG
 * with its sender, why and its bytes in hex, and dropped; nothing escapes the handler (house rule
 * 14). Shared by the senders' and receivers' handlers of both multicast protocols.
 */
public final class PeerPackets {
  private PeerPackets() {}

  /** A protocol's decoder: {@code SomeMessage::decode}. */
  @FunctionalInterface
  public interface Decoder<T> {
    T decode(ByteBuf in) throws MalformedPacketException;
  }

  /**
   * The decoded message, or null for a malformed one (then counted in {@code malformed} and logged
   * as "{@code protocol} malformed packet from ...").
   */
  public static <T> T decode(
      DatagramPacket p, Decoder<T> decoder, AtomicLong malformed, Logger log, String protocol) {
    ByteBuf in = p.content();
    int start = in.readerIndex();
    try {
      return decoder.decode(in);
    } catch (MalformedPacketException e) {
      malformed.incrementAndGet();
      if (log.isDebugEnabled()) {
        log.debug(
            "{} malformed packet from {}: {} ({})",
            protocol,
            p.sender(),
            e.getMessage(),
            ByteBufUtil.hexDump(in, start, in.writerIndex() - start));
      }
      return null;
    }
  }
}

package org.clonecast.common.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.MessageToByteEncoder;
import org.clonecast.protocol.mcast.ControlMessage;

/**
 * Pipeline pieces for the multicast control connection: u32 length-prefixed frames in, whole frames
 * as {@link ByteBuf} to the next handler (which decodes them so it can count and answer malformed
 * ones), {@link ControlMessage}s out.
 */
public final class ControlCodec {
  private ControlCodec() {}

  /** Adds the framing and the encoder; the caller's handler goes after them. */
  public static void install(ChannelPipeline p) {
    p.addLast(
        "frame-decoder", new LengthFieldBasedFrameDecoder(ControlMessage.MAX_FRAME, 0, 4, 0, 4));
    p.addLast("frame-prepender", new LengthFieldPrepender(4));
    p.addLast("control-encoder", new Encoder());
  }

  @ChannelHandler.Sharable
  private static final class Encoder extends MessageToByteEncoder<ControlMessage> {
    @Override
    protected void encode(ChannelHandlerContext ctx, ControlMessage msg, ByteBuf out) {
      msg.encode(out);
    }
  }
}

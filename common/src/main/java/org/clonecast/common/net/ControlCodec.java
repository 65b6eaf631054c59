package org.clonecast.common.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.MessageToByteEncoder;
import java.util.function.Supplier;
import org.clonecast.protocol.mcast.ControlMessage;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * Pipeline pieces for the multicast control connection: u32 length-prefixed frames in, whole frames
 * as {@link ByteBuf} to the next handler (a {@link Handler}, which decodes them so it can count and
 * answer malformed ones), {@link ControlMessage}s out.
 */
public final class ControlCodec {
  private ControlCodec() {}

  /**
   * A channel initializer for either end of a control connection: the framing and the encoder, then
   * a new handler from {@code handler} for each channel.
   */
  public static ChannelInitializer<SocketChannel> initializer(Supplier<ChannelHandler> handler) {
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(SocketChannel ch) {
        install(ch.pipeline());
        ch.pipeline().addLast(handler.get());
      }
    };
  }

  /** Adds the framing and the encoder; the caller's handler goes after them. */
  private static void install(ChannelPipeline p) {
    p.addLast(
        "frame-decoder", new LengthFieldBasedFrameDecoder(ControlMessage.MAX_FRAME, 0, 4, 0, 4));
    p.addLast("frame-prepender", new LengthFieldPrepender(4));
    p.addLast("control-encoder", new Encoder());
  }

  /**
   * A control connection's own handler, at either end: each frame decoded into a {@link
   * ControlMessage}, or a malformed one passed on to be counted and answered. Used on the channel's
   * event loop.
   */
  public abstract static class Handler extends SimpleChannelInboundHandler<ByteBuf> {
    @Override
    protected final void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) {
      ControlMessage msg;
      try {
        msg = ControlMessage.decode(frame);
      } catch (MalformedPacketException e) {
        malformed(ctx, e);
        return;
      }
      message(ctx, msg);
    }

    /** A frame that decoded. */
    protected abstract void message(ChannelHandlerContext ctx, ControlMessage msg);

    /** A frame that did not: the peer is broken or hostile. */
    protected abstract void malformed(ChannelHandlerContext ctx, MalformedPacketException e);
  }

  @ChannelHandler.Sharable
  private static final class Encoder extends MessageToByteEncoder<ControlMessage> {
    @Override
    protected void encode(ChannelHandlerContext ctx, ControlMessage msg, ByteBuf out) {
      msg.encode(out);
    }
  }
}

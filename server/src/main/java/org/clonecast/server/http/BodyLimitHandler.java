package org.clonecast.server.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * Refuses a request body larger than its route allows ({@link HttpServer.Routes#maxBody}) with 413
 * and closes the connection: by its Content-Length before any of the body is read, or, for a
 * chunked body, as soon as the bytes seen pass the limit. Nothing oversized reaches the aggregator.
 *
 * <p>The close waits until the client has sent the rest of its body (discarded as it arrives, at
 * most {@link #DISCARD_MAX} bytes; the connection's idle timeout bounds a client that stops): a
 * close while the client is still sending makes the kernel answer with a reset, which can destroy
 * the 413 before the client reads it, and the client would see a dropped connection instead of the
 * reason. One instance per connection, used on its event loop only.
 */
final class BodyLimitHandler extends ChannelInboundHandlerAdapter {
  /** Body bytes discarded after a refusal before the connection is closed regardless. */
  static final long DISCARD_MAX = 16L << 20;

  private final HttpServer.Routes routes;
  private long limit = HttpServer.MAX_BODY;
  private long seen;
  private boolean refused;

  /** The 413's write, after a refusal. */
  private ChannelFuture answered;

  BodyLimitHandler(HttpServer.Routes routes) {
    this.routes = routes;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest req) {
      refused = false;
      seen = 0;
      limit =
          routes.maxBody(
              new QueryStringDecoder(req.uri()).path(),
              (InetSocketAddress) ctx.channel().remoteAddress());
      long declared = HttpUtil.getContentLength(req, -1L);
      if (declared > limit) {
        refuse(ctx, msg, "body of " + declared + " bytes; this call takes at most " + limit);
        return;
      }
    }
    if (msg instanceof HttpContent c) {
      seen += c.content().readableBytes();
      if (refused) {
        ReferenceCountUtil.release(msg);
        if (msg instanceof LastHttpContent || seen > DISCARD_MAX) {
          close();
        }
        return;
      }
      if (seen > limit) {
        refuse(ctx, msg, "body longer than the " + limit + " bytes this call takes");
        return;
      }
    }
    ctx.fireChannelRead(msg);
  }

  private void refuse(ChannelHandlerContext ctx, Object msg, String why) {
    refused = true;
    boolean last = msg instanceof LastHttpContent;
    long declared = msg instanceof HttpRequest r ? HttpUtil.getContentLength(r, -1L) : -1L;
    ReferenceCountUtil.release(msg);
    FullHttpResponse res =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1,
            HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
            Unpooled.wrappedBuffer(Json.bytes(Json.error(why))));
    res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
    res.headers().set(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
    res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    answered = ctx.writeAndFlush(res);
    if (last || declared > DISCARD_MAX || seen > DISCARD_MAX) {
      close();
    }
  }

  /** Closes once the 413 is out. */
  private void close() {
    answered.addListener(ChannelFutureListener.CLOSE);
  }
}

package org.clonecast.server.http;

import io.netty.buffer.Unpooled;
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
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * Refuses a request body larger than its route allows ({@link HttpServer.Routes#maxBody}) with
 * 413 and closes the connection: by its Content-Length before any of the body is read, or, for a
 * chunked body, as soon as the bytes seen pass the limit. Nothing oversized reaches the aggregator.
 * One instance per connection, used on its event loop only.
 */
final class BodyLimitHandler extends ChannelInboundHandlerAdapter {
  private final HttpServer.Routes routes;
  private long limit = HttpServer.MAX_BODY;
  private long seen;
  private boolean refused;

  BodyLimitHandler(HttpServer.Routes routes) {
    this.routes = routes;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpRequest req) {
      refused = false;
      seen = 0;
      limit = routes.maxBody(new QueryStringDecoder(req.uri()).path(), (InetSocketAddress) ctx.channel().remoteAddress());
      long declared = HttpUtil.getContentLength(req, -1L);
      if (declared > limit) {
        refuse(ctx, msg, "body of " + declared + " bytes; this call takes at most " + limit);
        return;
      }
    }
    if (msg instanceof HttpContent c) {
      if (refused) {
        ReferenceCountUtil.release(msg);
        return;
      }
      seen += c.content().readableBytes();
      if (seen > limit) {
        refuse(ctx, msg, "body longer than the " + limit + " bytes this call takes");
        return;
      }
    }
    ctx.fireChannelRead(msg);
  }

  private void refuse(ChannelHandlerContext ctx, Object msg, String why) {
    ReferenceCountUtil.release(msg);
    refused = true;
    FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
        Unpooled.wrappedBuffer(Json.bytes(Json.error(why))));
    res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
    res.headers().set(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
    res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
  }
}

package org.clonecast.server.http;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.util.Map;
import java.util.Optional;
import org.clonecast.server.store.ConflictException;
import org.clonecast.server.store.InsufficientStorageException;
import org.clonecast.server.store.NotFoundException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Dispatches one connection's requests to routes and writes their replies. */
final class HttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger LOG = LoggerFactory.getLogger(HttpHandler.class);

  private final HttpServer.Routes routes;
  private final ApiToken token;
  private final boolean local;
  private final boolean apiRemote;
  private final HttpStats stats;

  HttpHandler(
      HttpServer.Routes routes, ApiToken token, boolean local, boolean apiRemote, HttpStats stats) {
    this.routes = routes;
    this.token = token;
    this.local = local;
    this.apiRemote = apiRemote;
    this.stats = stats;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
    stats.requests.increment();
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    if (!req.decoderResult().isSuccess()) {
      send(ctx, req, Reply.error(HttpResponseStatus.BAD_REQUEST, "malformed HTTP request"), false);
      return;
    }
    QueryStringDecoder q = new QueryStringDecoder(req.uri());
    String path = q.path();
    String prefix = routes.match(path);
    if (prefix == null) {
      send(ctx, req, Reply.error(HttpResponseStatus.NOT_FOUND, "no such path: " + path), keepAlive);
      return;
    }
    Request r =
        new Request(
            req.method(),
            path,
            q.parameters(),
            req.headers(),
            ByteBufUtil.getBytes(req.content()),
            (InetSocketAddress) ctx.channel().remoteAddress(),
            local);
    if (routes.isApi.get(prefix)) {
      if (!local && !apiRemote) {
        send(
            ctx,
            req,
            Reply.error(
                HttpResponseStatus.FORBIDDEN,
                "the API answers on 127.0.0.1 only; use it on the head node or set http.api-remote = true"),
            keepAlive);
        return;
      }
      if (r.mutating()
          && !token.accepts(req.headers().get(HttpHeaderNames.AUTHORIZATION))
          && !prefix.equals("/api/v1/login")
          && !prefix.equals("/api/v1/logout")) {
        if (routes.login == null || !routes.login.accepts(r)) {
          send(
              ctx,
              req,
              Reply.error(
                  HttpResponseStatus.UNAUTHORIZED,
                  "this call needs the API token: send 'Authorization: Bearer <token>' with the token from <state-dir>/api-token"
                      + (routes.login == null ? "" : ", or log in to the console")),
              keepAlive);
          return;
        }
        if (!ConsoleLogin.sameOrigin(r)) {
          send(
              ctx,
              req,
              Reply.error(
                  HttpResponseStatus.FORBIDDEN,
                  "a change with the console's login must come from the"
                      + " console's own page (Origin "
                      + req.headers().get(HttpHeaderNames.ORIGIN)
                      + ", host "
                      + req.headers().get(HttpHeaderNames.HOST)
                      + ")"),
              keepAlive);
          return;
        }
      }
    }
    reply(ctx, req, r, answer(ctx, routes.byPrefix.get(prefix), r), keepAlive);
  }

  /** {@code route}'s answer to {@code r}, its exceptions turned into their statuses. */
  private static Reply answer(ChannelHandlerContext ctx, Route route, Request r) {
    IdleTimeout.working(ctx.channel(), true);
    try {
      return route.handle(r);
    } catch (BadRequestException | IllegalArgumentException e) {
      return Reply.error(HttpResponseStatus.BAD_REQUEST, e.getMessage());
    } catch (ForbiddenException e) {
      return Reply.error(HttpResponseStatus.FORBIDDEN, e.getMessage());
    } catch (NotFoundException e) {
      return Reply.error(HttpResponseStatus.NOT_FOUND, e.getMessage());
    } catch (ConflictException e) {
      return Reply.error(HttpResponseStatus.CONFLICT, e.getMessage());
    } catch (NoSuchFileException e) {
      return Reply.error(HttpResponseStatus.NOT_FOUND, "no such file: " + r.path());
    } catch (InsufficientStorageException e) {
      // Final: a retry writes to the same full disk. The caller is told so, and which disk.
      LOG.warn("http {} {} from {}: {}", r.method(), r.path(), r.remote(), e.getMessage());
      return Reply.error(HttpResponseStatus.INSUFFICIENT_STORAGE, e.getMessage());
    } catch (Exception e) {
      LOG.warn("http {} {} from {} failed", r.method(), r.path(), r.remote(), e);
      return Reply.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error: " + e);
    } finally {
      IdleTimeout.working(ctx.channel(), false);
    }
  }

  /**
   * Sends {@code reply}; a {@link Reply.Later} is waited for without a thread (the connection
   * counted as working meanwhile, so not idle) and its answer sent when it is ready.
   */
  private void reply(
      ChannelHandlerContext ctx, FullHttpRequest req, Request r, Reply reply, boolean keepAlive) {
    if (!(reply instanceof Reply.Later later)) {
      send(ctx, req, reply, keepAlive);
      return;
    }
    IdleTimeout.working(ctx.channel(), true);
    ChannelFutureListener gone = f -> later.ready().cancel(false);
    ctx.channel().closeFuture().addListener(gone);
    later
        .ready()
        .whenComplete(
            (v, e) ->
                ctx.executor()
                    .execute(
                        () -> {
                          ctx.channel().closeFuture().removeListener(gone);
                          IdleTimeout.working(ctx.channel(), false);
                          if (!ctx.channel().isActive()) return;
                          reply(ctx, req, r, answer(ctx, later.answer(), r), keepAlive);
                        }));
  }

  private void send(
      ChannelHandlerContext ctx, FullHttpRequest req, Reply reply, boolean keepAlive) {
    if (reply instanceof Reply.Push p) {
      push(ctx, p);
      return;
    }
    if (reply instanceof Reply.Range r) {
      sendRange(ctx, r, keepAlive);
      return;
    }
    if (reply instanceof Reply.File f) {
      try {
        sendFile(ctx, req, f, keepAlive);
        return;
      } catch (NoSuchFileException e) {
        reply =
            Reply.error(HttpResponseStatus.NOT_FOUND, "no such file: " + f.path().getFileName());
      } catch (IOException e) {
        reply =
            Reply.error(
                HttpResponseStatus.INTERNAL_SERVER_ERROR,
                "cannot read " + f.path().getFileName() + ": " + e);
      }
    }
    Reply.Bytes b = (Reply.Bytes) reply;
    count(b.status());
    boolean head = req.method().equals(HttpMethod.HEAD);
    FullHttpResponse res =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1,
            b.status(),
            head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(b.body()));
    res.headers().set(HttpHeaderNames.CONTENT_TYPE, b.contentType());
    res.headers().set(HttpHeaderNames.CONTENT_LENGTH, b.body().length);
    res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    for (Map.Entry<String, String> h : b.headers().entrySet()) {
      res.headers().set(h.getKey(), h.getValue());
    }
    stats.bytesSent.add(head ? 0 : b.body().length);
    finish(ctx, res, ctx.writeAndFlush(res), keepAlive);
  }

  private void sendFile(
      ChannelHandlerContext ctx, FullHttpRequest req, Reply.File f, boolean keepAlive)
      throws IOException {
    RandomAccessFile raf;
    try {
      raf = new RandomAccessFile(f.path().toFile(), "r");
    } catch (FileNotFoundException e) {
      throw new NoSuchFileException(f.path().toString());
    }
    FileChannel fc = raf.getChannel();
    long size = fc.size();
    ByteRange.Parsed parsed =
        ByteRange.parse(Optional.ofNullable(req.headers().get(HttpHeaderNames.RANGE)), size);
    if (parsed instanceof ByteRange.Unsatisfiable) {
      raf.close();
      Reply.Bytes r =
          (Reply.Bytes)
              Reply.error(
                  HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                  "range outside the file's " + size + " bytes");
      send(
          ctx,
          req,
          new Reply.Bytes(
              r.status(), r.contentType(), r.body(), Map.of("Content-Range", "bytes */" + size)),
          keepAlive);
      return;
    }
    long first = 0;
    long length = size;
    HttpResponseStatus status = HttpResponseStatus.OK;
    HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
    if (parsed instanceof ByteRange.Part p) {
      first = p.range().first();
      length = p.range().length();
      res.setStatus(HttpResponseStatus.PARTIAL_CONTENT);
      res.headers()
          .set(
              HttpHeaderNames.CONTENT_RANGE,
              "bytes " + first + "-" + p.range().last() + "/" + size);
    }
    count(res.status());
    res.headers().set(HttpHeaderNames.CONTENT_TYPE, f.contentType());
    res.headers().set(HttpHeaderNames.CONTENT_LENGTH, length);
    res.headers().set(HttpHeaderNames.ACCEPT_RANGES, HttpHeaderValues.BYTES);
    if (keepAlive) {
      res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    ctx.write(res);
    if (req.method().equals(HttpMethod.HEAD)) {
      raf.close();
      finish(ctx, res, ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT), keepAlive);
      return;
    }
    stats.bytesSent.add(length);
    ctx.write(new DefaultFileRegion(fc, first, length)); // releases (closes) the channel when sent
    finish(ctx, res, ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT), keepAlive);
  }

  /** A range the route checked and read: 206 with its Content-Range. */
  private void sendRange(ChannelHandlerContext ctx, Reply.Range r, boolean keepAlive) {
    FullHttpResponse res =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1,
            HttpResponseStatus.PARTIAL_CONTENT,
            Unpooled.wrappedBuffer(r.body()));
    count(res.status());
    res.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
    res.headers().set(HttpHeaderNames.CONTENT_LENGTH, r.body().length);
    res.headers()
        .set(
            HttpHeaderNames.CONTENT_RANGE,
            "bytes " + r.first() + "-" + (r.first() + r.body().length - 1) + "/" + r.total());
    res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    for (Map.Entry<String, String> h : r.headers().entrySet()) {
      res.headers().set(h.getKey(), h.getValue());
    }
    if (keepAlive) {
      res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    stats.bytesSent.add(r.body().length);
    ChannelFuture sent = ctx.writeAndFlush(res);
    sent.addListener(x -> r.done().run());
    finish(ctx, res, sent, keepAlive);
  }

  /**
   * Server-sent events (HTML Living Standard §9.2): the chunked response head, then the connection
   * belongs to the reply's pusher ({@link LiveFeed}), which writes events and comment heartbeats
   * until the client goes away or stops reading.
   */
  private void push(ChannelHandlerContext ctx, Reply.Push p) {
    HttpResponse res = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
    res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    HttpUtil.setTransferEncodingChunked(res, true);
    ctx.writeAndFlush(res);
    p.attach().accept(ctx.channel());
  }

  private void count(HttpResponseStatus s) {
    if (s.code() >= 500) {
      stats.serverErrors.increment();
    } else if (s.code() >= 400) {
      stats.clientErrors.increment();
    }
  }

  private static void finish(
      ChannelHandlerContext ctx, HttpResponse res, ChannelFuture f, boolean keepAlive) {
    if (!keepAlive) {
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    stats.serverErrors.increment();
    LOG.debug("http connection from {} failed", ctx.channel().remoteAddress(), cause);
    ctx.close();
  }
}

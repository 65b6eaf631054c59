package org.clonecast.server.http;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** What a route answers: bytes, or a file the server sends with range support. */
public sealed interface Reply {
  /** A complete body. */
  record Bytes(
      HttpResponseStatus status, String contentType, byte[] body, Map<String, String> headers)
      implements Reply {}

  /** A file on disk, sent zero-copy; {@code Range} requests are honoured. */
  record File(Path path, String contentType) implements Reply {}

  /**
   * {@code body}, bytes {@code [first, first + body.length)} of a resource of {@code total} bytes,
   * sent as 206 Partial Content: the route chose, checked and read the range itself (the unicast
   * fallback's chunk ranges). {@code done} runs once, when the bytes have been written or could not
   * be.
   */
  record Range(
      byte[] body,
      long first,
      long total,
      String contentType,
      Map<String, String> headers,
      Runnable done)
      implements Reply {}

  /**
   * A stream of server-sent events (text/event-stream): the server sends the response head and
   * hands the connection to {@code attach}, which writes events to it from then on ({@link
   * LiveFeed}).
   */
  record Push(Consumer<Channel> attach) implements Reply {}

  /**
   * An answer not ready yet (a long poll: a node's registration held until its session starts,
   * {@link org.clonecast.server.session.NodeWaiters}). The connection waits, holding no thread and
   * not counted idle, until {@code ready} completes in any way; then {@code answer} runs on the
   * server's blocking executor and its reply is sent (it may be another {@code Later}). When the
   * client goes away first, {@code ready} is cancelled and {@code answer} never runs.
   */
  record Later(CompletableFuture<?> ready, Route answer) implements Reply {}

  static Reply json(HttpResponseStatus status, Object value) {
    return new Bytes(status, "application/json", Json.bytes(value), Map.of());
  }

  static Reply json(Object value) {
    return json(HttpResponseStatus.OK, value);
  }

  static Reply text(HttpResponseStatus status, String text) {
    return new Bytes(
        status, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  static Reply error(HttpResponseStatus status, String message) {
    return json(status, Json.error(message));
  }
}

package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.common.api.Ack;
import org.clonecast.common.api.AgentJson;
import org.clonecast.common.api.CaptureBegin;
import org.clonecast.common.api.CaptureFailure;
import org.clonecast.common.api.CaptureFinished;
import org.clonecast.common.api.CaptureHeld;
import org.clonecast.common.api.CaptureProgress;
import org.clonecast.common.api.ChunkStored;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.capture.CaptureManager;

/**
 * The golden node's agent uploads its disk here (docs/api.md, "capture"). As for the other agent
 * calls there is no API token: every call carries the node's per-boot secret ({@link NodeAuth}),
 * checked before anything is stored, and is taken only from the address the node registered from,
 * for its own capture.
 *
 * <ul>
 *   <li>POST /agent/v1/capture/{id}/begin {mac, logicalSize, chunkSize, hashOfChunks (optional)}:
 *       {heldThrough, heldChunks, storedBytes}; the daemon holds every stored chunk up to index
 *       heldThrough
 *   <li>PUT /agent/v1/capture/{id}/chunk/{index}?mac=MAC, headers X-Clonecast-Kind (manifest code),
 *       X-Clonecast-Sha256 (hex of the logical bytes), X-Clonecast-Used-Blocks (hex bitmap,
 *       optional), X-Clonecast-After (the index of the stored chunk it follows, -1 for the first;
 *       optional: without it the chunk follows the last one held), X-Clonecast-Pooled: 1 (optional:
 *       no body, the chunk is a reference to what the daemon's pool holds under that SHA-256);
 *       body: the stored bytes. {stored, duplicate, heldThrough}; stored is false only for a
 *       reference the pool cannot serve (send the bytes); 507 when the daemon's disk is full
 *   <li>POST /agent/v1/capture/{id}/progress {mac, done, total}
 *   <li>POST /agent/v1/capture/{id}/finish?mac=MAC, body: the encoded manifest. The image's figures
 *   <li>POST /agent/v1/capture/{id}/result {mac, ok: false, detail}: the agent gave up
 * </ul>
 */
public final class CaptureRoutes {
  static final String PREFIX = "/agent/v1/capture/";

  /** Header: the chunk's kind, as its manifest code. */
  public static final String KIND = "X-Clonecast-Kind";

  /** Header: SHA-256 of the chunk's logical bytes, 64 hex digits. */
  public static final String SHA256 = "X-Clonecast-Sha256";

  /** Header: the chunk's used-block bitmap in hex; absent when every block is used. */
  public static final String USED_BLOCKS = "X-Clonecast-Used-Blocks";

  /**
   * Header: "1" when the request carries no bytes, only a reference to the chunk by its SHA-256,
   * which the daemon takes from its pool (the kind header is then the agent's, and ignored).
   */
  public static final String POOLED = "X-Clonecast-Pooled";

  /** Header: the index of the stored chunk this one follows, -1 when it is the first. */
  public static final String AFTER = "X-Clonecast-After";

  private static final Pattern PATH =
      Pattern.compile(
          "/agent/v1/capture/(\\d{1,18})/(begin|progress|finish|result|chunk/(\\d{1,10}))");
  private final CaptureManager captures;
  private final NodeAuth auth;

  public CaptureRoutes(CaptureManager captures, NodeAuth auth) {
    this.captures = captures;
    this.auth = auth;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.open(PREFIX, this::handle, this::maxBody);
  }

  /**
   * Chunks and manifests may be bigger than API JSON, but only for a capture that began from that
   * address.
   */
  private long maxBody(String path, InetSocketAddress remote) {
    Matcher m = PATH.matcher(path);
    if (!m.matches() || !(m.group(2).startsWith("chunk/") || m.group(2).equals("finish"))) {
      return HttpServer.MAX_BODY;
    }
    long allowed =
        captures.maxUpload(
            Long.parseLong(m.group(1)),
            remote.getAddress().getHostAddress(),
            m.group(2).equals("finish"));
    return Math.max(allowed, HttpServer.MAX_BODY);
  }

  private Reply handle(Request r) throws Exception {
    Matcher m = PATH.matcher(r.path());
    if (!m.matches()) {
      return Reply.error(
          HttpResponseStatus.NOT_FOUND,
          "no capture call "
              + r.path()
              + "; want /agent/v1/capture/ID/begin, chunk/INDEX, progress, finish or result");
    }
    long id = Long.parseLong(m.group(1));
    String call = m.group(2);
    String from = r.remote().getAddress().getHostAddress();
    if (call.startsWith("chunk/")) {
      if (!r.method().equals(HttpMethod.PUT)) {
        return ImageRoutes.notAllowed(r);
      }
      long index = Long.parseLong(m.group(3));
      if (index > Integer.MAX_VALUE) {
        throw new BadRequestException("chunk index " + index + " is out of range");
      }
      MacAddress mac = queryMac(r);
      auth.require(mac, r);
      CaptureManager.ChunkUpload up =
          new CaptureManager.ChunkUpload(
              (int) index, after(r), kind(r), sha(r), hex(r, USED_BLOCKS), r.body(), pooled(r));
      CaptureManager.Stored s = captures.chunk(id, mac, from, up);
      return Reply.json(new ChunkStored(!s.sendBytes(), s.duplicate(), s.heldThrough()));
    }
    if (!r.method().equals(HttpMethod.POST)) {
      return ImageRoutes.notAllowed(r);
    }
    if (call.equals("finish")) {
      MacAddress mac = queryMac(r);
      auth.require(mac, r);
      Manifest done = captures.finish(id, mac, from, r.body());
      return Reply.json(
          new CaptureFinished(
              done.imageId().toString(),
              done.logicalSize(),
              done.chunkCount(),
              done.storedBytes(),
              done.imageHash().hex()));
    }
    // The caller's MAC first, to check its secret before the body is taken as anything.
    JsonNode body = AgentJson.tree(r.body());
    MacAddress mac = AgentRoutes.mac(body);
    auth.require(mac, r);
    switch (call) {
      case "begin" -> {
        CaptureBegin b = AgentJson.read(body, CaptureBegin.class);
        CaptureManager.Held h =
            captures.begin(id, mac, from, b.logicalSize(), b.chunkSize(), b.hashOfChunks());
        return Reply.json(new CaptureHeld(h.heldThrough(), h.heldChunks(), h.storedBytes()));
      }
      case "progress" -> {
        CaptureProgress p = AgentJson.read(body, CaptureProgress.class);
        captures.progress(id, mac, from, p.done(), p.total());
        return Reply.json(Ack.OK);
      }
      default -> {
        CaptureFailure f = AgentJson.read(body, CaptureFailure.class);
        captures.failed(id, mac, from, f.detail());
        return Reply.json(Ack.OK);
      }
    }
  }

  private static MacAddress queryMac(Request r) {
    return NodeRoutes.parseMac(
        r.param("mac")
            .orElseThrow(() -> new BadRequestException("query parameter 'mac' is required")));
  }

  private static OptionalInt after(Request r) {
    String v = r.headers().get(AFTER);
    if (v == null) {
      return OptionalInt.empty();
    }
    if (!v.matches("-1|\\d{1,10}") || Long.parseLong(v) > Integer.MAX_VALUE) {
      throw new BadRequestException("header " + AFTER + " must be a chunk index or -1, got " + v);
    }
    return OptionalInt.of(Integer.parseInt(v));
  }

  private static boolean pooled(Request r) {
    String v = r.headers().get(POOLED);
    if (v == null || v.equals("0")) {
      return false;
    }
    if (!v.equals("1")) {
      throw new BadRequestException("header " + POOLED + " must be 1 or 0, got " + v);
    }
    return true;
  }

  private static int kind(Request r) {
    String v = r.headers().get(KIND);
    if (v == null || !v.matches("\\d{1,3}")) {
      throw new BadRequestException("header " + KIND + " must be the chunk kind's code, got " + v);
    }
    return Integer.parseInt(v);
  }

  private static Sha256 sha(Request r) {
    String v = r.headers().get(SHA256);
    if (v == null || !v.matches("[0-9a-fA-F]{64}")) {
      throw new BadRequestException("header " + SHA256 + " must be 64 hex digits, got " + v);
    }
    return Sha256.ofHex(v.toLowerCase(Locale.ROOT));
  }

  private static byte[] hex(Request r, String header) {
    String v = r.headers().get(header);
    if (v == null || v.isEmpty()) {
      return new byte[0];
    }
    if (v.length() % 2 != 0 || v.length() > 2 * 2048 || !v.matches("[0-9a-fA-F]+")) {
      throw new BadRequestException(
          "header " + header + " must be an even number of hex digits (at most 4096)");
    }
    return HexFormat.of().parseHex(v);
  }
}

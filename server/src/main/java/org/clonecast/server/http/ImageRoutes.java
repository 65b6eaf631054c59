package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.server.capture.CaptureManager;
import org.clonecast.server.replicate.ImageReplicator;
import org.clonecast.server.store.ConflictException;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageCopies;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NotFoundException;

/**
 * {@code /api/v1/images}: the server's image store (docs/api.md).
 *
 * <ul>
 *   <li>GET /api/v1/images: every image, with the progress of one being added
 *   <li>POST /api/v1/images {name, source, raw?}: add a raw disk or file, or a .cci (a damaged .cci
 *       is refused unless raw is true), from a path on the head node (in the background: the image
 *       says {@code adding} until it is complete)
 *   <li>GET /api/v1/images/{name}: one image
 *   <li>DELETE /api/v1/images/{name}: remove it and its file
 *   <li>POST /api/v1/images/capture {name, node, disk?, force?, level?}: capture a golden node's
 *       disk over the network at its next PXE boot ({@link CaptureManager})
 *   <li>POST /api/v1/images/{name}/cancel: cancel the running capture of that image
 *   <li>POST /api/v1/images/{name}/replicate {from?}: fetch the image's bytes from another daemon
 *       holding them ({@link ImageReplicator}), in the background: its {@code copies} show progress
 * </ul>
 *
 * <p>An image being captured carries {@code capture}: its phase, node and what the daemon holds.
 * Every image carries {@code copies}: which daemons hold its bytes (ready), fetch them (copying,
 * with done and total stored bytes) or failed to.
 */
public final class ImageRoutes {
  static final String PREFIX = "/api/v1/images";
  private static final String REPLICATE = "/replicate";
  private final ImageStore images;
  private final CaptureManager captures;
  private final Optional<ImageReplicator> replicator;

  public ImageRoutes(ImageStore images, CaptureManager captures) {
    this(images, captures, Optional.empty());
  }

  /**
   * @param replicator fetches images from other daemons ({@code POST .../replicate}); without one
   *     that route is a 409
   */
  public ImageRoutes(
      ImageStore images, CaptureManager captures, Optional<ImageReplicator> replicator) {
    this.images = images;
    this.captures = captures;
    this.replicator = replicator;
  }

  private Map<String, Object> json(Image i, List<ImageCopies.Copy> copies) {
    Map<String, Object> m = Json.image(i, images.progress(i.name()));
    m.put("copies", Json.copies(copies, images.copies().self()));
    captures.status(i.name()).ifPresent(s -> m.put("capture", Json.capture(s)));
    return m;
  }

  private Map<String, Object> json(Image i) {
    return json(i, images.copies().of(i.name()));
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.api(PREFIX, this::handle);
  }

  private Reply handle(Request r) throws IOException {
    String rest = r.path().substring(PREFIX.length());
    if (rest.isEmpty() || rest.equals("/")) {
      if (r.method().equals(HttpMethod.GET)) {
        List<Map<String, Object>> out = new ArrayList<>();
        Map<String, List<ImageCopies.Copy>> copies = images.copies().byImage();
        for (Image i : images.list()) out.add(json(i, copies.getOrDefault(i.name(), List.of())));
        return Reply.json(out);
      }
      if (r.method().equals(HttpMethod.POST)) {
        JsonNode body = Json.object(r.body());
        String name =
            Json.text(body, "name")
                .orElseThrow(() -> new BadRequestException("field 'name' is required"));
        String source =
            Json.text(body, "source")
                .orElseThrow(
                    () ->
                        new BadRequestException(
                            "field 'source' is required: a path on the head node (a disk, a disk image file or a .cci)"));
        boolean raw = Json.bool(body, "raw").orElse(false);
        Image i = images.add(name, Path.of(source), raw, Json.bool(body, "force").orElse(false));
        return Reply.json(HttpResponseStatus.ACCEPTED, json(i));
      }
      return notAllowed(r);
    }
    if (rest.equals("/capture")) {
      if (!r.method().equals(HttpMethod.POST)) {
        return notAllowed(r);
      }
      JsonNode body = Json.object(r.body());
      String name =
          Json.text(body, "name")
              .orElseThrow(() -> new BadRequestException("field 'name' is required"));
      String node =
          Json.text(body, "node")
              .orElseThrow(
                  () ->
                      new BadRequestException(
                          "field 'node' is required: the golden node's MAC or name"));
      long level = Json.number(body, "level").orElse((long) ChunkCodec.DEFAULT_LEVEL);
      if (level < Integer.MIN_VALUE || level > Integer.MAX_VALUE) {
        throw new BadRequestException("level " + level + " is out of range");
      }
      captures.start(
          name,
          node,
          Json.text(body, "disk"),
          Json.bool(body, "force").orElse(false),
          (int) level,
          Json.text(body, "from"));
      return Reply.json(HttpResponseStatus.ACCEPTED, json(images.find(name).orElseThrow()));
    }
    if (rest.endsWith(REPLICATE) && rest.indexOf('/', 1) == rest.length() - REPLICATE.length()) {
      if (!r.method().equals(HttpMethod.POST)) {
        return notAllowed(r);
      }
      String name = rest.substring(1, rest.length() - REPLICATE.length());
      ImageReplicator rep =
          replicator.orElseThrow(
              () -> new ConflictException("this daemon does not replicate images"));
      JsonNode body = r.body().length == 0 ? null : Json.object(r.body());
      Optional<String> from = body == null ? Optional.empty() : Json.text(body, "from");
      CompletableFuture<ImageReplicator.Result> f = rep.replicate(name, from);
      Image i = images.find(name).orElseThrow(() -> new NotFoundException("no image " + name));
      return Reply.json(f.isDone() ? HttpResponseStatus.OK : HttpResponseStatus.ACCEPTED, json(i));
    }
    if (rest.endsWith("/cancel") && rest.indexOf('/', 1) == rest.length() - "/cancel".length()) {
      if (!r.method().equals(HttpMethod.POST)) {
        return notAllowed(r);
      }
      String name = rest.substring(1, rest.length() - "/cancel".length());
      captures.cancel(name);
      return Reply.json(
          json(images.find(name).orElseThrow(() -> new NotFoundException("no image " + name))));
    }
    String name = rest.substring(1);
    if (r.method().equals(HttpMethod.GET)) {
      Image i = images.find(name).orElseThrow(() -> new NotFoundException("no image " + name));
      return Reply.json(json(i));
    }
    if (r.method().equals(HttpMethod.DELETE)) {
      if (!images.remove(name)) throw new NotFoundException("no image " + name);
      return Reply.json(Map.of("removed", name));
    }
    return notAllowed(r);
  }

  static Reply notAllowed(Request r) {
    return Reply.error(
        HttpResponseStatus.METHOD_NOT_ALLOWED, r.method() + " is not allowed on " + r.path());
  }
}

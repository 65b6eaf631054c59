package org.clonecast.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.clonecast.server.store.Image;
import org.clonecast.server.store.ImageStore;
import org.clonecast.server.store.NotFoundException;

/**
 * {@code /api/v1/images}: the server's image store (docs/api.md).
 *
 * <ul>
 *   <li>GET /api/v1/images: every image, with the progress of one being added
 *   <li>POST /api/v1/images {name, source}: add a raw disk or file, or a .cci, from a path on the
 *       head node (in the background: the image says {@code adding} until it is complete)
 *   <li>GET /api/v1/images/{name}: one image
 *   <li>DELETE /api/v1/images/{name}: remove it and its file
 * </ul>
 */
public final class ImageRoutes {
  static final String PREFIX = "/api/v1/images";
  private final ImageStore images;

  public ImageRoutes(ImageStore images) {
    this.images = images;
  }

  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes.api(PREFIX, this::handle);
  }

  private Reply handle(Request r) throws IOException {
    String rest = r.path().substring(PREFIX.length());
    if (rest.isEmpty() || rest.equals("/")) {
      if (r.method().equals(HttpMethod.GET)) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Image i : images.list()) out.add(Json.image(i, images.progress(i.name())));
        return Reply.json(out);
      }
      if (r.method().equals(HttpMethod.POST)) {
        JsonNode body = Json.object(r.body());
        String name = Json.text(body, "name").orElseThrow(() -> new BadRequestException("field 'name' is required"));
        String source = Json.text(body, "source").orElseThrow(() -> new BadRequestException(
            "field 'source' is required: a path on the head node (a disk, a disk image file or a .cci)"));
        Image i = images.add(name, Path.of(source));
        return Reply.json(HttpResponseStatus.ACCEPTED, Json.image(i, images.progress(name)));
      }
      return notAllowed(r);
    }
    String name = rest.substring(1);
    if (r.method().equals(HttpMethod.GET)) {
      Image i = images.find(name).orElseThrow(() -> new NotFoundException("no image " + name));
      return Reply.json(Json.image(i, images.progress(name)));
    }
    if (r.method().equals(HttpMethod.DELETE)) {
      if (!images.remove(name)) throw new NotFoundException("no image " + name);
      return Reply.json(Map.of("removed", name));
    }
    return notAllowed(r);
  }

  static Reply notAllowed(Request r) {
    return Reply.error(HttpResponseStatus.METHOD_NOT_ALLOWED, r.method() + " is not allowed on " + r.path());
  }
}

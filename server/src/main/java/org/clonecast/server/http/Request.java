package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One HTTP request as routes see it, detached from Netty's reference-counted buffers.
 *
 * @param method the method
 * @param path the decoded path, without the query
 * @param params query parameters
 * @param headers request headers
 * @param body the body (empty for GET)
 * @param remote the client
 * @param local whether it arrived on the loopback listener (the head node itself)
 */
public record Request(
    HttpMethod method,
    String path,
    Map<String, List<String>> params,
    HttpHeaders headers,
    byte[] body,
    InetSocketAddress remote,
    boolean local) {

  /** The first value of query parameter {@code name}. */
  public Optional<String> param(String name) {
    List<String> v = params.get(name);
    return v == null || v.isEmpty() ? Optional.empty() : Optional.of(v.get(0));
  }

  /** Whether this method changes state (and so needs the API token). */
  public boolean mutating() {
    return !method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD);
  }
}

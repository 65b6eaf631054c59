package org.clonecast.server.config;

/**
 * The daemon's HTTP server: iPXE scripts, boot files and the netboot environment for nodes on
 * the provisioning interface; the API, dashboard and metrics on loopback, and on the provisioning
 * interface too only when {@code apiRemote}.
 *
 * @param port TCP port on the provisioning address and on 127.0.0.1 (0 picks one, for tests)
 * @param apiRemote whether the API, dashboard and metrics also answer on the provisioning address
 */
public record HttpConfig(int port, boolean apiRemote) {
  public static final int DEFAULT_PORT = 8080;

  public HttpConfig {
    if (port < 0 || port > 65535) {
      throw new ConfigException("http.port " + port + " is out of range; use 1-65535");
    }
  }

  static HttpConfig from(ConfigFile f) {
    return new HttpConfig(f.integer("http.port", DEFAULT_PORT, 0, 65535), f.bool("http.api-remote", false));
  }
}

package org.clonecast.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.BootPolicy;
import org.clonecast.server.boot.BootScripts;
import org.clonecast.server.boot.BootenvStatus;
import org.clonecast.server.boot.NodeBinding;
import org.clonecast.server.limit.RateLimiter;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;

/**
 * What nodes fetch while booting: {@code /boot/<mac>.ipxe} (the per-node iPXE script, {@link
 * BootScripts}), {@code /boot/files/<name>} (iPXE binaries, for UEFI HTTP boot) and {@code
 * /bootenv/<name>} (the netboot environment's kernel and initramfs). File names are one path
 * segment from a fixed alphabet, so no request reaches outside its directory.
 */
public final class BootRoutes {
  private static final Pattern SCRIPT =
      Pattern.compile("/boot/([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5})\\.ipxe");
  private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");

  private final BootScripts scripts;
  private final Path ipxeDir;
  private final Path bootenvDir;
  private volatile Path localDir;

  /**
   * @param baseUrl this server as nodes reach it, e.g. http://10.77.0.1:8080
   * @param bootenvDir the directory with vmlinuz and initramfs.zst of the current netboot
   *     environment
   * @param bootenv whether that environment is ready, and if not why (what waiting nodes are told)
   * @param seen how often a client's script requests are recorded
   * @param binding which address may have a node's netboot script
   * @param secrets where each netboot script's secret is recorded
   */
  public BootRoutes(
      BootPolicy policy,
      NodeStore nodes,
      EventLog events,
      Path ipxeDir,
      Path bootenvDir,
      Supplier<String> baseUrl,
      Supplier<BootenvStatus> bootenv,
      RateLimiter<InetAddress> seen,
      NodeBinding binding,
      NodeSecrets secrets) {
    this(
        new BootScripts(policy, nodes, events, baseUrl, bootenv, seen, binding, secrets),
        ipxeDir,
        bootenvDir);
  }

  /**
   * @param scripts the per-node scripts (shared with the Secure Boot chain's TFTP files)
   */
  public BootRoutes(BootScripts scripts, Path ipxeDir, Path bootenvDir) {
    this.scripts = scripts;
    this.ipxeDir = ipxeDir;
    this.bootenvDir = bootenvDir;
  }

  /**
   * Serves {@code dir} (the {@link org.clonecast.server.boot.LocalBootLoader}) at {@code
   * /boot/local/}.
   */
  public BootRoutes localLoaderDir(Path dir) {
    this.localDir = dir;
    return this;
  }

  /** Adds the routes. */
  public HttpServer.Routes register(HttpServer.Routes routes) {
    return routes
        .open("/boot/", this::script)
        .open("/boot/files/", r -> file(ipxeDir, r.path().substring("/boot/files/".length())))
        .open(
            "/boot/local/",
            r ->
                localDir == null
                    ? Reply.error(
                        HttpResponseStatus.NOT_FOUND, "no local boot loader on this server")
                    : file(localDir, r.path().substring("/boot/local/".length())))
        .open("/bootenv/", r -> file(bootenvDir, r.path().substring("/bootenv/".length())));
  }

  private Reply script(Request r) {
    Matcher m = SCRIPT.matcher(r.path());
    if (!m.matches()) {
      return Reply.error(
          HttpResponseStatus.NOT_FOUND, "want /boot/<mac>.ipxe, e.g. /boot/52:54:00:12:34:56.ipxe");
    }
    MacAddress mac = MacAddress.parse(m.group(1).replace('-', ':'));
    String script = scripts.ipxe(mac, r.remote().getAddress());
    return new Reply.Bytes(
        HttpResponseStatus.OK,
        "text/plain; charset=utf-8",
        script.getBytes(StandardCharsets.UTF_8),
        Map.of());
  }

  private static Reply file(Path dir, String name) {
    if (!FILE_NAME.matcher(name).matches()) {
      return Reply.error(HttpResponseStatus.NOT_FOUND, "no such file: " + name);
    }
    return new Reply.File(dir.resolve(name), "application/octet-stream");
  }
}

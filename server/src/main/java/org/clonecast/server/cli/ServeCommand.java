package org.clonecast.server.cli;

import io.netty.channel.unix.Errors;
import java.net.BindException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ShutdownHook;
import org.clonecast.server.Daemon;
import org.clonecast.server.config.ConfigException;
import org.clonecast.server.config.ConfigFile;
import org.clonecast.server.config.ServeConfig;
import org.clonecast.server.dns.ClusterDns;
import org.clonecast.server.store.StoreException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code clonecast serve}: runs the head node's daemon until SIGTERM or Ctrl-C. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Run the head node's daemon: PXE boot services, cluster DNS, HTTP API and dashboard, multicast sessions.",
      "Settings come from --config (see packaging/clonecast.conf); flags override the file.",
      "Runs until SIGTERM or Ctrl-C."
    })
public final class ServeCommand implements Callable<Integer> {
  @Option(
      names = "--interface",
      paramLabel = "IF",
      description = "Provisioning interface: where nodes PXE boot (config: interface).")
  String iface;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "Config file (default: none; the package installs /etc/clonecast/clonecast.conf).")
  Path configFile;

  @Option(
      names = "--state-dir",
      paramLabel = "DIR",
      description =
          "Database, API token, images, netboot environment (config: state-dir; default: /var/lib/clonecast).")
  Path stateDir;

  @Option(
      names = "--store",
      paramLabel = "URL",
      description =
          "Where inventory, leases, images' metadata, sessions and events live: sqlite (a file in"
              + " the state directory) or postgresql://[user[:password]@]host[:port]/database,"
              + " shared by several daemons (config: store; default: sqlite). See docs/scale.md.")
  String store;

  @Option(
      names = "--http-port",
      paramLabel = "PORT",
      description = "HTTP port for nodes, API and dashboard (config: http.port; default: 8080).")
  Integer httpPort;

  @Option(
      names = "--dns-port",
      paramLabel = "PORT",
      description = "DNS port (UDP and TCP) for the cluster zone (config: dns.port; default: 53).")
  Integer dnsPort;

  @Option(
      names = "--no-dns",
      description =
          "Do not answer DNS; dynamic updates still run if configured (config: dns.enabled = false).")
  boolean noDns;

  @Option(
      names = "--tftp-port",
      paramLabel = "PORT",
      description = "TFTP port on the provisioning address (config: tftp.port; default: 69).")
  Integer tftpPort;

  @Option(
      names = "--tftp-root",
      paramLabel = "DIR",
      description =
          "Directory served by TFTP; the iPXE loaders are copied into it (config: tftp.root; default: STATE-DIR/tftp).")
  Path tftpRoot;

  @Option(
      names = "--no-tftp",
      description = "Do not run the TFTP server (config: tftp.enabled = false).")
  boolean noTftp;

  @Option(
      names = "--dhcp",
      paramLabel = "full|proxy|off",
      description =
          "DHCP responder: full server, proxyDHCP beside the site's DHCP server (answers only PXE clients), or off (config: dhcp.mode; default: proxy).")
  String dhcpMode;

  @Option(
      names = "--range",
      paramLabel = "FIRST,LAST",
      description = "Address pool for --dhcp full, on the interface's subnet (config: dhcp.range).")
  String range;

  @Option(
      names = "--replicate-images",
      description =
          "After start, fetch every ready image this daemon does not hold from the other daemons of its store (config: images.replicate). See docs/scale.md.")
  boolean replicateImages;

  /** Flags as config keys, so the file and the command line go through one validation. */
  Map<String, String> overrides() {
    Map<String, String> m = new HashMap<>();
    if (iface != null) m.put("interface", iface);
    if (stateDir != null) m.put("state-dir", stateDir.toString());
    if (store != null) m.put("store", store);
    if (httpPort != null) m.put("http.port", httpPort.toString());
    if (dnsPort != null) m.put("dns.port", dnsPort.toString());
    if (noDns) m.put("dns.enabled", "false");
    if (tftpPort != null) m.put("tftp.port", tftpPort.toString());
    if (tftpRoot != null) m.put("tftp.root", tftpRoot.toString());
    if (noTftp) m.put("tftp.enabled", "false");
    if (dhcpMode != null) m.put("dhcp.mode", dhcpMode);
    if (range != null) m.put("dhcp.range", range);
    if (replicateImages) m.put("images.replicate", "true");
    return m;
  }

  @Override
  public Integer call() throws Exception {
    ServeConfig config;
    try {
      ConfigFile file = configFile == null ? ConfigFile.empty() : ConfigFile.load(configFile);
      if (iface == null && configFile != null && file.string("interface").isEmpty()) {
        // Under systemd this line is all the admin sees (journal, systemctl status): name the file
        // to edit.
        throw new CliException(
            ExitCodes.USAGE,
            "no provisioning interface configured: set interface = IF (where the nodes"
                + " PXE boot) in "
                + configFile
                + ", or pass --interface IF");
      }
      config = ServeConfig.from(file.with(overrides()));
    } catch (ConfigException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    Daemon daemon;
    try {
      daemon = Daemon.start(config, Clock.systemUTC());
    } catch (StoreException | IllegalArgumentException | IllegalStateException e) {
      throw new CliException(ExitCodes.ENVIRONMENT, e.getMessage(), e);
    } catch (Errors.NativeIoException | BindException e) {
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "cannot listen: "
              + e.getMessage()
              + "; is another clonecast (or dnsmasq) running? Stop it or choose other ports",
          e);
    }
    CountDownLatch stopped = new CountDownLatch(1);
    try (ShutdownHook hook =
        ShutdownHook.install(
            "serve-stop",
            () -> {
              daemon.close();
              stopped.countDown();
            })) {
      System.out.println(
          "clonecast serve: ready on "
              + daemon.nif().name()
              + " ("
              + daemon.nif().address().getHostAddress()
              + "), http port "
              + daemon.httpPort()
              + daemon
                  .dns()
                  .filter(ClusterDns::answering)
                  .map(d -> ", dns port " + d.port())
                  .orElse("")
              + ", dhcp "
              + config.dhcp().mode().id()
              + ", state in "
              + config.stateDir());
      System.out.flush();
      stopped.await();
    }
    return ExitCodes.OK;
  }
}

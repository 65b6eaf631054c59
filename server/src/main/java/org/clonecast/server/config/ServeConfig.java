package org.clonecast.server.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Everything {@code clonecast serve} runs with: the config file's values overridden by flags,
 * validated once. Each service takes its own part.
 *
 * @param interfaceName the provisioning interface: where nodes PXE boot
 * @param stateDir database, API token, image store and cached netboot environment
 * @param store where inventory, leases, images' metadata, sessions and events live: the SQLite file
 *     in {@code stateDir} or a PostgreSQL database shared with other daemons
 * @param http the HTTP server
 * @param boot what nodes boot
 * @param dns the cluster DNS responder and dynamic updates
 * @param tftp the TFTP server
 * @param dhcp the DHCP responder
 * @param session re-imaging sessions
 * @param nodes bounds on the inventory's discovered nodes
 * @param replicateImages whether the daemon fetches every ready image it does not hold from the
 *     other daemons of its store after it starts (config images.replicate, flag {@code
 *     --replicate-images}; docs/scale.md, "Replication")
 */
public record ServeConfig(
    String interfaceName,
    Path stateDir,
    StoreConfig store,
    HttpConfig http,
    BootConfig boot,
    DnsConfig dns,
    TftpConfig tftp,
    DhcpConfig dhcp,
    SessionConfig session,
    NodesConfig nodes,
    boolean replicateImages) {
  public static final Path DEFAULT_STATE_DIR = Path.of("/var/lib/clonecast");

  public ServeConfig {
    Objects.requireNonNull(interfaceName, "interfaceName");
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(http, "http");
    Objects.requireNonNull(boot, "boot");
    Objects.requireNonNull(dns, "dns");
    Objects.requireNonNull(tftp, "tftp");
    Objects.requireNonNull(dhcp, "dhcp");
    Objects.requireNonNull(session, "session");
    Objects.requireNonNull(nodes, "nodes");
  }

  /**
   * Builds the config from a file whose values the command line has already overridden.
   *
   * @throws ConfigException for an invalid value or an unknown key
   */
  public static ServeConfig from(ConfigFile f) {
    String iface =
        f.string("interface")
            .orElseThrow(
                () ->
                    new ConfigException(
                        "no provisioning interface; pass --interface IF or set interface = IF in the config file"));
    Path stateDir = f.path("state-dir").orElse(DEFAULT_STATE_DIR);
    DhcpConfig dhcp = DhcpConfig.from(f);
    ServeConfig c =
        new ServeConfig(
            iface,
            stateDir,
            StoreConfig.from(f),
            HttpConfig.from(f),
            BootConfig.from(f),
            DnsConfig.from(f, dhcp.mode() == DhcpConfig.Mode.FULL),
            TftpConfig.from(f, stateDir),
            dhcp,
            SessionConfig.from(f),
            NodesConfig.from(f),
            f.bool("images.replicate", false));
    f.requireAllUsed();
    return c;
  }
}

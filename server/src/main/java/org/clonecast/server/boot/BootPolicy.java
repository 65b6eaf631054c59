package org.clonecast.server.boot;

import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeStore;

/**
 * What a MAC boots. Only an enrolled node whose action is {@link BootAction#REIMAGE} or {@link
 * BootAction#CAPTURE} boots the netboot environment (its agent learns which from {@code
 * /agent/v1/register}); every other machine, including one nobody enrolled, boots its local disk.
 *
 * <p>Thread-safe.
 */
public final class BootPolicy {
  /** How often a node waiting for the netboot environment asks again: cheap for the server, quick to start. */
  static final int RETRY_SECONDS = 10;
  private final NodeStore nodes;
  private final String kernelArgs;
  private final boolean efiLocalLoader;

  /**
   * @param kernelArgs extra kernel command line for the netboot environment (config boot.kernel-args)
   */
  public BootPolicy(NodeStore nodes, String kernelArgs) {
    this(nodes, kernelArgs, false);
  }

  /**
   * @param efiLocalLoader whether {@link LocalBootLoader} is served at {@code /boot/local/}: EFI
   *     nodes that boot locally chain it instead of exiting iPXE
   */
  public BootPolicy(NodeStore nodes, String kernelArgs, boolean efiLocalLoader) {
    this.nodes = Objects.requireNonNull(nodes);
    this.kernelArgs = Objects.requireNonNull(kernelArgs);
    this.efiLocalLoader = efiLocalLoader;
  }

  /** The action for {@code mac}: {@link BootAction#LOCAL} unless it is enrolled and marked. */
  public BootAction actionFor(MacAddress mac) {
    return nodes.find(mac).filter(Node::enrolled).map(Node::action).orElse(BootAction.LOCAL);
  }

  /**
   * The iPXE script for {@code mac}, with URLs under {@code baseUrl}.
   *
   * @param bootenv whether the netboot environment can be served now; when not, a marked node waits
   *     in iPXE and asks again (its disk may be blank: booting it would strand the node), with the
   *     reason on its console, until it is ready or the admin sets it back to local
   * @param secret the node's per-boot secret ({@link org.clonecast.server.store.NodeSecrets}), put
   *     on the kernel command line; empty when this request may not have one, and then a marked
   *     node's script boots the local disk too: a netboot script never goes out without a secret
   */
  public String ipxeScript(MacAddress mac, String baseUrl, BootenvStatus bootenv, Optional<String> secret) {
    Optional<Node> node = nodes.find(mac);
    if (node.isEmpty() || !node.get().enrolled()) {
      return IpxeScript.bootLocal(mac + " is not enrolled; booting the local disk", localLoader(baseUrl));
    }
    Node n = node.get();
    if (!n.action().netboots()) {
      return IpxeScript.bootLocal(n.name().orElse(mac.toString()) + ": booting the local disk", localLoader(baseUrl));
    }
    if (!(bootenv instanceof BootenvStatus.Ready)) {
      return IpxeScript.awaitBootenv(IpxeScript.scriptUrl(baseUrl, mac), n.name().orElse(mac.toString()) + " is marked to "
          + n.action().purpose() + ", but " + bootenv.why(), "clonecast node set " + mac + " --action local", RETRY_SECONDS);
    }
    if (secret.isEmpty()) {
      return bootLocal(n.name().orElse(mac.toString()) + ": no secret for this request; booting the local disk", baseUrl);
    }
    String args = ("clonecast.server=" + baseUrl + " clonecast.mac=" + mac + " clonecast.secret=" + secret.get() + " "
        + kernelArgs).trim();
    return IpxeScript.netboot(baseUrl, args, n.action().purpose());
  }

  /** A script that boots the local disk, the fast way on EFI when the daemon has its local loader. */
  public String bootLocal(String why, String baseUrl) {
    return IpxeScript.bootLocal(why, localLoader(baseUrl));
  }

  private Optional<String> localLoader(String baseUrl) {
    return efiLocalLoader ? Optional.of(baseUrl + "/boot/local/" + LocalBootLoader.FILE) : Optional.empty();
  }
}

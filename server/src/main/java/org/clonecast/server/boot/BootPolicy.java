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
  private final NodeStore nodes;
  private final String kernelArgs;

  /**
   * @param kernelArgs extra kernel command line for the netboot environment (config boot.kernel-args)
   */
  public BootPolicy(NodeStore nodes, String kernelArgs) {
    this.nodes = Objects.requireNonNull(nodes);
    this.kernelArgs = Objects.requireNonNull(kernelArgs);
  }

  /** The action for {@code mac}: {@link BootAction#LOCAL} unless it is enrolled and marked. */
  public BootAction actionFor(MacAddress mac) {
    return nodes.find(mac).filter(Node::enrolled).map(Node::action).orElse(BootAction.LOCAL);
  }

  /**
   * The iPXE script for {@code mac}, with URLs under {@code baseUrl}.
   *
   * @param bootenvReady whether the netboot environment can be served now; when not, a marked
   *     node boots locally (with the reason on its console) rather than failing to netboot
   * @param secret the node's per-boot secret ({@link org.clonecast.server.store.NodeSecrets}), put
   *     on the kernel command line; empty when this request may not have one, and then a marked
   *     node's script boots the local disk too: a netboot script never goes out without a secret
   */
  public String ipxeScript(MacAddress mac, String baseUrl, boolean bootenvReady, Optional<String> secret) {
    Optional<Node> node = nodes.find(mac);
    if (node.isEmpty() || !node.get().enrolled()) {
      return IpxeScript.bootLocal(mac + " is not enrolled; booting the local disk");
    }
    Node n = node.get();
    if (!n.action().netboots()) {
      return IpxeScript.bootLocal(n.name().orElse(mac.toString()) + ": booting the local disk");
    }
    if (!bootenvReady) {
      return IpxeScript.bootLocal("the netboot environment is not ready on the server; booting the local disk");
    }
    if (secret.isEmpty()) {
      return IpxeScript.bootLocal(n.name().orElse(mac.toString()) + ": no secret for this request; booting the local disk");
    }
    String args = ("clonecast.server=" + baseUrl + " clonecast.mac=" + mac + " clonecast.secret=" + secret.get() + " "
        + kernelArgs).trim();
    return IpxeScript.netboot(baseUrl, args, n.action().purpose());
  }
}

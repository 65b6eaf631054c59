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
  /**
   * How often a node waiting for the netboot environment asks again: cheap for the server, quick to
   * start.
   */
  static final int RETRY_SECONDS = 10;

  private final NodeStore nodes;
  private final String kernelArgs;
  private final boolean efiLocalLoader;

  /**
   * @param kernelArgs extra kernel command line for the netboot environment (config
   *     boot.kernel-args)
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
    return action(nodes.find(mac));
  }

  /** A node's boot action: {@link BootAction#LOCAL} unless it is known, enrolled and marked. */
  public static BootAction action(Optional<Node> node) {
    return node.filter(Node::enrolled).map(Node::action).orElse(BootAction.LOCAL);
  }

  /** What a node's next boot does, whatever the script language that says it. */
  public sealed interface Decision {
    /** Boot the local disk; {@code why} goes to the console. */
    record Local(String why) implements Decision {}

    /**
     * Wait for the netboot environment and ask again; {@code cancel} is the command that stops it.
     */
    record Await(String why, String cancel) implements Decision {}

    /** Boot the netboot environment with this kernel command line, to re-image or capture. */
    record Netboot(String kernelArgs, String purpose) implements Decision {}
  }

  /**
   * What {@code mac} boots now.
   *
   * @param baseUrl this server's HTTP base, for the agent's {@code clonecast.server=}
   * @param bootenv whether the netboot environment can be served now; when not, a marked node waits
   *     and asks again (its disk may be blank: booting it would strand the node), with the reason
   *     on its console, until it is ready or the admin sets it back to local
   * @param secret the node's per-boot secret ({@link org.clonecast.server.store.NodeSecrets}), put
   *     on the kernel command line; empty when this request may not have one, and then a marked
   *     node boots the local disk too: a netboot script never goes out without a secret
   */
  public Decision decide(
      MacAddress mac, String baseUrl, BootenvStatus bootenv, Optional<String> secret) {
    Optional<Node> node = nodes.find(mac);
    if (node.isEmpty() || !node.get().enrolled()) {
      return new Decision.Local(mac + " is not enrolled; booting the local disk");
    }
    Node n = node.get();
    String name = n.name().orElse(mac.toString());
    if (!n.action().netboots()) {
      return new Decision.Local(name + ": booting the local disk");
    }
    if (!(bootenv instanceof BootenvStatus.Ready)) {
      return new Decision.Await(
          name + " is marked to " + n.action().purpose() + ", but " + bootenv.why(),
          "clonecast node set " + mac + " --action local");
    }
    if (secret.isEmpty()) {
      return new Decision.Local(name + ": no secret for this request; booting the local disk");
    }
    String args =
        ("clonecast.server="
                + baseUrl
                + " clonecast.mac="
                + mac
                + " clonecast.secret="
                + secret.get()
                + " "
                + kernelArgs)
            .trim();
    return new Decision.Netboot(args, n.action().purpose());
  }

  /** The iPXE script for {@code mac} ({@link #decide}), with URLs under {@code baseUrl}. */
  public String ipxeScript(
      MacAddress mac, String baseUrl, BootenvStatus bootenv, Optional<String> secret) {
    return ipxe(decide(mac, baseUrl, bootenv, secret), mac, baseUrl);
  }

  /** {@code decision} as an iPXE script. */
  public String ipxe(Decision decision, MacAddress mac, String baseUrl) {
    if (decision instanceof Decision.Netboot b) {
      return IpxeScript.netboot(baseUrl, b.kernelArgs(), b.purpose());
    }
    if (decision instanceof Decision.Await a) {
      return IpxeScript.awaitBootenv(
          IpxeScript.scriptUrl(baseUrl, mac), a.why(), a.cancel(), RETRY_SECONDS);
    }
    return IpxeScript.bootLocal(((Decision.Local) decision).why(), localLoader(baseUrl));
  }

  /**
   * {@code decision} as a GRUB script of the Secure Boot chain, files from TFTP server {@code
   * server}.
   */
  public static String grub(Decision decision, String server) {
    if (decision instanceof Decision.Netboot b) {
      return GrubScript.netboot(server, b.kernelArgs(), b.purpose());
    }
    if (decision instanceof Decision.Await a) {
      return GrubScript.awaitBootenv(a.why(), a.cancel());
    }
    return GrubScript.bootLocal(((Decision.Local) decision).why());
  }

  private Optional<String> localLoader(String baseUrl) {
    return efiLocalLoader
        ? Optional.of(baseUrl + "/boot/local/" + LocalBootLoader.FILE)
        : Optional.empty();
  }
}

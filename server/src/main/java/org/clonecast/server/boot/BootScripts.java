package org.clonecast.server.boot;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.limit.RateLimiter;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.EventLog;
import org.clonecast.server.store.NodeSecrets;
import org.clonecast.server.store.NodeStore;

/**
 * Answers a node's request for its boot script, over HTTP (iPXE: {@code /boot/<mac>.ipxe}) or TFTP
 * (the Secure Boot chain's GRUB: {@code clonecast/<mac>.grub}): the {@link BootPolicy}'s decision,
 * a fresh per-boot secret for a netboot, and the trace it leaves.
 *
 * <p>Nothing here is authenticated: anyone on the segment can ask for any MAC's script. So a
 * request never moves a node's address or DNS name ({@link NodeStore#recordBootScript}), and it
 * leaves a trace (a discovered node, "last seen", an event) only as often as the {@code seen} rate
 * limit allows per client address and in all; beyond that the script is still served. A marked
 * node's netboot script carries a fresh per-boot secret ({@link NodeSecrets}) that its agent's
 * calls must present; it goes only to the node's bound address ({@link NodeBinding}: its lease in
 * full DHCP mode). A request from anywhere else gets the boot-local script and leaves the node's
 * current secret alone.
 *
 * <p>Thread-safe.
 */
public final class BootScripts {
  private enum Language {
    IPXE("iPXE"),
    GRUB("GRUB");

    private final String label;

    Language(String label) {
      this.label = label;
    }
  }

  private final BootPolicy policy;
  private final NodeStore nodes;
  private final EventLog events;
  private final Supplier<String> baseUrl;
  private final Supplier<BootenvStatus> bootenv;
  private final RateLimiter<InetAddress> seen;
  private final NodeBinding binding;
  private final NodeSecrets secrets;
  private volatile Supplier<List<String>> partners = List::of;

  /**
   * @param baseUrl this server as nodes reach it by HTTP, e.g. http://10.77.0.1:8080
   * @param bootenv whether the netboot environment is ready, and if not why (what waiting nodes are
   *     told)
   * @param seen how often a client's script requests are recorded
   * @param binding which address may have a node's netboot script
   * @param secrets where each netboot script's secret is recorded
   */
  public BootScripts(
      BootPolicy policy,
      NodeStore nodes,
      EventLog events,
      Supplier<String> baseUrl,
      Supplier<BootenvStatus> bootenv,
      RateLimiter<InetAddress> seen,
      NodeBinding binding,
      NodeSecrets secrets) {
    this.policy = Objects.requireNonNull(policy);
    this.nodes = Objects.requireNonNull(nodes);
    this.events = Objects.requireNonNull(events);
    this.baseUrl = Objects.requireNonNull(baseUrl);
    this.bootenv = Objects.requireNonNull(bootenv);
    this.seen = Objects.requireNonNull(seen);
    this.binding = Objects.requireNonNull(binding);
    this.secrets = Objects.requireNonNull(secrets);
  }

  /**
   * Puts the URLs of this daemon's running failover partners (the daemons on its segment) after its
   * own in a netboot script's {@code clonecast.server=URL,URL2,...}: an agent whose daemon stops
   * answering moves on to the next (docs/scale.md, "Failover").
   *
   * @return this
   */
  public BootScripts partners(Supplier<List<String>> urls) {
    this.partners = Objects.requireNonNull(urls);
    return this;
  }

  /** Whether the netboot environment's files may be served now. */
  public boolean bootenvReady() {
    return bootenv.get() instanceof BootenvStatus.Ready;
  }

  /** The iPXE script for {@code mac}, asked for from {@code from}. */
  public String ipxe(MacAddress mac, InetAddress from) {
    return script(mac, from, Language.IPXE, "");
  }

  /**
   * The GRUB script for {@code mac}, asked for from {@code from}.
   *
   * @param tftpServer this server's address, where the script fetches the kernel and initramfs
   */
  public String grub(MacAddress mac, InetAddress from, String tftpServer) {
    return script(mac, from, Language.GRUB, tftpServer);
  }

  /**
   * This daemon's URL, then its partners' (each once; a partner listing failing leaves them out).
   */
  private String servers(String base) {
    List<String> all = new ArrayList<>(List.of(base));
    try {
      for (String u : partners.get()) {
        if (!all.contains(u) && u.matches("https?://[0-9A-Za-z.:\\[\\]-]+")) all.add(u);
      }
    } catch (RuntimeException e) {
      // The store did not answer: the node still gets its own daemon.
    }
    return String.join(",", all);
  }

  private String script(MacAddress mac, InetAddress from, Language language, String tftpServer) {
    boolean record = seen.tryAcquire(from);
    if (record) {
      nodes.recordBootScript(mac);
    }
    BootenvStatus status = bootenv.get();
    boolean ready = status instanceof BootenvStatus.Ready;
    BootAction action = policy.actionFor(mac);
    String fromText = from.getHostAddress();
    boolean netboot = action.netboots() && ready;
    String base = baseUrl.get();
    BootPolicy.Decision decision;
    String what;
    if (netboot && !binding.holds(mac, fromText)) {
      // Someone else asking for a marked node's script: no secret, and the node's own stays valid.
      decision =
          new BootPolicy.Decision.Local(
              mac
                  + " netboots only when it asks from "
                  + binding.describe()
                  + "; booting the local disk");
      what = "boot local disk (asked from " + fromText + ", not from " + binding.describe() + ")";
    } else {
      decision =
          policy.decide(
              mac,
              servers(base),
              status,
              netboot ? Optional.of(secrets.issue(mac)) : Optional.empty());
      what =
          !action.netboots()
              ? "boot local disk"
              : ready
                  ? "netboot to " + action.purpose() + " (a new per-boot secret)"
                  : "wait for the netboot environment (" + status.why() + ")";
    }
    if (record) {
      events.node(
          language == Language.IPXE ? "http" : "tftp",
          mac.toString(),
          language.label + " script: " + what);
    }
    return language == Language.IPXE
        ? policy.ipxe(decision, mac, base)
        : BootPolicy.grub(decision, tftpServer);
  }
}

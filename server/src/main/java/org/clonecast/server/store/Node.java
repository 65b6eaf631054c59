package org.clonecast.server.store;

import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;

/**
 * One machine of the cluster, as the inventory knows it.
 *
 * @param mac its boot interface's MAC address: the key
 * @param name host name; empty while the node is only discovered
 * @param group group name; empty when none
 * @param action what its next PXE boot does
 * @param state where it is in its life
 * @param detail the reason of the last failure or the current step; empty when none
 * @param arch the client class its firmware last reported (e.g. "efi-x64"); empty if never seen
 * @param ip the address it last had; empty if never seen
 * @param firstSeenMillis epoch ms it was enrolled or first seen
 * @param lastSeenMillis epoch ms of its last DHCP or HTTP request, or of its enrollment
 * @param reservedIp the address DHCP always gives it (dotted quad); empty for a pool address
 */
public record Node(
    MacAddress mac,
    Optional<String> name,
    Optional<String> group,
    BootAction action,
    NodeState state,
    Optional<String> detail,
    Optional<String> arch,
    Optional<String> ip,
    long firstSeenMillis,
    long lastSeenMillis,
    Optional<String> reservedIp) {

  public Node {
    Objects.requireNonNull(mac, "mac");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(group, "group");
    Objects.requireNonNull(action, "action");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(detail, "detail");
    Objects.requireNonNull(arch, "arch");
    Objects.requireNonNull(ip, "ip");
    Objects.requireNonNull(reservedIp, "reservedIp");
  }

  /** True when an operator enrolled it (it has a name); false when DHCP only saw it. */
  public boolean enrolled() {
    return state != NodeState.DISCOVERED;
  }
}

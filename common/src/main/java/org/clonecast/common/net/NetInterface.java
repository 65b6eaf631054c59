package org.clonecast.common.net;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.protocol.wire.Ipv4;

/**
 * An IPv4-capable network interface the operator named: its address, prefix and broadcast address.
 * The broadcast address is computed from the prefix when the kernel has none (an address added
 * without {@code brd +}), so announcements still go out. Immutable.
 */
public record NetInterface(
    String name,
    NetworkInterface nif,
    Inet4Address address,
    int prefixLength,
    Inet4Address broadcast,
    int mtu) {

  public NetInterface {
    Objects.requireNonNull(nif, "nif");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(broadcast, "broadcast");
  }

  /**
   * Looks an interface up by name.
   *
   * @throws IllegalArgumentException naming the problem and the interfaces there are
   */
  public static NetInterface byName(String name) {
    NetworkInterface nif;
    try {
      nif = NetworkInterface.getByName(name);
    } catch (SocketException e) {
      throw new IllegalArgumentException("cannot list network interfaces: " + e.getMessage(), e);
    }
    if (nif == null) {
      throw new IllegalArgumentException(
          "interface " + name + " not found; interfaces: " + String.join(", ", names()));
    }
    try {
      if (!nif.isUp())
        throw new IllegalArgumentException(
            "interface " + name + " is down; bring it up with 'ip link set " + name + " up'");
      for (InterfaceAddress ia : nif.getInterfaceAddresses()) {
        if (ia.getAddress() instanceof Inet4Address a) {
          Inet4Address brd =
              ia.getBroadcast() instanceof Inet4Address b
                  ? b
                  : Ipv4.broadcast(a, ia.getNetworkPrefixLength());
          return new NetInterface(name, nif, a, ia.getNetworkPrefixLength(), brd, nif.getMTU());
        }
      }
    } catch (SocketException e) {
      throw new IllegalArgumentException(
          "cannot read interface " + name + ": " + e.getMessage(), e);
    }
    throw new IllegalArgumentException(
        "interface "
            + name
            + " has no IPv4 address; add one (ip addr add ADDR/PREFIX brd + dev "
            + name
            + ")");
  }

  /**
   * {@link #byName}, with a failure turned into the operator error every command reports the same
   * way.
   */
  public static NetInterface forCommand(String name) {
    try {
      return byName(name);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.ENVIRONMENT, e.getMessage());
    }
  }

  /** Names of the interfaces that are up, for error messages. */
  public static List<String> names() {
    List<String> out = new ArrayList<>();
    try {
      for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        out.add(n.getName());
      }
    } catch (SocketException e) {
      return List.of("(cannot list: " + e.getMessage() + ")");
    }
    Collections.sort(out);
    return out;
  }

  /** True when {@code other} lies in this interface's subnet. */
  public boolean onLink(InetAddress other) {
    return other instanceof Inet4Address o && Ipv4.sameSubnet(address, o, prefixLength);
  }
}

package org.clonecast.server.config;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which EFI x64 PXE clients boot through Debian's signed chain (shim, signed GRUB, signed kernel)
 * instead of iPXE, which is not signed and which firmware enforcing Secure Boot refuses. Firmware
 * does not say in its DHCP request whether Secure Boot is on, so the admin says which nodes have
 * it: config {@code boot.secure-boot = off | all | GROUP[,GROUP...]} (docs/dhcp.md, "Secure Boot").
 *
 * @param all every EFI x64 PXE client, enrolled or not
 * @param groups the enrolled nodes of these groups (ignored when {@code all})
 *     <p>Immutable; thread-safe.
 */
public record SecureBootNodes(boolean all, Set<String> groups) {
  /** Nobody: every EFI node gets iPXE (the default). */
  public static final SecureBootNodes OFF = new SecureBootNodes(false, Set.of());

  private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  public SecureBootNodes {
    // In the order given: messages and toString() show the groups as the admin wrote them.
    groups = Collections.unmodifiableSet(new LinkedHashSet<>(Objects.requireNonNull(groups)));
  }

  /** Whether a node of {@code group} (empty: no group, or not enrolled) boots the signed chain. */
  public boolean covers(Optional<String> group) {
    return all || group.map(groups::contains).orElse(false);
  }

  /** Whether any node at all can boot the signed chain (the daemon then prepares its files). */
  public boolean any() {
    return all || !groups.isEmpty();
  }

  /**
   * Parses the config value: {@code off}, {@code all}, or group names separated by commas.
   *
   * @throws ConfigException naming the bad part
   */
  public static SecureBootNodes parse(String text) {
    String t = text.trim();
    if (t.isEmpty() || t.equals("off")) return OFF;
    if (t.equals("all")) return new SecureBootNodes(true, Set.of());
    Set<String> groups = new LinkedHashSet<>();
    for (String g : Arrays.stream(t.split(",")).map(String::trim).toList()) {
      if (!GROUP.matcher(g).matches() || g.equals("all") || g.equals("off")) {
        throw new ConfigException(
            "boot.secure-boot: '"
                + g
                + "' is not a group name; use off, all, or groups separated by"
                + " commas (e.g. rack1,rack2)");
      }
      groups.add(g);
    }
    return new SecureBootNodes(false, groups);
  }

  @Override
  public String toString() {
    return all ? "all" : groups.isEmpty() ? "off" : String.join(",", groups);
  }
}

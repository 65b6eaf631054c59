package org.clonecast.server.boot;

import java.net.Inet4Address;
import java.util.Objects;
import java.util.Optional;
import java.util.function.IntSupplier;
import org.clonecast.protocol.dhcp.Pxe;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.BootConfig;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.Node;

/**
 * Which file a network-boot client is handed (docs/dhcp.md, "Boot selection"). Firmware gets an
 * iPXE binary for its architecture; iPXE gets the absolute URL of its per-MAC script, never iPXE
 * again (that would chainload forever). What the script does, re-image or boot the local disk, is
 * the node's {@link BootPolicy}: a MAC nobody enrolled gets a script that boots its disk.
 *
 * <table>
 *   <caption>Boot selection</caption>
 *   <tr><th>client</th><th>file</th><th>60</th></tr>
 *   <tr><td>iPXE (77 "iPXE" or 175)</td><td>http://SERVER:PORT/boot/MAC.ipxe</td><td>PXEClient</td></tr>
 *   <tr><td>BIOS (93 = 0, or no 93)</td><td>boot.bios-loader (undionly.kpxe) over TFTP</td><td>PXEClient</td></tr>
 *   <tr><td>EFI x64 (7, 9)</td><td>boot.efi-loader (ipxe.efi or snponly.efi) over TFTP</td><td>PXEClient</td></tr>
 *   <tr><td>EFI x64 (7, 9), a Secure Boot node (boot.secure-boot)</td><td>shimx64.efi (Debian's signed shim) over
 *       TFTP; it loads grubx64.efi (Debian's signed network GRUB) beside it</td><td>PXEClient</td></tr>
 *   <tr><td>EFI ARM64 (11)</td><td>boot.arm64-loader over TFTP</td><td>PXEClient</td></tr>
 *   <tr><td>HTTP boot x64 (16)</td><td>http://SERVER:PORT/boot/files/EFI-LOADER</td><td>HTTPClient</td></tr>
 *   <tr><td>HTTP boot ARM64 (19)</td><td>http://SERVER:PORT/boot/files/ARM64-LOADER</td><td>HTTPClient</td></tr>
 *   <tr><td>EFI IA32 (6), ARM32 (10), others</td><td>none: no iPXE binary for them</td><td></td></tr>
 * </table>
 *
 * <p>Pure; thread-safe.
 */
public final class BootFileSelector {
  private final BootConfig config;
  private final Inet4Address server;
  private final IntSupplier httpPort;

  /**
   * @param server this server's address on the provisioning interface (next-server, URL host)
   * @param httpPort the HTTP port nodes reach (known after binding when configured as 0)
   */
  public BootFileSelector(BootConfig config, Inet4Address server, IntSupplier httpPort) {
    this.config = Objects.requireNonNull(config);
    this.server = Objects.requireNonNull(server);
    this.httpPort = Objects.requireNonNull(httpPort);
  }

  /**
   * What the client boots.
   *
   * @param arch its architecture ({@link Pxe#arch})
   * @param vendorClass its option 60, if any
   * @param ipxe whether it is iPXE ({@link Pxe#isIpxe})
   * @param mac its MAC, for the script URL
   * @param action the node's boot action, for the log line (the script carries it out)
   * @param secureBoot whether the node boots Debian's signed chain ({@link #secureBoot(Optional)}):
   *     an EFI x64 PXE client then gets shim instead of iPXE (UEFI HTTP boot keeps iPXE: the
   *     chain's GRUB fetches everything by TFTP)
   * @return empty when there is nothing to boot for this architecture
   */
  public Optional<BootFile> select(
      Pxe.Arch arch,
      Optional<String> vendorClass,
      boolean ipxe,
      MacAddress mac,
      BootAction action,
      boolean secureBoot) {
    String base = "http://" + server.getHostAddress() + ":" + httpPort.getAsInt();
    String then = action.netboots() ? "netboot to " + action.purpose() : "boot the local disk";
    if (ipxe) {
      return Optional.of(
          new BootFile(
              base + "/boot/" + mac + ".ipxe",
              server,
              Pxe.PXE_CLIENT,
              "iPXE (" + arch.id() + "): its script (" + then + ")"));
    }
    boolean httpClient =
        arch.httpBoot() || vendorClass.map(v -> v.startsWith(Pxe.HTTP_CLIENT)).orElse(false);
    return switch (arch) {
      case BIOS, UNKNOWN ->
          httpClient
              ? Optional.empty()
              // No 93 and no Arch in option 60: old BIOS ROMs, which send neither.
              : Optional.of(tftp(config.biosLoader(), arch, then));
      case EFI_X64 ->
          Optional.of(
              httpClient
                  ? http(base, config.efiLoader(), arch, then)
                  : secureBoot
                      ? new BootFile(
                          GrubScript.SHIM,
                          server,
                          Pxe.PXE_CLIENT,
                          arch.id()
                              + " firmware, Secure Boot: "
                              + GrubScript.SHIM
                              + " over TFTP, then Debian's signed GRUB, then "
                              + then)
                      : tftp(config.efiLoader(), arch, then));
      case EFI_ARM64 ->
          Optional.of(
              httpClient
                  ? http(base, config.arm64Loader(), arch, then)
                  : tftp(config.arm64Loader(), arch, then));
      case EFI_X64_HTTP -> Optional.of(http(base, config.efiLoader(), arch, then));
      case EFI_ARM64_HTTP -> Optional.of(http(base, config.arm64Loader(), arch, then));
      case EFI_IA32, EFI_ARM32 -> Optional.empty();
    };
  }

  /**
   * Whether {@code node} boots Debian's signed chain instead of iPXE (config boot.secure-boot); a
   * machine nobody enrolled does when the setting covers all nodes.
   */
  public boolean secureBoot(Optional<Node> node) {
    return config.secureBoot().covers(node.filter(Node::enrolled).flatMap(Node::group));
  }

  private BootFile tftp(String name, Pxe.Arch arch, String then) {
    return new BootFile(
        name,
        server,
        Pxe.PXE_CLIENT,
        arch.id() + " firmware: " + name + " over TFTP, then " + then);
  }

  private BootFile http(String base, String name, Pxe.Arch arch, String then) {
    return new BootFile(
        base + "/boot/files/" + name,
        server,
        Pxe.HTTP_CLIENT,
        arch.id() + " HTTP boot: " + name + " over HTTP, then " + then);
  }
}

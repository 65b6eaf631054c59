package org.clonecast.server.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What nodes boot: where the iPXE binaries come from and how the netboot environment's kernel is
 * started.
 *
 * @param ipxeDir directory with Debian's iPXE binaries (undionly.kpxe, ipxe.efi, snponly.efi)
 * @param efiLoader the EFI x64 loader handed to firmware: ipxe.efi (own drivers) or snponly.efi
 *     (the firmware's network driver)
 * @param kernelArgs extra kernel command line for the netboot environment (e.g. console=ttyS0)
 * @param routerAdvert whether to send harmless IPv6 Router Advertisements on the provisioning
 *     interface, so iPXE does not wait ~13 s for IPv6 autoconfiguration
 */
public record BootConfig(Path ipxeDir, String efiLoader, String kernelArgs, boolean routerAdvert) {
  public static final Path DEFAULT_IPXE_DIR = Path.of("/usr/lib/ipxe");

  public BootConfig {
    Objects.requireNonNull(ipxeDir);
    Objects.requireNonNull(kernelArgs);
    if (!efiLoader.equals("ipxe.efi") && !efiLoader.equals("snponly.efi")) {
      throw new ConfigException("boot.efi-loader " + efiLoader + " is invalid; use ipxe.efi or snponly.efi");
    }
  }

  static BootConfig from(ConfigFile f) {
    return new BootConfig(
        f.path("boot.ipxe-dir").orElse(DEFAULT_IPXE_DIR),
        f.string("boot.efi-loader", "ipxe.efi"),
        f.string("boot.kernel-args", ""),
        f.bool("boot.router-advert", true));
  }
}

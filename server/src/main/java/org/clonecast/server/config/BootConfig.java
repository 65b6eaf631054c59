package org.clonecast.server.config;

import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

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
 * @param biosLoader the iPXE binary BIOS PXE ROMs load over TFTP (undionly.kpxe: the ROM's UNDI
 *     driver)
 * @param arm64Loader the iPXE binary for ARM64 UEFI (arch 11 and HTTP boot 19), from ipxeDir
 * @param secureBoot the EFI x64 nodes that boot Debian's signed chain instead of iPXE
 *     (boot.secure-boot)
 */
public record BootConfig(
    Path ipxeDir,
    String efiLoader,
    String kernelArgs,
    boolean routerAdvert,
    String biosLoader,
    String arm64Loader,
    SecureBootNodes secureBoot) {
  public static final Path DEFAULT_IPXE_DIR = Path.of("/usr/lib/ipxe");
  private static final Pattern FILE = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,99}");

  public BootConfig {
    Objects.requireNonNull(ipxeDir);
    Objects.requireNonNull(kernelArgs);
    Objects.requireNonNull(secureBoot);
    if (!efiLoader.equals("ipxe.efi") && !efiLoader.equals("snponly.efi")) {
      throw new ConfigException(
          "boot.efi-loader " + efiLoader + " is invalid; use ipxe.efi or snponly.efi");
    }
    for (String[] kv :
        new String[][] {{"boot.bios-loader", biosLoader}, {"boot.arm64-loader", arm64Loader}}) {
      if (!FILE.matcher(kv[1]).matches()) {
        throw new ConfigException(
            kv[0]
                + " "
                + kv[1]
                + " is invalid; give a file name in boot.ipxe-dir, e.g. undionly.kpxe");
      }
    }
  }

  /** Without Secure Boot nodes. */
  public BootConfig(
      Path ipxeDir,
      String efiLoader,
      String kernelArgs,
      boolean routerAdvert,
      String biosLoader,
      String arm64Loader) {
    this(
        ipxeDir, efiLoader, kernelArgs, routerAdvert, biosLoader, arm64Loader, SecureBootNodes.OFF);
  }

  static BootConfig from(ConfigFile f) {
    return new BootConfig(
        f.path("boot.ipxe-dir").orElse(DEFAULT_IPXE_DIR),
        f.string("boot.efi-loader", "ipxe.efi"),
        f.string("boot.kernel-args", ""),
        f.bool("boot.router-advert", true),
        f.string("boot.bios-loader", "undionly.kpxe"),
        f.string("boot.arm64-loader", "snp-arm64.efi"),
        SecureBootNodes.parse(f.string("boot.secure-boot", "off")));
  }
}

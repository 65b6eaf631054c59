package org.clonecast.server.boot;

import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.wire.MacAddress;

/**
 * The iPXE scripts clonecast hands to nodes. Every URL is absolute, pointing at this server: in
 * proxyDHCP mode iPXE's {@code ${next-server}} is the site DHCP server, not us.
 *
 * <p>Pure; thread-safe.
 */
public final class IpxeScript {
  private IpxeScript() {}

  /**
   * Boots the local disk. BIOS iPXE hands over to the first hard disk ({@code sanboot} of drive
   * 0x80); EFI iPXE exits, so the firmware tries its next boot option, the disk.
   *
   * @param why shown on the node's console, one line
   */
  public static String bootLocal(String why) {
    return bootLocal(why, Optional.empty());
  }

  /**
   * Boots the local disk; EFI nodes chain {@code efiLoaderUrl} when given ({@link LocalBootLoader}:
   * it finds the ESP's bootloader and chainloads it, where iPXE's {@code exit} makes firmwares such
   * as OVMF walk every network boot option first or stop), and exit to the firmware if that fails.
   */
  public static String bootLocal(String why, Optional<String> efiLoaderUrl) {
    return "#!ipxe\n"
        + "echo clonecast: "
        + sanitize(why)
        + "\n"
        + efiLoaderUrl
            .map(u -> "iseq ${platform} efi && chain --autofree " + sanitize(u) + " ||\n")
            .orElse("")
        + "iseq ${platform} efi && exit 0 ||\n"
        + "sanboot --no-describe --drive 0x80 || exit 0\n";
  }

  /**
   * Boots clonecast's netboot environment, whose agent asks the server what to do.
   *
   * @param baseUrl this server, e.g. {@code http://10.77.0.1:8080}
   * @param kernelArgs the whole kernel command line after {@code initrd=}
   * @param purpose shown on the console: "re-image" or "capture"
   */
  public static String netboot(String baseUrl, String kernelArgs, String purpose) {
    Objects.requireNonNull(baseUrl);
    return "#!ipxe\n"
        + "echo clonecast: booting the netboot environment to "
        + sanitize(purpose)
        + " this node\n"
        + "kernel "
        + baseUrl
        + "/bootenv/vmlinuz initrd=initramfs.zst "
        + sanitize(kernelArgs)
        + " || goto failed\n"
        + "initrd --name initramfs.zst "
        + baseUrl
        + "/bootenv/initramfs.zst || goto failed\n"
        + "boot || goto failed\n"
        + ":failed\n"
        + "echo clonecast: netboot failed; retrying in 10 s\n"
        + "sleep 10\n"
        + "reboot\n";
  }

  /** Where a node fetches its own script: {@code BASE/boot/<mac>.ipxe}. */
  public static String scriptUrl(String baseUrl, MacAddress mac) {
    return baseUrl + "/boot/" + mac + ".ipxe";
  }

  /**
   * Waits for the netboot environment: says why on the console, sleeps, and fetches the node's
   * script again (replacing this one), for as long as it takes; a server that does not answer is
   * asked again too. Waiting is right here: the node is marked for a destructive action and its
   * disk may be blank, so booting it would leave the node at "no bootable device" until someone
   * power-cycles it. It ends when the server answers with another script: the netboot one once the
   * environment is ready, or boot-local when the admin unmarks the node.
   *
   * @param why one line, shown on the console at every try
   * @param cancel the command that stops the wait, shown on the console
   */
  public static String awaitBootenv(String scriptUrl, String why, String cancel, int retrySeconds) {
    return "#!ipxe\n"
        + "echo clonecast: "
        + sanitize(why)
        + "\n"
        + "echo clonecast: waiting; asking the server again in "
        + retrySeconds
        + " s (to stop: "
        + sanitize(cancel)
        + ")\n"
        + "sleep "
        + retrySeconds
        + "\n"
        + ":retry\n"
        + "chain --replace --autofree "
        + sanitize(scriptUrl)
        + " || goto unanswered\n"
        + ":unanswered\n"
        + "echo clonecast: the server did not answer; asking again in "
        + retrySeconds
        + " s\n"
        + "sleep "
        + retrySeconds
        + "\n"
        + "goto retry\n";
  }

  /** Script lines must stay one line each: no control characters from stored names reach iPXE. */
  static String sanitize(String text) {
    StringBuilder b = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    return b.toString();
  }
}

package org.clonecast.server.boot;

import java.net.Inet4Address;
import java.util.Objects;

/**
 * What a DHCP reply tells a booting client to load.
 *
 * @param file the BOOTP file field and option 67: a TFTP file name, or an absolute http:// URL
 * @param nextServer siaddr: the TFTP server (this server; also set for URLs, where it is unused)
 * @param vendorClass option 60 to put in the reply: "PXEClient" (saves iPXE its ~2 s proxyDHCP
 *     wait) or "HTTPClient" (UEFI HTTP boot ignores offers without it)
 * @param reason one line for the log, e.g. "efi-x64 firmware: ipxe.efi over TFTP"
 *     <p>Immutable; thread-safe.
 */
public record BootFile(String file, Inet4Address nextServer, String vendorClass, String reason) {
  public BootFile {
    Objects.requireNonNull(file);
    Objects.requireNonNull(nextServer);
    Objects.requireNonNull(vendorClass);
    Objects.requireNonNull(reason);
  }

  /** Whether {@link #file} is a URL (iPXE script, UEFI HTTP boot) rather than a TFTP name. */
  public boolean isUrl() {
    return file.startsWith("http://");
  }
}

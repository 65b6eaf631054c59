package org.clonecast.server.tftp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts the iPXE loaders that firmware fetches by TFTP into the TFTP root: {@code undionly.kpxe}
 * (BIOS), {@code ipxe.efi} and {@code snponly.efi} (EFI x64), from Debian's {@code /usr/lib/ipxe}.
 * There {@code ipxe.efi} is a symlink to {@code /boot/ipxe.efi}, outside the root, so the resolved
 * file is copied, not the link. A file is copied only when its content changed, through a temporary
 * file and an atomic rename, so a transfer never reads half a loader.
 *
 * <p>Stateless; call from one thread at start.
 */
public final class IpxeLoaders {
  private static final Logger LOG = LoggerFactory.getLogger(IpxeLoaders.class);

  /** The loaders firmware asks for (boot policy hands out these names). */
  public static final List<String> NAMES = List.of("undionly.kpxe", "ipxe.efi", "snponly.efi");

  private IpxeLoaders() {}

  /**
   * Copies each loader of {@code ipxeDir} into {@code root} when missing or different. A loader
   * missing from {@code ipxeDir} is a WARN, not a failure: nodes of that firmware cannot boot until
   * the ipxe package is installed, the others can.
   *
   * @return the names copied this time
   * @throws IOException when the root cannot be written
   */
  public static List<String> sync(Path ipxeDir, Path root) throws IOException {
    List<String> copied = new ArrayList<>();
    for (String name : NAMES) {
      Path src = ipxeDir.resolve(name);
      if (!Files.exists(src)) {
        LOG.warn(
            "tftp: iPXE loader {} not found ({}); nodes that need it cannot boot; install the Debian package ipxe",
            name,
            src);
        continue;
      }
      if (copyIfChanged(src, root.resolve(name))) {
        LOG.info("tftp: copied iPXE loader {} to {}", src.toRealPath(), root.resolve(name));
        copied.add(name);
      }
    }
    return copied;
  }

  /**
   * Copies {@code src}'s resolved file to {@code dst} (a temporary file beside it, then an atomic
   * rename) unless {@code dst} holds the same bytes already.
   *
   * @return whether it copied
   */
  static boolean copyIfChanged(Path src, Path dst) throws IOException {
    Path real = src.toRealPath();
    if (Files.isRegularFile(dst, LinkOption.NOFOLLOW_LINKS)
        && Files.size(dst) == Files.size(real)
        && Files.mismatch(dst, real) == -1) {
      return false;
    }
    Files.createDirectories(dst.getParent());
    Path tmp = dst.resolveSibling("." + dst.getFileName() + ".tmp");
    Files.copy(real, tmp, StandardCopyOption.REPLACE_EXISTING);
    Files.move(tmp, dst, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return true;
  }
}

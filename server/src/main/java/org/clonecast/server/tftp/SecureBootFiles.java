package org.clonecast.server.tftp;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpError;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.BootScripts;
import org.clonecast.server.boot.GrubScript;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Secure Boot chain on TFTP (docs/bootenv.md, "Secure Boot"). In the root, copied from the
 * installed Debian packages at start: {@code shimx64.efi} (shim-signed's {@code
 * shimx64.efi.signed}, signed by Microsoft's UEFI CA, what firmware verifies), {@code grubx64.efi}
 * (grub-efi-amd64-signed's {@code grubnetx64.efi.signed}, signed by Debian, what shim verifies and
 * loads from its own directory), {@code mmx64.efi} (shim's MOK manager) and {@code grub/grub.cfg}
 * ({@link GrubScript#entry}). Generated per request: {@code clonecast/<mac>.grub}, the node's
 * script ({@link BootScripts#grub}, with the per-boot secret only for the node's bound address),
 * and {@code clonecast/bootenv/vmlinuz} and {@code initramfs.zst}, the netboot environment's files
 * while it is ready (Debian's signed kernel: the chain verifies it; GRUB has no HTTP here).
 *
 * <p>Thread-safe.
 */
public final class SecureBootFiles implements TftpOverlay {
  private static final Logger LOG = LoggerFactory.getLogger(SecureBootFiles.class);

  /** The signed binaries: Debian's file, and the name in the TFTP root. */
  static final List<String[]> SIGNED =
      List.of(
          new String[] {"/usr/lib/shim/shimx64.efi.signed", GrubScript.SHIM},
          new String[] {"/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed", GrubScript.GRUB},
          new String[] {"/usr/lib/shim/mmx64.efi.signed", GrubScript.MOK_MANAGER});

  private static final Pattern SCRIPT =
      Pattern.compile(
          Pattern.quote(GrubScript.DIR + "/") + "([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\\.grub");
  private static final List<String> BOOTENV_FILES = List.of("vmlinuz", "initramfs.zst");

  private final BootScripts scripts;
  private final Path bootenvDir;
  private final Path scratch;
  private final String server;

  /**
   * @param bootenvDir the current netboot environment (a link replaced when a new one is installed)
   * @param scratch a directory of the daemon's own for the generated scripts while they are sent
   * @param server this server's address, dotted quad: where GRUB fetches everything
   */
  public SecureBootFiles(BootScripts scripts, Path bootenvDir, Path scratch, String server) {
    this.scripts = Objects.requireNonNull(scripts);
    this.bootenvDir = Objects.requireNonNull(bootenvDir);
    this.scratch = Objects.requireNonNull(scratch);
    this.server = Objects.requireNonNull(server);
  }

  /**
   * Copies the signed binaries from {@code /usr/lib} into {@code root} when missing or changed, and
   * writes {@code grub/grub.cfg}. A missing package is a WARN: Secure Boot nodes cannot boot until
   * it is installed, the others can.
   *
   * @return what is missing, one line each (empty when the chain is complete)
   */
  public static List<String> sync(Path root, String server) throws IOException {
    return sync(root, server, Path.of("/"));
  }

  static List<String> sync(Path root, String server, Path system) throws IOException {
    List<String> missing = new ArrayList<>();
    for (String[] f : SIGNED) {
      Path src = system.resolve(f[0].substring(1));
      if (!Files.exists(src)) {
        missing.add(
            src
                + " is missing (install "
                + (f[0].contains("/shim/") ? "shim-signed" : "grub-efi-amd64-signed")
                + ")");
        continue;
      }
      if (IpxeLoaders.copyIfChanged(src, root.resolve(f[1]))) {
        LOG.info("tftp: copied {} to {}", src, root.resolve(f[1]));
      }
    }
    Path cfg = root.resolve(GrubScript.ENTRY);
    Files.createDirectories(cfg.getParent());
    Path tmp = cfg.resolveSibling(".grub.cfg.tmp");
    Files.writeString(tmp, GrubScript.entry(server), StandardCharsets.UTF_8);
    Files.move(tmp, cfg, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return missing;
  }

  @Override
  public Optional<TftpRoot.Lookup> open(String name, InetAddress client) {
    if (!name.startsWith(GrubScript.DIR + "/")) {
      return Optional.empty();
    }
    Matcher m = SCRIPT.matcher(name);
    if (m.matches()) {
      MacAddress mac = MacAddress.parse(m.group(1));
      return Optional.of(generated(name, scripts.grub(mac, client, server)));
    }
    String prefix = GrubScript.BOOTENV_DIR + "/";
    String rest = name.startsWith(prefix) ? name.substring(prefix.length()) : "";
    if (BOOTENV_FILES.contains(rest)) {
      if (!scripts.bootenvReady()) {
        return Optional.of(
            refused(Tftp.ERR_FILE_NOT_FOUND, name + ": the netboot environment is not ready"));
      }
      try {
        return Optional.of(new TftpRoot(bootenvDir).open(rest));
      } catch (IOException e) {
        return Optional.of(
            refused(Tftp.ERR_FILE_NOT_FOUND, name + ": no netboot environment installed"));
      }
    }
    return Optional.of(
        refused(
            Tftp.ERR_FILE_NOT_FOUND,
            name
                + ": want "
                + GrubScript.DIR
                + "/<mac>.grub or "
                + GrubScript.BOOTENV_DIR
                + "/{vmlinuz,initramfs.zst}"));
  }

  /**
   * The script as an open file: written to scratch, opened, and unlinked (the open channel keeps
   * it).
   */
  private TftpRoot.Lookup generated(String name, String content) {
    try {
      Files.createDirectories(scratch);
      Path f = Files.createTempFile(scratch, "grub-", ".tmp");
      try {
        Files.writeString(f, content, StandardCharsets.UTF_8);
        FileChannel ch = FileChannel.open(f, StandardOpenOption.READ);
        try {
          return new TftpRoot.Found(f, ch, ch.size());
        } catch (IOException e) {
          ch.close();
          throw e;
        }
      } finally {
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      LOG.warn("tftp: cannot write {} for sending: {}", name, e.toString());
      return refused(Tftp.ERR_NOT_DEFINED, name + ": the server cannot write it now");
    }
  }

  private static TftpRoot.Refused refused(int code, String message) {
    return new TftpRoot.Refused(new TftpError(code, message));
  }
}

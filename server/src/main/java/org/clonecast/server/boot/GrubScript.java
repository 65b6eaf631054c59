package org.clonecast.server.boot;

import java.util.List;
import java.util.Objects;
import org.clonecast.protocol.wire.MacAddress;

/**
 * The GRUB scripts of the Secure Boot chain (docs/bootenv.md, "Secure Boot"): firmware loads
 * Debian's signed shim by TFTP, shim loads {@code grubx64.efi} (Debian's signed network GRUB,
 * grubnetx64) from the same TFTP directory, and that GRUB reads {@code grub/grub.cfg} under its
 * built-in prefix {@code /grub} on the TFTP server: {@link #entry}, which fetches the node's own
 * script by TFTP ({@code clonecast/<mac>.grub}, {@link #netboot}, {@link #bootLocal} or {@link
 * #awaitBootenv}) and, when that returns instead of booting, asks again. Everything goes over TFTP:
 * Debian's signed GRUB has no HTTP module built in, and under Secure Boot it loads no module from
 * elsewhere.
 *
 * <p>Every piece of text from outside (names, reasons, kernel arguments) is single-quoted, which in
 * GRUB's script syntax leaves {@code $}, {@code ;}, braces and the like inert; control characters
 * become spaces so a line stays one line.
 *
 * <p>Pure; thread-safe.
 */
public final class GrubScript {
  /**
   * The boot file a Secure Boot node's firmware gets: Debian's shim, signed by Microsoft's UEFI CA.
   */
  public static final String SHIM = "shimx64.efi";

  /**
   * What shim loads from its own TFTP directory: Debian's signed network GRUB under shim's fixed
   * name.
   */
  public static final String GRUB = "grubx64.efi";

  /** Shim's MOK manager, which it loads only when a key enrolment is pending. */
  public static final String MOK_MANAGER = "mmx64.efi";

  /**
   * Where the signed GRUB looks for its configuration: its built-in prefix /grub, on the TFTP
   * server.
   */
  public static final String ENTRY = "grub/grub.cfg";

  /** The TFTP directory of the per-node scripts and the netboot environment's files. */
  public static final String DIR = "clonecast";

  /** Where the netboot environment's kernel and initramfs are on TFTP. */
  public static final String BOOTENV_DIR = DIR + "/bootenv";

  /** Seconds between two questions to the server. */
  static final int RETRY_SECONDS = BootPolicy.RETRY_SECONDS;

  private GrubScript() {}

  /**
   * {@code grub/grub.cfg}: asks the server what this node boots, by TFTP, until an answer boots.
   *
   * @param server this server's address (TFTP), dotted quad
   */
  public static String entry(String server) {
    return "# clonecast: Debian's signed network GRUB reads this under its built-in prefix /grub (docs/bootenv.md).\n"
        + "# Each node asks the server what to boot; an answer that returns (waiting, a failed netboot) is asked again.\n"
        + "set timeout=0\n"
        + "while [ 1 = 1 ]; do\n"
        + "  source (tftp,"
        + server
        + ")/"
        + DIR
        + "/${net_default_mac}.grub\n"
        + "  sleep "
        + RETRY_SECONDS
        + "\n"
        + "done\n";
  }

  /** The TFTP name of a node's script, as {@link #entry} asks for it. */
  public static String scriptName(MacAddress mac) {
    return DIR + "/" + mac + ".grub";
  }

  /**
   * Boots the netboot environment through shim's verifier: Debian's signed kernel, our initramfs.
   *
   * @param server this server's address (TFTP)
   * @param kernelArgs the kernel command line, the same as the iPXE path's
   * @param purpose "re-image" or "capture"
   */
  public static String netboot(String server, String kernelArgs, String purpose) {
    StringBuilder args = new StringBuilder();
    for (String a : kernelArgs.trim().split("\\s+")) {
      if (!a.isEmpty()) args.append(' ').append(quote(a));
    }
    return "echo "
        + quote("clonecast: booting the netboot environment to " + purpose + " this node")
        + "\n"
        + "linux (tftp,"
        + server
        + ")/"
        + BOOTENV_DIR
        + "/vmlinuz"
        + args
        + "\n"
        + "initrd (tftp,"
        + server
        + ")/"
        + BOOTENV_DIR
        + "/initramfs.zst\n"
        + "boot\n"
        + "echo "
        + quote("clonecast: netboot failed; asking the server again in " + RETRY_SECONDS + " s")
        + "\n";
  }

  /**
   * Boots the local disk: finds an ESP loader ({@link LocalBootLoader#LOADERS}, the removable path
   * first: on a Secure Boot clone that is shim, which firmware verifies against Microsoft's key)
   * and chainloads it; without one it says so and returns to the firmware, which tries its next
   * boot option.
   */
  public static String bootLocal(String why) {
    return bootLocal(why, LocalBootLoader.LOADERS);
  }

  static String bootLocal(String why, List<String> loaders) {
    StringBuilder b = new StringBuilder("echo " + quote("clonecast: " + why) + "\n");
    for (String f : loaders) {
      b.append("if search --no-floppy --file --set=root ")
          .append(f)
          .append("; then\n")
          .append("  chainloader ")
          .append(f)
          .append("\n")
          .append("  boot\n")
          .append("fi\n");
    }
    return b.append("echo ")
        .append(
            quote(
                "clonecast: no local disk has "
                    + String.join(" or ", loaders)
                    + "; give the golden node shim at the removable path (docs/bootenv.md) and capture again"))
        .append('\n')
        .append("sleep 30\n")
        .append("exit\n")
        .toString();
  }

  /**
   * Says why the node waits; {@link #entry} asks again after {@link #RETRY_SECONDS}.
   *
   * @param cancel the command that stops the wait
   */
  public static String awaitBootenv(String why, String cancel) {
    return "echo "
        + quote("clonecast: " + why)
        + "\n"
        + "echo "
        + quote(
            "clonecast: waiting; asking the server again in "
                + RETRY_SECONDS
                + " s (to stop: "
                + cancel
                + ")")
        + "\n";
  }

  /** {@code text} as one single-quoted GRUB word: nothing in it is expanded, it stays one line. */
  static String quote(String text) {
    Objects.requireNonNull(text);
    return "'" + IpxeScript.sanitize(text).replace("'", "'\\''") + "'";
  }
}

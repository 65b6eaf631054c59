package org.clonecast.server.boot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The small EFI program that boots a UEFI node's local disk when its iPXE script says "local".
 * iPXE's {@code exit} hands control back to the firmware, and OVMF (like many firmwares) then walks
 * every remaining network boot option (two minutes) or stops at "No more network devices" instead
 * of going on to the disk. So EFI nodes chain this instead: a GRUB EFI image made with Debian's
 * {@code grub-mkimage} (grub-efi-amd64-bin) whose embedded configuration searches the local disks
 * for a bootloader on an EFI system partition (the removable-media path {@code
 * \EFI\BOOT\BOOTX64.EFI} first, then Debian's {@code \EFI\debian\}) and chainloads it.
 *
 * <p>Built once by the daemon at start into {@code <state-dir>/boot/localboot-x64.efi}; without
 * grub-mkimage and the x86_64-efi modules there is none, and EFI nodes fall back to iPXE's {@code
 * exit}. Not signed: with Secure Boot on, the firmware refuses it (docs/bootenv.md). Not
 * thread-safe (the daemon builds it once before serving).
 */
public final class LocalBootLoader {
  /** The file name under {@code <state-dir>/boot/}, served at {@code /boot/local/}. */
  public static final String FILE = "localboot-x64.efi";

  private static final Path MODULES = Path.of("/usr/lib/grub/x86_64-efi");

  /**
   * The ESP paths tried, in order: the removable path needs no firmware boot entry (clones carry
   * none).
   */
  static final List<String> LOADERS =
      List.of("/EFI/BOOT/BOOTX64.EFI", "/EFI/debian/shimx64.efi", "/EFI/debian/grubx64.efi");

  static final List<String> GRUB_MODULES =
      List.of(
          "part_gpt",
          "part_msdos",
          "fat",
          "chain",
          "search",
          "search_fs_file",
          "echo",
          "sleep",
          "minicmd");

  private LocalBootLoader() {}

  /**
   * GRUB's embedded configuration: find a loader on the local disks' ESPs and chainload it. It runs
   * in GRUB's rescue parser (before normal.mod), which has no {@code if}: each try is a search, a
   * chainloader and a boot, and a failed one falls through to the next line. The search sets {@code
   * root} (a {@code ($var)} device in a path is not expanded there; tried in OVMF).
   */
  static String grubConfig() {
    StringBuilder b = new StringBuilder();
    b.append("echo clonecast: looking for a bootloader on the local disks\n");
    for (String f : LOADERS) {
      b.append("search --no-floppy --file --set=root ")
          .append(f)
          .append('\n')
          .append("chainloader ")
          .append(f)
          .append('\n')
          .append("boot\n");
    }
    b.append("echo clonecast: no local disk has ")
        .append(String.join(" or ", LOADERS))
        .append("; write one on the golden node (grub-install --removable) and capture again\n")
        .append("sleep 30\n")
        .append("exit\n");
    return b.toString();
  }

  /**
   * Builds the loader into {@code dir} unless it is there; returns its path, or empty (with the
   * reason in {@code why}) when grub-mkimage or GRUB's x86_64-efi modules are missing or fail.
   */
  public static Optional<Path> ensure(Path dir, List<String> why) {
    Path out = dir.resolve(FILE);
    try {
      Path cfg = dir.resolve("localboot-x64.cfg");
      String want = grubConfig();
      if (Files.isRegularFile(out)
          && Files.isRegularFile(cfg)
          && Files.readString(cfg).equals(want)) return Optional.of(out);
      if (!Files.isDirectory(MODULES)) {
        why.add(
            MODULES
                + " is missing (install grub-efi-amd64-bin); UEFI nodes boot their disks through iPXE's exit");
        return Optional.empty();
      }
      Files.createDirectories(dir);
      Files.writeString(cfg, want, StandardCharsets.UTF_8);
      Path tmp = dir.resolve(FILE + ".tmp");
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  "grub-mkimage",
                  "-O",
                  "x86_64-efi",
                  "-p",
                  "",
                  "-c",
                  cfg.toString(),
                  "-o",
                  tmp.toString()));
      cmd.addAll(GRUB_MODULES);
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        why.add("grub-mkimage did not finish in 60 s");
        return Optional.empty();
      }
      if (p.exitValue() != 0) {
        why.add("grub-mkimage failed: " + log.strip());
        return Optional.empty();
      }
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return Optional.of(out);
    } catch (IOException e) {
      why.add(
          "cannot build "
              + out
              + ": "
              + e.getMessage()
              + " (install grub-common and grub-efi-amd64-bin)");
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      why.add("interrupted building " + out);
      return Optional.empty();
    }
  }
}

package org.clonecast.it.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Checks that the tools an IT needs are installed, and says which Debian package brings each one.
 * In CI ({@code CI=true}) a missing tool fails the test (STYLE rule 24: a missing peer is a
 * failure, not a skip); elsewhere the test is aborted (reported as skipped) with the install hint.
 * Thread-safe (no state).
 */
public final class Prereqs {
  /** Tool → Debian 12 package. Tools not listed get a generic hint. */
  private static final Map<String, String> PACKAGES =
      Map.ofEntries(
          Map.entry("udp-sender", "udpcast"),
          Map.entry("udp-receiver", "udpcast"),
          Map.entry("nft", "nftables"),
          Map.entry("ip", "iproute2"),
          Map.entry("tc", "iproute2"),
          Map.entry("ss", "iproute2"),
          Map.entry("ping", "iputils-ping"),
          Map.entry("python3", "python3"),
          Map.entry("setsid", "util-linux"),
          Map.entry("kill", "procps"),
          Map.entry("pgrep", "procps"),
          Map.entry("killall", "psmisc"),
          Map.entry("fuser", "psmisc"),
          Map.entry("sha256sum", "coreutils"),
          Map.entry("java", "openjdk-17-jdk-headless"),
          Map.entry("mvn", "maven"),
          Map.entry("jlink", "openjdk-17-jdk-headless"),
          Map.entry("jdeps", "openjdk-17-jdk-headless"),
          Map.entry("strip", "binutils"),
          Map.entry("zip", "zip"),
          Map.entry("depmod", "kmod"),
          Map.entry("modprobe", "kmod"),
          Map.entry("socat", "socat"),
          Map.entry("tcpdump", "tcpdump"),
          Map.entry("curl", "curl"),
          Map.entry("dig", "bind9-dnsutils"),
          Map.entry("named", "bind9"),
          Map.entry("tsig-keygen", "bind9"),
          Map.entry("dnsmasq", "dnsmasq-base"),
          Map.entry("tftp", "tftp-hpa"),
          Map.entry("atftp", "atftp"),
          Map.entry("in.tftpd", "tftpd-hpa"),
          Map.entry("dhclient", "isc-dhcp-client"),
          Map.entry("udhcpc", "udhcpc"),
          Map.entry("perfdhcp", "kea-admin"),
          Map.entry("qemu-system-x86_64", "qemu-system-x86"),
          Map.entry("zstd", "zstd"),
          Map.entry("busybox", "busybox-static"),
          Map.entry("cpio", "cpio"),
          Map.entry("dpkg-deb", "dpkg"),
          Map.entry("apt-get", "apt"),
          Map.entry("sfdisk", "fdisk"),
          Map.entry("mkfs.ext4", "e2fsprogs"),
          Map.entry("debugfs", "e2fsprogs"),
          Map.entry("e2fsck", "e2fsprogs"),
          Map.entry("dumpe2fs", "e2fsprogs"),
          Map.entry("sgdisk", "gdisk"),
          Map.entry("mkfs.vfat", "dosfstools"),
          Map.entry("fsck.vfat", "dosfstools"),
          Map.entry("mcopy", "mtools"),
          Map.entry("mkfs.xfs", "xfsprogs"),
          Map.entry("xfs_repair", "xfsprogs"),
          Map.entry("xfs_io", "xfsprogs"),
          Map.entry("mkswap", "util-linux"),
          Map.entry("blkid", "util-linux"),
          Map.entry("openssl", "openssl"),
          Map.entry("tar", "tar"),
          Map.entry("partclone.ext4", "partclone"),
          Map.entry("partclone.xfs", "partclone"),
          Map.entry("losetup", "mount"),
          Map.entry("mount", "mount"),
          Map.entry("umount", "mount"),
          Map.entry("systemd-analyze", "systemd"),
          Map.entry("man", "man-db"),
          Map.entry("groff", "groff-base"),
          Map.entry("setpriv", "util-linux"),
          Map.entry("getent", "libc-bin"),
          Map.entry("strace", "strace"),
          Map.entry("chromium", "chromium"));

  /** Root's tools live in the sbin directories, which a non-login PATH may lack. */
  private static final List<String> EXTRA_DIRS = List.of("/usr/local/sbin", "/usr/sbin", "/sbin");

  private Prereqs() {}

  /** Fails (CI) or aborts (elsewhere) the current test unless every tool is on PATH. */
  public static void require(String... tools) {
    List<String> missing = missing(tools);
    if (!missing.isEmpty()) {
      failOrAbort(describeMissing(missing));
    }
  }

  /** Fails (CI) or aborts (elsewhere) the current test unless it runs as root. */
  public static void requireRoot() {
    if (!isRoot()) {
      failOrAbort("this test needs root (network namespaces, bridges, nftables); run it as root");
    }
  }

  /** The tools among {@code tools} that are not installed. */
  public static List<String> missing(String... tools) {
    List<String> missing = new ArrayList<>();
    for (String t : tools) {
      if (find(t).isEmpty()) {
        missing.add(t);
      }
    }
    return missing;
  }

  /** Where {@code tool} is: the first executable on PATH, then in the sbin directories. */
  public static Optional<Path> find(String tool) {
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      dirs.addAll(List.of(path.split(":")));
    }
    dirs.addAll(EXTRA_DIRS);
    for (String d : dirs) {
      if (d.isEmpty()) {
        continue;
      }
      Path p = Path.of(d, tool);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** "missing: nft (apt-get install nftables), foo (no known Debian package) ...". */
  static String describeMissing(List<String> missing) {
    Set<String> packages = new LinkedHashSet<>();
    List<String> parts = new ArrayList<>();
    for (String t : missing) {
      String pkg = PACKAGES.get(t);
      if (pkg == null) {
        parts.add(t + " (no known Debian package; install it)");
      } else {
        parts.add(t + " (package " + pkg + ")");
        packages.add(pkg);
      }
    }
    String hint =
        packages.isEmpty()
            ? ""
            : "; run scripts/install-deps.sh or apt-get install " + String.join(" ", packages);
    return "missing tools: " + String.join(", ", parts) + hint;
  }

  /** Effective uid 0, read from /proc/self/status ("Uid: real effective saved fs"). */
  static boolean isRoot() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return line.substring(4).trim().split("\\s+")[1].equals("0");
        }
      }
    } catch (IOException | ArrayIndexOutOfBoundsException e) {
      return false;
    }
    return false;
  }

  /** Fails the test under {@code CI=true}, aborts it (skipped) elsewhere. */
  public static void failOrAbort(String message) {
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      Assertions.fail(message + " (CI=true: a missing prerequisite is a failure)");
    }
    Assumptions.abort(message);
  }
}

package org.clonecast.agent.disk;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Gives a freshly written system its own identity, so clones do not share what must be unique
 * (DESIGN.md: "every clone shares the same SSH host keys ... machine-id, hostname and
 * persistent-net rules must be fixed by hand"). Works on the mounted root filesystem:
 *
 * <ul>
 *   <li>{@code /etc/hostname} and the {@code 127.0.1.1} line of {@code /etc/hosts} (Debian's
 *       convention for the host's own name) name the node from the inventory;
 *   <li>{@code /etc/machine-id} is emptied: systemd makes a new one on first boot (an empty file,
 *       not a missing one, so a read-only /etc still boots), and a copied {@code
 *       /var/lib/dbus/machine-id} is removed;
 *   <li>systemd's {@code /var/lib/systemd/random-seed} is removed, so clones do not start their
 *       entropy pool from the same saved seed (systemd credits no entropy to a missing seed and
 *       writes a new one at shutdown), and the golden node's persistent journal directory {@code
 *       /var/log/journal/<golden machine-id>/} is removed: its logs are the golden node's, and
 *       journald makes a directory for the clone's own machine-id;
 *   <li>the golden node's SSH host keys are deleted and a new Ed25519 key is written, whose public
 *       half is reported to the server for the cluster's known_hosts;
 *   <li>udev's persistent-net rules are deleted, since they pin interface names to the golden
 *       node's MAC addresses;
 *   <li>per-node files from the server are written last.
 * </ul>
 *
 * <p>Nothing is followed out of the root: every path is resolved inside it and a symlink on the way
 * is replaced, not written through (a golden image can hold absolute links). Not thread-safe.
 */
public final class IdentityFixer {
  private static final Pattern HOSTNAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  static final List<String> PERSISTENT_NET_RULES =
      List.of(
          "etc/udev/rules.d/70-persistent-net.rules", "etc/udev/rules.d/z25_persistent-net.rules");

  /**
   * What to write.
   *
   * @param hostname the node's inventory name (a DNS label)
   * @param domain the cluster zone for the fully qualified name in /etc/hosts, if any
   * @param files extra files by absolute path in the node's system, with their contents
   */
  public record NodeIdentity(String hostname, Optional<String> domain, Map<String, String> files) {
    public NodeIdentity {
      if (!HOSTNAME.matcher(Objects.requireNonNull(hostname)).matches()) {
        throw new IllegalArgumentException(
            "hostname '" + hostname + "' is not a DNS label (a-z, 0-9, '-', at most 63)");
      }
      files = Map.copyOf(files);
      for (String f : files.keySet()) {
        if (!f.startsWith("/") || f.contains("/../") || f.endsWith("/..")) {
          throw new IllegalArgumentException(
              "per-node file '" + f + "' must be an absolute path without '..'");
        }
      }
    }
  }

  /**
   * What was done: one line per change, and the new SSH host key's public line if sshd is
   * installed.
   */
  public record Report(List<String> changes, Optional<String> sshHostKey) {}

  private static final Pattern MACHINE_ID = Pattern.compile("[0-9a-f]{32}");
  static final String RANDOM_SEED = "var/lib/systemd/random-seed";

  private IdentityFixer() {}

  /**
   * Applies {@code id} to the system mounted at {@code root}.
   *
   * @throws IOException naming the file that could not be written
   * @throws IllegalStateException if {@code root} does not look like a Linux system (no /etc)
   */
  public static Report apply(Path root, NodeIdentity id) throws IOException {
    if (!Files.isDirectory(root.resolve("etc"), LinkOption.NOFOLLOW_LINKS)) {
      throw new IllegalStateException(
          root + " has no /etc: not the root filesystem of a Linux system");
    }
    List<String> changes = new ArrayList<>();
    write(root, "etc/hostname", id.hostname() + "\n", "rw-r--r--");
    changes.add("/etc/hostname: " + id.hostname());
    write(root, "etc/hosts", hosts(read(root, "etc/hosts"), id), "rw-r--r--");
    changes.add("/etc/hosts: 127.0.1.1 " + fqdn(id));
    Optional<String> goldenId =
        read(root, "etc/machine-id").map(String::trim).filter(m -> MACHINE_ID.matcher(m).matches());
    write(root, "etc/machine-id", "", "r--r--r--");
    changes.add("/etc/machine-id emptied (systemd makes a new one on first boot)");
    Path dbus = root.resolve("var/lib/dbus/machine-id");
    if (Files.isRegularFile(dbus, LinkOption.NOFOLLOW_LINKS)) {
      Files.delete(dbus);
      changes.add("/var/lib/dbus/machine-id removed");
    }
    if (noLinksOnTheWay(root, RANDOM_SEED) && Files.deleteIfExists(root.resolve(RANDOM_SEED))) {
      changes.add("/" + RANDOM_SEED + " removed (the golden node's entropy seed)");
    }
    if (goldenId.isPresent()) {
      String journal = "var/log/journal/" + goldenId.get();
      if (noLinksOnTheWay(root, journal)
          && Files.exists(root.resolve(journal), LinkOption.NOFOLLOW_LINKS)) {
        int n = deleteTree(root.resolve(journal));
        changes.add("/" + journal + "/ removed (the golden node's journal, " + n + " file(s))");
      }
    }
    Optional<String> key = Optional.empty();
    Path ssh = root.resolve("etc/ssh");
    if (Files.isDirectory(ssh, LinkOption.NOFOLLOW_LINKS)) {
      int removed = 0;
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(ssh, "ssh_host_*")) {
        for (Path p : ds) {
          Files.delete(p);
          removed++;
        }
      }
      SshHostKey k = SshHostKey.generate("root@" + id.hostname());
      write(root, "etc/ssh/ssh_host_ed25519_key", k.privateFile(), "rw-------");
      write(root, "etc/ssh/ssh_host_ed25519_key.pub", k.publicLine() + "\n", "rw-r--r--");
      key = Optional.of(k.publicLine());
      changes.add(
          "SSH host keys: " + removed + " golden file(s) removed, a new Ed25519 key written");
    }
    for (String rules : PERSISTENT_NET_RULES) {
      if (Files.deleteIfExists(root.resolve(rules))) {
        changes.add("/" + rules + " removed");
      }
    }
    for (Map.Entry<String, String> f : id.files().entrySet()) {
      write(root, f.getKey().substring(1), f.getValue(), "rw-r--r--");
      changes.add(f.getKey() + " written from the server");
    }
    return new Report(changes, key);
  }

  /** The cluster's known_hosts on every clone (read by ssh for every user, root included). */
  static final String KNOWN_HOSTS = "etc/ssh/ssh_known_hosts";

  static final String REFRESH_SCRIPT = "usr/local/sbin/clonecast-known-hosts";
  static final String REFRESH_UNIT = "etc/systemd/system/clonecast-known-hosts.service";
  static final String REFRESH_TIMER = "etc/systemd/system/clonecast-known-hosts.timer";

  /**
   * Lets root ssh between the cluster's nodes with {@code StrictHostKeyChecking yes}: writes {@code
   * /etc/ssh/ssh_known_hosts} from what the server publishes now ({@code /boot/known_hosts}) plus
   * this node's own new key, and, when the system has systemd, a oneshot service and timer that
   * fetch the server's current file at every boot and every 10 minutes. The server's file grows as
   * the session's other nodes report their keys, which may be after this node wrote its disk; the
   * fetch at first boot picks them up (and nodes re-imaged later). The fetch is plain bash ({@code
   * /dev/tcp}, HTTP/1.0), so the golden system needs no HTTP client; a system without bash keeps
   * the file written here.
   *
   * @param published the server's known_hosts now (may be empty or lack this node)
   * @param ownNames this node's names and address for its own line: name, name.zone, IP
   * @param ownKey this node's new public host key line ("ssh-ed25519 AAAA... comment")
   * @param server the clonecast server as this node reaches it, e.g. http://10.77.0.1:8080
   * @return one line per change
   */
  public static List<String> installKnownHosts(
      Path root, String published, List<String> ownNames, String ownKey, URI server)
      throws IOException {
    List<String> changes = new ArrayList<>();
    write(root, KNOWN_HOSTS, knownHosts(published, ownNames, ownKey), "rw-r--r--");
    changes.add(
        "/"
            + KNOWN_HOSTS
            + ": the cluster's SSH host keys ("
            + knownHosts(published, ownNames, ownKey)
                .lines()
                .filter(l -> !l.startsWith("#") && !l.isBlank())
                .count()
            + " node(s) so far)");
    if (Files.isDirectory(root.resolve("etc/systemd/system"), LinkOption.NOFOLLOW_LINKS)
        && server.getHost() != null
        && HOST.matcher(server.getHost()).matches()) {
      int port = server.getPort() > 0 ? server.getPort() : 80;
      write(root, REFRESH_SCRIPT, refreshScript(server.getHost(), port), "rwxr-xr-x");
      write(
          root,
          REFRESH_UNIT,
          """
          [Unit]
          Description=Fetch the cluster's SSH known_hosts from the clonecast server
          Wants=network-online.target
          After=network-online.target

          [Service]
          Type=oneshot
          ExecStart=/%s

          [Install]
          WantedBy=multi-user.target
          """
              .formatted(REFRESH_SCRIPT),
          "rw-r--r--");
      write(
          root,
          REFRESH_TIMER,
          """
          [Unit]
          Description=Refresh the cluster's SSH known_hosts from the clonecast server

          [Timer]
          OnUnitActiveSec=10min

          [Install]
          WantedBy=timers.target
          """,
          "rw-r--r--");
      link(
          root,
          "etc/systemd/system/multi-user.target.wants/clonecast-known-hosts.service",
          "../clonecast-known-hosts.service");
      link(
          root,
          "etc/systemd/system/timers.target.wants/clonecast-known-hosts.timer",
          "../clonecast-known-hosts.timer");
      changes.add(
          "/"
              + REFRESH_UNIT
              + " (and .timer): fetches "
              + server
              + "/boot/known_hosts at every boot and every 10 min");
    }
    return changes;
  }

  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.-]{1,253}");

  /** The published file without this node's old lines, and its new line. */
  static String knownHosts(String published, List<String> ownNames, String ownKey) {
    StringBuilder out = new StringBuilder();
    for (String l : published.split("\n")) {
      if (l.isBlank()) continue;
      String first = l.trim().split("\\s+")[0];
      boolean mine =
          !l.startsWith("#") && List.of(first.split(",")).stream().anyMatch(ownNames::contains);
      if (!mine) out.append(l.strip()).append('\n');
    }
    if (out.length() == 0)
      out.append("# clonecast: SSH host keys of re-imaged nodes (ssh_known_hosts format)\n");
    String[] key = ownKey.trim().split("\\s+");
    out.append(String.join(",", ownNames))
        .append(' ')
        .append(key[0])
        .append(' ')
        .append(key[1])
        .append('\n');
    return out.toString();
  }

  /** The clone's fetcher: bash only, the file replaced only by a whole answer from the server. */
  static String refreshScript(String host, int port) {
    return """
        #!/bin/bash
        # Installed by clonecast-agent: fetches the cluster's SSH known_hosts (every re-imaged node's
        # host key) from the clonecast server into /etc/ssh/ssh_known_hosts. Plain bash (/dev/tcp).
        set -u
        host=%s
        port=%d
        for try in 1 2 3 4 5 6; do
          if exec 3<>"/dev/tcp/$host/$port"; then
            printf 'GET /boot/known_hosts HTTP/1.0\\r\\nHost: %%s\\r\\nConnection: close\\r\\n\\r\\n' "$host" >&3
            reply=$(timeout 20 cat <&3 | tr -d '\\r')
            exec 3<&-
            body=${reply#*$'\\n\\n'}
            case "$reply" in
              "HTTP/1."?" 200 "*)
                case "$body" in
                  "# clonecast"*)
                    printf '%%s\\n' "$body" >/etc/ssh/ssh_known_hosts.clonecast-tmp \\
                      && chmod 644 /etc/ssh/ssh_known_hosts.clonecast-tmp \\
                      && mv /etc/ssh/ssh_known_hosts.clonecast-tmp /etc/ssh/ssh_known_hosts \\
                      && exit 0 ;;
                esac ;;
            esac
          fi
          sleep 5
        done
        echo "clonecast-known-hosts: no answer from $host:$port; /etc/ssh/ssh_known_hosts left as it was" >&2
        exit 1
        """
        .formatted(host, port);
  }

  /** A relative symbolic link, as systemctl enable makes it (replacing one that is there). */
  private static void link(Path root, String rel, String target) throws IOException {
    Path at = root.resolve(rel);
    if (!noLinksOnTheWay(root, rel))
      throw new IOException("/" + rel + ": a directory on the way is a symbolic link");
    Files.createDirectories(at.getParent());
    Files.deleteIfExists(at);
    Files.createSymbolicLink(at, Path.of(target));
  }

  /**
   * Whether no directory on the way from {@code root} to {@code rel} is a symbolic link (which
   * could lead out of the root).
   */
  private static boolean noLinksOnTheWay(Path root, String rel) {
    Path walk = root;
    Path parent = root.resolve(rel).getParent();
    for (Path part : root.relativize(parent)) {
      walk = walk.resolve(part);
      if (Files.isSymbolicLink(walk)) return false;
    }
    return true;
  }

  /**
   * Deletes a tree without following symbolic links (a link is removed, not its target); returns
   * the files removed.
   */
  private static int deleteTree(Path top) throws IOException {
    if (!Files.isDirectory(top, LinkOption.NOFOLLOW_LINKS)) {
      Files.delete(top);
      return 1;
    }
    int[] n = {0};
    Files.walkFileTree(
        top,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.delete(file);
            n[0]++;
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
            if (e != null) throw e;
            Files.delete(dir);
            return FileVisitResult.CONTINUE;
          }
        });
    return n[0];
  }

  private static String fqdn(NodeIdentity id) {
    return id.domain()
        .map(d -> id.hostname() + "." + d + " " + id.hostname())
        .orElse(id.hostname());
  }

  /** /etc/hosts with the 127.0.1.1 line naming this node, everything else kept. */
  static String hosts(Optional<String> old, NodeIdentity id) {
    String line = "127.0.1.1\t" + fqdn(id);
    if (old.isEmpty()) return "127.0.0.1\tlocalhost\n" + line + "\n";
    StringBuilder out = new StringBuilder();
    boolean replaced = false;
    for (String l : old.get().split("\n", -1)) {
      if (l.trim().split("\\s+")[0].equals("127.0.1.1")) {
        if (!replaced) out.append(line).append('\n');
        replaced = true;
      } else {
        out.append(l).append('\n');
      }
    }
    String s = out.toString().replaceAll("\n+$", "\n");
    return replaced ? s : s + line + "\n";
  }

  private static Optional<String> read(Path root, String rel) throws IOException {
    Path p = root.resolve(rel);
    return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
        ? Optional.of(Files.readString(p, StandardCharsets.UTF_8))
        : Optional.empty();
  }

  /**
   * Writes {@code rel} under {@code root} through a temporary file and a rename, after checking
   * that no directory on the way is a symlink (which could point outside the node's system).
   */
  private static void write(Path root, String rel, String content, String perms)
      throws IOException {
    Path target = root.resolve(rel).normalize();
    if (!target.startsWith(root)) throw new IOException(rel + " leaves the root filesystem");
    Path dir = target.getParent();
    Path walk = root;
    for (Path part : root.relativize(dir)) {
      walk = walk.resolve(part);
      if (Files.isSymbolicLink(walk)) {
        throw new IOException(
            "/"
                + root.relativize(walk)
                + " is a symbolic link; refusing to write /"
                + rel
                + " through it");
      }
      if (!Files.exists(walk, LinkOption.NOFOLLOW_LINKS)) Files.createDirectory(walk);
    }
    Path tmp = dir.resolve("." + target.getFileName() + ".clonecast-tmp");
    Files.deleteIfExists(tmp);
    Files.writeString(
        tmp,
        content,
        StandardCharsets.UTF_8,
        StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE);
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(perms));
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}

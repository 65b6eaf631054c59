package org.clonecast.it.lab;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Golden disks with a history, as capture must handle them: built by {@code bench/lib/golden-fs.sh}
 * (the same script bench/capture.sh uses) with sgdisk, mkfs.vfat, mkfs.ext4, mkfs.xfs and mkswap,
 * filled through loop devices with text, binaries and incompressible data, and files written then
 * deleted, so free blocks hold old data. The script writes a manifest of every live file's SHA-256
 * per partition; {@link #check} reads a disk written later (a clone, or the golden disk after a
 * capture) and compares: each filesystem checked read-only by its own tool (e2fsck -fn, xfs_repair
 * -n, fsck.vfat -n) on a read-only loop device, the swap's signature, every partition's UUID and
 * label, and every live file's SHA-256.
 *
 * <p>Built disks are cached under {@code $CLONECAST_TEST_CACHE/golden-fs} (default {@code
 * /var/cache/clonecast-test}), keyed by the script's SHA-256 and its arguments; tests take a sparse
 * {@link Golden#copyTo copy}, so a VM that writes to its disk cannot spoil the cache.
 *
 * <p>Needs root (loop devices, read-only mounts). Every loop device and mount a method makes is
 * removed before it returns, also on failure. Thread-safe (no state); two JVMs building the same
 * disk at once each build it and the last rename wins, the same content.
 */
public final class CaptureDisks {
  /** The script, relative to the repository. */
  public static final String SCRIPT = "bench/lib/golden-fs.sh";

  /** The tools the script and the checker run. */
  public static final List<String> TOOLS =
      List.of(
          "sgdisk",
          "mkfs.vfat",
          "mkfs.ext4",
          "mkfs.xfs",
          "mkswap",
          "losetup",
          "mount",
          "umount",
          "openssl",
          "sha256sum",
          "xfs_io",
          "tar",
          "mcopy",
          "blkid",
          "e2fsck",
          "dumpe2fs",
          "xfs_repair",
          "fsck.vfat",
          "sfdisk");

  /** A disk build writes a few hundred MiB; the bound is for a loaded two-core machine. */
  private static final Duration BUILD = Duration.ofMinutes(10);

  private static final Duration TOOL = Duration.ofMinutes(5);

  /**
   * The golden node of the capture IT: 768 MiB, a 40 MiB ESP, a 410 MiB ext4 root, a 300 MiB xfs
   * data partition (mkfs.xfs's minimum) and 16 MiB of swap; 12 % of each filesystem live, 15 %
   * written and deleted. Small enough that a VM under TCG receives it in minutes.
   */
  public static final Spec QEMU_GOLDEN =
      new Spec("multi", 768, 40, 16, 12, 15, 1, Optional.empty());

  private CaptureDisks() {}

  /**
   * The script's options.
   *
   * @param layout multi (ESP, ext4 root, xfs data, swap), ext4 or xfs (one partition)
   * @param dirty ext4 or xfs: leave that filesystem needing journal recovery
   */
  public record Spec(
      String layout,
      int diskMib,
      int espMib,
      int swapMib,
      int livePct,
      int deletedPct,
      int seed,
      Optional<String> dirty) {
    public Spec {
      if (!Set.of("multi", "ext4", "xfs").contains(layout)) {
        throw new IllegalArgumentException("layout must be multi, ext4 or xfs, got " + layout);
      }
      dirty.ifPresent(
          d -> {
            if (!Set.of("ext4", "xfs").contains(d))
              throw new IllegalArgumentException("dirty must be ext4 or xfs, got " + d);
          });
    }

    /** The same disk, with filesystem {@code fs} (ext4 or xfs) left needing recovery. */
    public Spec withDirty(String fs) {
      return new Spec(layout, diskMib, espMib, swapMib, livePct, deletedPct, seed, Optional.of(fs));
    }

    List<String> args() {
      List<String> a =
          new ArrayList<>(
              List.of(
                  "--layout",
                  layout,
                  "--disk-mib",
                  Integer.toString(diskMib),
                  "--esp-mib",
                  Integer.toString(espMib),
                  "--swap-mib",
                  Integer.toString(swapMib),
                  "--live-pct",
                  Integer.toString(livePct),
                  "--deleted-pct",
                  Integer.toString(deletedPct),
                  "--seed",
                  Integer.toString(seed)));
      dirty.ifPresent(d -> a.addAll(List.of("--dirty", d)));
      return a;
    }
  }

  /**
   * A partition of the manifest: its number, filesystem (vfat, ext4, xfs, swap), place, UUID and
   * label.
   */
  public record Part(int number, String type, long start, long size, String uuid, String label) {}

  /**
   * What the script wrote down.
   *
   * @param files per partition number, path (relative to the filesystem's root) → SHA-256 hex
   * @param dirty partitions left needing recovery
   */
  public record Manifest(
      List<Part> parts, Map<Integer, Map<String, String>> files, Set<Integer> dirty) {
    public Manifest {
      parts = List.copyOf(parts);
      files = Map.copyOf(files);
      dirty = Set.copyOf(dirty);
    }

    /**
     * Parses the script's manifest ({@code part}, {@code file} and {@code dirty} lines; #
     * comments).
     */
    public static Manifest read(Path file) throws IOException {
      List<Part> parts = new ArrayList<>();
      Map<Integer, Map<String, String>> files = new TreeMap<>();
      Set<Integer> dirty = new TreeSet<>();
      int n = 0;
      for (String line : Files.readAllLines(file)) {
        n++;
        if (line.isBlank() || line.startsWith("#")) continue;
        String[] f = line.split(" ", 4);
        try {
          switch (f[0]) {
            case "part" -> {
              String[] p = line.split(" ");
              parts.add(
                  new Part(
                      Integer.parseInt(p[1]),
                      p[2],
                      Long.parseLong(p[3]),
                      Long.parseLong(p[4]),
                      p[5],
                      p[6]));
            }
            case "file" ->
                files.computeIfAbsent(Integer.parseInt(f[1]), k -> new TreeMap<>()).put(f[3], f[2]);
            case "dirty" -> dirty.add(Integer.parseInt(f[1]));
            default ->
                throw new IOException(file + " line " + n + ": unknown record '" + f[0] + "'");
          }
        } catch (ArrayIndexOutOfBoundsException | NumberFormatException e) {
          throw new IOException(file + " line " + n + " is malformed: " + line, e);
        }
      }
      if (parts.isEmpty()) throw new IOException(file + " names no partition");
      return new Manifest(parts, files, dirty);
    }

    /** The partition with this filesystem type; fails if there is none. */
    public Part part(String type) {
      return parts.stream()
          .filter(p -> p.type().equals(type))
          .findFirst()
          .orElseThrow(
              () -> new AssertionError("the golden disk has no " + type + " partition: " + parts));
    }

    /** Live files over all partitions. */
    public int fileCount() {
      return files.values().stream().mapToInt(Map::size).sum();
    }
  }

  /** A built disk and its manifest. */
  public record Golden(Path disk, Path manifestFile, Manifest manifest) {
    /** A sparse copy of the disk at {@code to} (the manifest stays where it is). */
    public Path copyTo(Path to) throws IOException, InterruptedException {
      run(TOOL, "cp", "--sparse=always", disk.toString(), to.toString());
      return to;
    }
  }

  /**
   * The disk of {@code spec}, from the cache or built now. Checks the tools first ({@link Prereqs}:
   * fails in CI, skips elsewhere).
   */
  public static Golden build(Path repo, Spec spec) throws IOException, InterruptedException {
    Prereqs.requireRoot();
    Prereqs.require(TOOLS.toArray(String[]::new));
    Path script = repo.resolve(SCRIPT);
    assertTrue(Files.isExecutable(script), script + " is missing or not executable");
    String key = sha256(Files.readAllBytes(script), String.join(" ", spec.args())).substring(0, 16);
    String cacheRoot =
        System.getenv().getOrDefault("CLONECAST_TEST_CACHE", "/var/cache/clonecast-test");
    Path dir = Files.createDirectories(Path.of(cacheRoot, "golden-fs"));
    Path disk =
        dir.resolve(
            spec.layout()
                + "-"
                + spec.diskMib()
                + spec.dirty().map(d -> "-dirty-" + d).orElse("")
                + "-"
                + key
                + ".img");
    Path manifest = Path.of(disk + ".manifest");
    if (!Files.exists(disk) || !Files.exists(manifest)) {
      Path tmp =
          dir.resolve("build-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".img");
      List<String> cmd =
          new ArrayList<>(List.of(script.toString(), "--quiet", "--out", tmp.toString()));
      cmd.addAll(spec.args());
      try {
        run(BUILD, cmd.toArray(String[]::new));
        // The disk last: its presence says the pair is complete.
        Files.move(
            Path.of(tmp + ".manifest"),
            manifest,
            StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
        Files.move(tmp, disk, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
        Files.deleteIfExists(Path.of(tmp + ".manifest"));
      }
    }
    return new Golden(disk, manifest, Manifest.read(manifest));
  }

  /**
   * What the agent's identity step rewrites on a clone's root (IdentityFixer): these files may
   * differ from the golden disk's, or be gone, or be new.
   */
  public static final BiPredicate<Part, String> IDENTITY =
      (part, path) ->
          part.type().equals("ext4")
              && (Set.of(
                          "etc/hostname",
                          "etc/hosts",
                          "etc/machine-id",
                          "var/lib/dbus/machine-id",
                          "etc/udev/rules.d/70-persistent-net.rules")
                      .contains(path)
                  || path.startsWith("etc/ssh/"));

  /**
   * Nothing may differ: the golden disk itself, after a capture that must not have written to it.
   */
  public static final BiPredicate<Part, String> NOTHING = (part, path) -> false;

  /**
   * Every problem of {@code disk} against {@code manifest}: the partition table (each partition at
   * the manifest's place), each filesystem's read-only check, needs-recovery flags, swap signature,
   * UUIDs and labels, and every live file's SHA-256 (missing, changed, extra) except those {@code
   * mayDiffer} allows. Empty when the disk is a faithful clone.
   *
   * @param work where mount points and extracted ESP files go (removed again)
   */
  public static List<String> check(
      Path disk, Manifest manifest, BiPredicate<Part, String> mayDiffer, Path work)
      throws IOException, InterruptedException {
    List<String> problems = new ArrayList<>();
    checkTable(disk, manifest, problems);
    for (Part p : manifest.parts()) {
      String loop =
          run(
                  TOOL,
                  "losetup",
                  "--find",
                  "--show",
                  "--read-only",
                  "--offset",
                  Long.toString(p.start()),
                  "--sizelimit",
                  Long.toString(p.size()),
                  disk.toString())
              .strip();
      try {
        checkPartition(
            disk,
            loop,
            p,
            manifest.files().getOrDefault(p.number(), Map.of()),
            mayDiffer,
            work,
            problems);
      } finally {
        run(TOOL, "losetup", "-d", loop);
      }
    }
    return problems;
  }

  /** {@link #check}, failing with every problem (the first 60) if there is any. */
  public static void assertFaithful(
      Path disk, Manifest manifest, BiPredicate<Part, String> mayDiffer, Path work)
      throws IOException, InterruptedException {
    List<String> problems = check(disk, manifest, mayDiffer, work);
    if (!problems.isEmpty()) {
      fail(
          disk
              + " differs from the golden disk ("
              + problems.size()
              + " problems):\n  "
              + String.join("\n  ", problems.subList(0, Math.min(60, problems.size()))));
    }
  }

  private static final Pattern DUMP_LINE =
      Pattern.compile(".*\\D(\\d+) : start=\\s*(\\d+), size=\\s*(\\d+),.*");

  private static void checkTable(Path disk, Manifest manifest, List<String> problems)
      throws IOException {
    Exec.Result dump = Exec.run(List.of("sfdisk", "--dump", disk.toString()), null, TOOL);
    if (dump.exit() != 0) {
      problems.add("no readable partition table: " + dump.output().strip());
      return;
    }
    Map<Integer, String> got = new TreeMap<>();
    for (String line : dump.output().lines().toList()) {
      Matcher m = DUMP_LINE.matcher(line);
      if (m.matches()) got.put(Integer.parseInt(m.group(1)), m.group(2) + "+" + m.group(3));
    }
    for (Part p : manifest.parts()) {
      String want = p.start() / 512 + "+" + p.size() / 512;
      if (!want.equals(got.get(p.number()))) {
        problems.add(
            "partition " + p.number() + " is not at sectors " + want + " (start+size): " + got);
      }
    }
  }

  private static void checkPartition(
      Path disk,
      String loop,
      Part p,
      Map<String, String> want,
      BiPredicate<Part, String> mayDiffer,
      Path work,
      List<String> problems)
      throws IOException, InterruptedException {
    String where = "partition " + p.number() + " (" + p.type() + ")";
    Exec.Result id = Exec.run(List.of("blkid", "-p", "-o", "export", loop), null, TOOL);
    String ids = id.output();
    if (!ids.contains("TYPE=" + p.type() + "\n")) {
      problems.add(where + ": blkid finds no " + p.type() + " signature: " + ids.strip());
      return;
    }
    if (!ids.contains("UUID=" + p.uuid() + "\n"))
      problems.add(where + ": UUID is not " + p.uuid() + ": " + ids.strip());
    if (!ids.toUpperCase(Locale.ROOT)
        .contains("LABEL=" + p.label().toUpperCase(Locale.ROOT) + "\n")) {
      problems.add(where + ": label is not " + p.label() + ": " + ids.strip());
    }
    Path mnt = work.resolve("check-" + p.number() + "-" + System.nanoTime());
    Files.createDirectories(mnt);
    try {
      switch (p.type()) {
        case "swap" -> {
          return;
        }
        case "vfat" -> {
          fsck(where, List.of("fsck.vfat", "-n", loop), problems);
          // mtools, not a mount: this kernel may have no vfat driver, and the script read it the
          // same way.
          Exec.Result r =
              Exec.run(
                  List.of(
                      "env",
                      "MTOOLS_SKIP_CHECK=1",
                      "mcopy",
                      "-s",
                      "-Q",
                      "-i",
                      disk + "@@" + p.start(),
                      "::",
                      mnt + "/"),
                  null,
                  TOOL);
          if (r.exit() != 0) {
            problems.add(where + ": mcopy cannot read it: " + r.output().strip());
            return;
          }
          compare(where, p, want, hashes(mnt), mayDiffer, problems);
        }
        case "ext4" -> {
          Exec.Result fsck = fsck(where, List.of("e2fsck", "-fn", loop), problems);
          String head = Exec.run(List.of("dumpe2fs", "-h", loop), null, TOOL).output();
          if (head.lines()
                  .anyMatch(
                      l -> l.startsWith("Filesystem features:") && l.contains("needs_recovery"))
              || fsck.output().contains("skipping journal recovery")) {
            problems.add(where + ": the journal needs recovery (not cleanly unmounted)");
          }
          mountAndCompare(where, p, loop, "ro,noload", mnt, want, mayDiffer, problems);
        }
        case "xfs" -> {
          fsck(where, List.of("xfs_repair", "-n", loop), problems);
          mountAndCompare(where, p, loop, "ro,norecovery", mnt, want, mayDiffer, problems);
        }
        default -> problems.add(where + ": the checker knows no filesystem " + p.type());
      }
    } finally {
      // Only the ESP's extracted copy has content; an empty mount point is deleted, a mounted one
      // is not.
      if (p.type().equals("vfat")) {
        deleteTree(mnt);
      } else {
        Files.deleteIfExists(mnt);
      }
    }
  }

  private static Exec.Result fsck(String where, List<String> cmd, List<String> problems)
      throws IOException {
    Exec.Result r = Exec.run(cmd, null, TOOL);
    if (r.exit() != 0) {
      List<String> lines = r.output().lines().toList();
      problems.add(
          where
              + ": '"
              + String.join(" ", cmd)
              + "' exited "
              + r.exit()
              + ":\n"
              + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
    }
    return r;
  }

  private static void mountAndCompare(
      String where,
      Part p,
      String loop,
      String options,
      Path mnt,
      Map<String, String> want,
      BiPredicate<Part, String> mayDiffer,
      List<String> problems)
      throws IOException, InterruptedException {
    Exec.Result m = mount(p.type(), options, loop, mnt);
    if (m.exit() != 0) {
      problems.add(where + ": cannot mount it read-only: " + m.output().strip());
      return;
    }
    try {
      compare(where, p, want, hashes(mnt), mayDiffer, problems);
    } finally {
      unmount(mnt);
    }
  }

  /**
   * Mounts {@code device} on {@code mnt} as a private mount. Private: a mount namespace made while
   * it exists ({@code ip netns exec}, which every lab command runs through, makes one) holds a copy
   * that no event of ours reaches, and ours does not wait on it. xfs with {@code nouuid}: the
   * copies of one golden disk (its cache, a test's copy, an extracted image) share their xfs UUID,
   * and xfs refuses a second mount of a UUID, also one held by such a namespace's copy (seen with
   * three test classes at a time: "Filesystem has duplicate UUID - can't mount").
   */
  public static Exec.Result mount(String type, String options, String device, Path mnt)
      throws IOException {
    String opts =
        type.equals("xfs") ? (options.isEmpty() ? "nouuid" : options + ",nouuid") : options;
    List<String> cmd = new ArrayList<>(List.of("mount", "--make-private", "-t", type));
    if (!opts.isEmpty()) cmd.addAll(List.of("-o", opts));
    cmd.addAll(List.of(device, mnt.toString()));
    return Exec.run(cmd, null, TOOL);
  }

  /**
   * Unmounts {@code mnt}, asking again for up to ten seconds while it is busy (another test's
   * {@code ip netns exec} copying the mount table holds it for a moment); then detaches it lazily,
   * so no mount outlives the test, and fails naming it.
   */
  public static void unmount(Path mnt) throws IOException, InterruptedException {
    Exec.Result r = null;
    for (int i = 0; i < 20; i++) {
      r = Exec.run(List.of("umount", mnt.toString()), null, TOOL);
      if (r.exit() == 0) return;
      Thread.sleep(500);
    }
    Exec.Result lazy = Exec.run(List.of("umount", "--lazy", mnt.toString()), null, TOOL);
    throw new AssertionError(
        "umount "
            + mnt
            + " failed for 10 s ("
            + r.output().strip()
            + "); detached lazily: "
            + (lazy.exit() == 0 ? "done" : lazy.output().strip()));
  }

  private static void compare(
      String where,
      Part p,
      Map<String, String> want,
      Map<String, String> got,
      BiPredicate<Part, String> mayDiffer,
      List<String> problems) {
    for (Map.Entry<String, String> e : want.entrySet()) {
      if (mayDiffer.test(p, e.getKey())) continue;
      String g = got.get(e.getKey());
      if (g == null) {
        problems.add(where + ": " + e.getKey() + " is missing");
      } else if (!g.equals(e.getValue())) {
        problems.add(
            where
                + ": "
                + e.getKey()
                + " has SHA-256 "
                + g
                + ", the golden disk's is "
                + e.getValue());
      }
    }
    for (String path : got.keySet()) {
      if (!want.containsKey(path) && !mayDiffer.test(p, path))
        problems.add(where + ": " + path + " is not on the golden disk");
    }
  }

  /** Path relative to {@code root} (with '/') → SHA-256 hex of every regular file under it. */
  static Map<String, String> hashes(Path root) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
          out.put(root.relativize(f).toString().replace('\\', '/'), sha256(f));
        }
      }
    }
    return out;
  }

  private static String sha256(Path f) throws IOException {
    MessageDigest md = digest();
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(f)) {
      for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static String sha256(byte[] a, String b) {
    MessageDigest md = digest();
    md.update(a);
    md.update(b.getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(md.digest());
  }

  private static MessageDigest digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path f : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.delete(f);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /**
   * Runs a host command to its end within {@code bound}; its output, or an assertion failure with
   * it.
   */
  private static String run(Duration bound, String... cmd) throws IOException {
    Exec.Result r = Exec.run(List.of(cmd), null, bound);
    if (r.exit() != 0) fail(String.join(" ", cmd) + " exited " + r.exit() + ":\n" + r.output());
    return r.output();
  }
}

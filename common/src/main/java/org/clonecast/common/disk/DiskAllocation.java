package org.clonecast.common.disk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.clonecast.common.image.SourceDevice;
import org.clonecast.common.io.ChannelIo;
import org.clonecast.protocol.disk.DomainMap;
import org.clonecast.protocol.disk.Filesystem;
import org.clonecast.protocol.disk.FilesystemProbe;
import org.clonecast.protocol.disk.MalformedDiskException;
import org.clonecast.protocol.disk.PartitionTable;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.AllocationMap.Extent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides which bytes of a disk an image carries (docs/capture.md, "Used blocks"). Every byte
 * outside partitions is carried (partition tables, the gaps where boot loaders embed themselves,
 * the GPT backup). A known filesystem (ext2/3/4, xfs, FAT, btrfs) contributes the used blocks of
 * partclone's domain map ({@code partclone.<fs> -D}) run on a read-only view of the partition,
 * validated; Linux swap its first page; LVM physical volumes, damaged extended partitions and
 * anything unknown the whole partition (MBR logical partitions are partitions like the others).
 * Whatever cannot be trusted (partclone missing, failing, slow, a map that leaves out the
 * superblock or counts fewer blocks than the superblock does) falls back to the whole partition: a
 * map may carry too much, never too little.
 *
 * <p>Refuses ({@link DiskRefusedException}) a partition table pointing past the disk's end, and,
 * unless forced, a filesystem mounted read-write or not clean; forced, such a partition is carried
 * whole.
 *
 * <p>Reads the disk, every mount namespace's {@code /proc/PID/mountinfo} and sysfs; runs losetup,
 * partclone and xfs_logprint with a time limit; every loop device it attaches is detached before it
 * returns. Needs root for loop devices (without, partitions of a disk file are carried whole). Not
 * thread-safe; use one per capture.
 */
public final class DiskAllocation {
  private static final Logger log = LoggerFactory.getLogger(DiskAllocation.class);
  private static final long MAX_MAP_BYTES = 256L << 20;

  /** Bytes carried at each end of every partition ({@link #signatureZones}). */
  static final long SIGNATURE_ZONE = 1L << 20;

  private static final Pattern XFS_LOG_STATE = Pattern.compile("state: <(CLEAN|DIRTY)>");

  /**
   * Where the tools are and how long they may take.
   *
   * @param toolTimeout how long one partclone, xfs_logprint or losetup run may take
   * @param toolDirs directories searched for the tools, in order
   * @param proc where the mount tables of every mount namespace are read ({@code /proc})
   */
  public record Settings(Duration toolTimeout, List<Path> toolDirs, Path proc) {
    public Settings {
      if (toolTimeout.isNegative() || toolTimeout.isZero()) {
        throw new IllegalArgumentException("tool timeout " + toolTimeout + " must be positive");
      }
      toolDirs = List.copyOf(toolDirs);
    }

    /**
     * Ten minutes per tool (partclone maps about a GB of metadata a second), the usual sbin and bin
     * directories.
     */
    public static Settings defaults() {
      return new Settings(
          Duration.ofMinutes(10),
          Stream.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
              .map(Path::of)
              .toList(),
          Path.of("/proc"));
    }
  }

  /** A partition as this class walks them; number 0 is a filesystem on the whole disk. */
  private record Slot(int number, long offset, long size, boolean extended) {
    /** The plan of this slot's partition: what it holds and how its carried bytes were chosen. */
    PartitionPlan plan(
        String device,
        String filesystem,
        String state,
        PartitionPlan.Method method,
        Optional<String> reason,
        long usedBytes) {
      return new PartitionPlan(
          number, offset, size, device, filesystem, state, method, reason, usedBytes);
    }
  }

  /** What was decided for one slot. */
  private record Decision(PartitionPlan plan, List<Extent> extents) {}

  private final Settings settings;
  private final List<String> warnings = new ArrayList<>();
  private final List<String> refusals = new ArrayList<>();
  private boolean warnedPartclone;

  public DiskAllocation(Settings settings) {
    this.settings = settings;
  }

  /** {@link #planDisk} with the default settings. */
  public static DiskPlan plan(Path disk, boolean force) throws IOException {
    return new DiskAllocation(Settings.defaults()).planDisk(disk, force);
  }

  /**
   * The plan for {@code disk}: a regular file holding a whole disk, or a block device.
   *
   * @param force capture filesystems that are mounted read-write or not clean (whole partitions)
   * @throws DiskRefusedException naming every partition that stops the capture and how to fix it
   * @throws IOException when the disk cannot be read
   */
  public DiskPlan planDisk(Path disk, boolean force) throws IOException {
    long start = System.nanoTime();
    warnings.clear();
    refusals.clear();
    warnedPartclone = false;
    boolean block = SourceDevice.isBlockDevice(disk);
    try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
      long size = SourceDevice.size(disk, ch);
      byte[] head = ChannelIo.readUpTo(ch, 0, (int) Math.min(PartitionTable.HEAD_BYTES, size));
      Optional<PartitionTable> table;
      try {
        table = PartitionTable.parse(head);
      } catch (MalformedDiskException e) {
        warnings.add(
            "the partition table is damaged (" + e.getMessage() + "); the whole disk is carried");
        return new DiskPlan(
            disk.toString(),
            "damaged",
            List.of(),
            AllocationMap.whole(size),
            warnings,
            since(start));
      }
      List<Slot> slots = new ArrayList<>();
      String tableName = "none";
      if (table.isPresent()) {
        tableName = table.get().scheme().toString();
        List<String> past = table.get().pastEnd(size);
        if (!past.isEmpty()) {
          throw new DiskRefusedException(
              disk.toString(),
              past.stream()
                  .map(
                      p ->
                          "the partition table points past the disk's end: "
                              + p
                              + "; the disk (or its image file) is cut short, or the table was made for a larger disk: capture the whole original disk,"
                              + " or fix the table with sfdisk or gdisk")
                  .toList());
        }
        for (PartitionTable.Partition p : table.get().partitions()) {
          if (p.extended()) {
            try {
              // Its logical partitions take its place; its EBRs and gaps are then outside
              // partitions, carried.
              for (PartitionTable.Partition l :
                  PartitionTable.logicalPartitions(p, at -> ChannelIo.readUpTo(ch, at, 512))) {
                slots.add(new Slot(l.number(), l.offset(), l.size(), false));
              }
              continue;
            } catch (MalformedDiskException e) {
              warnings.add(
                  "extended partition " + p.number() + ": " + e.getMessage() + "; carried whole");
            }
          }
          slots.add(new Slot(p.number(), p.offset(), p.size(), p.extended()));
        }
      } else if (size > 0) {
        slots.add(new Slot(0, 0, size, false));
      }
      MountedRanges mounts = MountedRanges.read(settings.proc());
      String identity = MountedRanges.identity(disk, block);
      List<Extent> extents = new ArrayList<>(outside(size, slots));
      List<PartitionPlan> plans = new ArrayList<>();
      for (Slot s : slots) {
        Decision d =
            decide(disk, ch, block, s, mounts.overlapping(identity, s.offset(), s.size()), force);
        plans.add(d.plan());
        extents.addAll(d.extents());
        extents.addAll(signatureZones(s));
        log.info("capture plan {}: {}", disk, d.plan().describe());
      }
      if (!refusals.isEmpty()) {
        throw new DiskRefusedException(disk.toString(), refusals);
      }
      if (slots.size() == 1
          && slots.get(0).number() == 0
          && plans.get(0).method() == PartitionPlan.Method.WHOLE
          && plans.get(0).filesystem().equals("unknown")) {
        // Neither a table nor a filesystem: nothing to report per partition.
        warnings.add(
            "no partition table and no filesystem clonecast knows at byte 0: the whole disk is carried");
        return new DiskPlan(
            disk.toString(),
            tableName,
            List.of(),
            AllocationMap.whole(size),
            warnings,
            since(start));
      }
      return new DiskPlan(
          disk.toString(),
          tableName,
          plans,
          AllocationMap.of(size, extents),
          warnings,
          since(start));
    }
  }

  /**
   * The first and last {@link #SIGNATURE_ZONE} bytes of a partition, carried whatever its
   * filesystem uses: a receiver writes only what the image carries, so without them a target disk's
   * old signatures there (a btrfs superblock at 64 KiB, an md or LVM label at either end) would
   * survive next to the new filesystem's and make blkid and mount by UUID ambiguous. Written as
   * they are on the golden disk, mostly zeros, they wipe such leftovers.
   */
  private static List<Extent> signatureZones(Slot s) {
    long zone = Math.min(SIGNATURE_ZONE, s.size());
    if (zone <= 0) {
      return List.of();
    }
    return List.of(new Extent(s.offset(), zone), new Extent(s.offset() + s.size() - zone, zone));
  }

  private Decision decide(
      Path disk,
      FileChannel ch,
      boolean block,
      Slot s,
      Optional<MountedRanges.Mounted> mount,
      boolean force)
      throws IOException {
    String device =
        block
            ? partitionNode(disk.toRealPath().toString(), s)
            : disk + (s.number() == 0 ? "" : " at byte " + s.offset());
    Filesystem fs =
        s.extended()
            ? new Filesystem.Unknown(
                "an extended partition whose logical partitions cannot be read")
            : FilesystemProbe.probe(
                ChannelIo.readUpTo(
                    ch, s.offset(), (int) Math.min(FilesystemProbe.HEAD_BYTES, s.size())));
    String what = fs.type() + (fs.label().isEmpty() ? "" : " \"" + fs.label() + "\"");
    String name =
        (s.number() == 0 ? "the whole disk" : "partition " + s.number())
            + " ("
            + fs.type()
            + " on "
            + device
            + ")";
    String state =
        switch (fs.cleanliness()) {
          case CLEAN -> "clean";
          case NOT_CLEAN -> "not clean: " + String.join(", ", fs.problems());
          case UNKNOWN -> "state unknown";
        };
    if (mount.isPresent()) {
      MountedRanges.Mounted m = mount.get();
      if (m.readWrite()) {
        if (!force) {
          refusals.add(
              name
                  + ": mounted read-write at "
                  + m.mountPoint()
                  + " ("
                  + m.source()
                  + "); unmount it or remount it read-only"
                  + " (mount -o remount,ro "
                  + m.mountPoint()
                  + "), or capture with --force");
        }
        return whole(
            s,
            device,
            what,
            "mounted read-write at " + m.mountPoint(),
            "mounted read-write, captured with --force");
      }
      state += ", mounted read-only at " + m.mountPoint();
    }
    if (fs.cleanliness() == Filesystem.Cleanliness.NOT_CLEAN) {
      if (!force) {
        refusals.add(
            name
                + ": "
                + String.join(", ", fs.problems())
                + "; "
                + fix(fs, fixTarget(disk, block, s, device))
                + ", or capture with --force");
      }
      return whole(s, device, what, state, "not clean, captured with --force");
    }
    if (fs instanceof Filesystem.Unknown u) {
      return whole(s, device, what, state, u.note());
    }
    if (fs instanceof Filesystem.LvmPv) {
      return whole(
          s, device, what, state, "an LVM2 physical volume: its logical volumes are not read");
    }
    if (fs instanceof Filesystem.Swap sw) {
      long header = Math.min(sw.pageSize(), s.size());
      return new Decision(
          s.plan(device, what, state, PartitionPlan.Method.SWAP_HEADER, Optional.empty(), header),
          List.of(new Extent(s.offset(), header)));
    }
    return mapFilesystem(disk, block, s, device, fs, what, state, name, force);
  }

  private Decision mapFilesystem(
      Path disk,
      boolean block,
      Slot s,
      String device,
      Filesystem fs,
      String what,
      String state,
      String name,
      boolean force)
      throws IOException {
    if (!fs.untrusted().isEmpty()) {
      return whole(s, device, what, state, String.join(", ", fs.untrusted()));
    }
    if (fs.size() > s.size()) {
      return whole(
          s,
          device,
          what,
          state,
          "its superblock says " + fs.size() + " bytes, more than the partition's " + s.size());
    }
    Optional<Path> partclone = partcloneFor(fs);
    if (partclone.isEmpty() && !(fs instanceof Filesystem.Xfs)) {
      return whole(s, device, what, state, partcloneMissing(fs));
    }
    Path tmp = Files.createTempDirectory("clonecast-plan");
    View view = null;
    try {
      try {
        view = View.open(this, disk, block, s, device);
      } catch (IOException e) {
        return whole(
            s,
            device,
            what,
            state,
            "no read-only view of it (" + e.getMessage() + "; capture runs as root)");
      }
      if (fs instanceof Filesystem.Xfs) {
        Optional<Boolean> dirty = xfsLogDirty(view.device(), tmp);
        if (dirty.isEmpty()) {
          return whole(
              s,
              device,
              what,
              state,
              "xfs_logprint could not tell whether its log is clean (install xfsprogs)");
        }
        if (dirty.get()) {
          if (!force) {
            refusals.add(
                name
                    + ": its log needs recovery; "
                    + fix(fs, fixTarget(disk, block, s, device))
                    + ", or capture with --force");
          }
          return whole(
              s,
              device,
              what,
              "not clean: its log needs recovery",
              "not clean, captured with --force");
        }
        state = "clean";
        if (partclone.isEmpty()) {
          return whole(s, device, what, state, partcloneMissing(fs));
        }
      }
      return partcloneMap(partclone.get(), view.device(), tmp, s, device, fs, what, state);
    } finally {
      if (view != null) {
        view.close();
      }
      deleteTree(tmp);
    }
  }

  private Decision partcloneMap(
      Path partclone,
      String source,
      Path tmp,
      Slot s,
      String device,
      Filesystem fs,
      String what,
      String state)
      throws IOException {
    Path map = tmp.resolve("domain.map");
    String tool = partclone.getFileName().toString();
    Run r =
        run(
            tmp,
            partclone.toString(),
            "-D",
            "-q",
            "-s",
            source,
            "-o",
            map.toString(),
            "-L",
            tmp.resolve("partclone.log").toString());
    if (r.timedOut()) {
      return whole(
          s,
          device,
          what,
          state,
          tool + " did not finish in " + settings.toolTimeout().toSeconds() + " s");
    }
    if (r.exit() != 0 || !Files.isRegularFile(map)) {
      return whole(
          s,
          device,
          what,
          state,
          tool + " failed (exit " + r.exit() + "): " + lastLine(r.output()));
    }
    if (Files.size(map) > MAX_MAP_BYTES) {
      return whole(
          s,
          device,
          what,
          state,
          tool + "'s map is " + Files.size(map) + " bytes, more than clonecast reads");
    }
    DomainMap dm;
    try {
      dm =
          DomainMap.parse(Files.readString(map, StandardCharsets.ISO_8859_1), s.offset(), s.size());
    } catch (MalformedDiskException e) {
      return whole(s, device, what, state, tool + "'s map is malformed: " + e.getMessage());
    }
    if (fs.size() > 0 && dm.covered() < fs.size()) {
      return whole(
          s,
          device,
          what,
          state,
          tool + "'s map covers " + dm.covered() + " bytes of a " + fs.size() + "-byte filesystem");
    }
    for (Filesystem.Range r2 : fs.essential()) {
      Extent need =
          new Extent(s.offset() + r2.offset(), Math.min(r2.length(), s.size() - r2.offset()));
      if (!contains(dm.used(), need)) {
        return whole(
            s,
            device,
            what,
            state,
            tool
                + "'s map leaves out bytes "
                + r2.offset()
                + ".."
                + (r2.end() - 1)
                + " (boot sector, superblock or FATs)");
      }
    }
    if (fs instanceof Filesystem.Ext e
        && dm.usedBytes() < (e.blocks() - e.freeBlocks()) * e.blockSize()) {
      return whole(
          s,
          device,
          what,
          state,
          tool
              + "'s map marks "
              + dm.usedBytes()
              + " bytes used, the superblock counts "
              + (e.blocks() - e.freeBlocks()) * e.blockSize());
    }
    List<Extent> extents = new ArrayList<>(dm.used());
    for (Filesystem.Range r2 : fs.alsoCarry()) {
      if (r2.offset() < s.size()) {
        extents.add(
            new Extent(s.offset() + r2.offset(), Math.min(r2.length(), s.size() - r2.offset())));
      }
    }
    if (dm.covered() < s.size()) {
      // Past the filesystem's end, inside the partition: not the filesystem's, so nobody's map says
      // it is free.
      extents.add(new Extent(s.offset() + dm.covered(), s.size() - dm.covered()));
    }
    long used = AllocationMap.of(s.offset() + s.size(), extents).usedBytes();
    return new Decision(
        s.plan(device, what, state, PartitionPlan.Method.PARTCLONE_MAP, Optional.empty(), used),
        extents);
  }

  /** Whether {@code need} lies inside one of the sorted, merged {@code extents}. */
  private static boolean contains(List<Extent> extents, Extent need) {
    for (Extent e : extents) {
      if (e.offset() <= need.offset() && e.end() >= need.end()) {
        return true;
      }
    }
    return false;
  }

  /**
   * xfs_logprint -t prints "log tail: T head: H state: <CLEAN>" (or <DIRTY>); empty when it cannot
   * tell.
   */
  private Optional<Boolean> xfsLogDirty(String source, Path tmp) throws IOException {
    Optional<Path> tool = find("xfs_logprint");
    if (tool.isEmpty()) {
      return Optional.empty();
    }
    Run r = run(tmp, tool.get().toString(), "-t", source);
    Matcher m = XFS_LOG_STATE.matcher(r.output());
    if (r.timedOut() || r.exit() != 0 || !m.find()) {
      return Optional.empty();
    }
    return Optional.of(m.group(1).equals("DIRTY"));
  }

  /**
   * What an operator runs a repair tool on: the partition's device, or for a disk file a loop
   * device over the partition.
   */
  private static String fixTarget(Path disk, boolean block, Slot s, String device) {
    if (block || s.number() == 0) {
      return block ? device : disk.toString();
    }
    return "$(losetup --find --show --offset "
        + s.offset()
        + " --sizelimit "
        + s.size()
        + " "
        + disk
        + ")";
  }

  private static String fix(Filesystem fs, String device) {
    if (fs instanceof Filesystem.Ext) {
      return "mount it once and unmount it cleanly, or run e2fsck -f "
          + device
          + " on the golden node";
    }
    if (fs instanceof Filesystem.Xfs) {
      return "mount it once and unmount it cleanly (that replays the log; xfs_repair refuses a dirty log)";
    }
    if (fs instanceof Filesystem.Fat) {
      return "run fsck.fat -a " + device + ", or mount it once and unmount it cleanly";
    }
    if (fs instanceof Filesystem.Btrfs) {
      return "mount it once and unmount it cleanly (that replays the log)";
    }
    if (fs instanceof Filesystem.Swap) {
      return "boot the node and shut it down instead of hibernating, or run mkswap on " + device;
    }
    return "check it on the golden node";
  }

  private Optional<Path> partcloneFor(Filesystem fs) {
    List<String> names =
        fs instanceof Filesystem.Ext
            ? List.of("partclone.ext4", "partclone.extfs")
            : fs instanceof Filesystem.Xfs
                ? List.of("partclone.xfs")
                : fs instanceof Filesystem.Fat
                    ? List.of("partclone.vfat", "partclone.fat", "partclone.fat32")
                    : fs instanceof Filesystem.Btrfs ? List.of("partclone.btrfs") : List.of();
    for (String n : names) {
      Optional<Path> p = find(n);
      if (p.isPresent()) {
        return p;
      }
    }
    return Optional.empty();
  }

  private String partcloneMissing(Filesystem fs) {
    if (!warnedPartclone) {
      warnedPartclone = true;
      warnings.add(
          "partclone is not installed, so filesystems are carried whole: apt-get install partclone (the netboot"
              + " environment has it)");
    }
    return "partclone for " + fs.type() + " not installed";
  }

  Optional<Path> find(String tool) {
    for (Path d : settings.toolDirs()) {
      Path p = d.resolve(tool);
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** A finished (or timed-out) command: exit status and combined output. */
  record Run(int exit, boolean timedOut, String output) {}

  /** Runs a command, output to a file in {@code tmp}, for at most the tool timeout. */
  Run run(Path tmp, String... cmd) throws IOException {
    Path out = Files.createTempFile(tmp, "out", ".txt");
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(out.toFile())
            .redirectInput(ProcessBuilder.Redirect.PIPE)
            .start();
    p.getOutputStream().close();
    try {
      if (!p.waitFor(settings.toolTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        return new Run(-1, true, "");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted running " + cmd[0], e);
    }
    byte[] text = Files.readAllBytes(out);
    return new Run(
        p.exitValue(),
        false,
        new String(text, 0, Math.min(text.length, 1 << 20), StandardCharsets.UTF_8));
  }

  private static String lastLine(String output) {
    String[] lines = output.strip().split("\n");
    String last = lines[lines.length - 1].strip();
    return last.length() > 200 ? last.substring(0, 200) + "..." : last;
  }

  private static Decision whole(Slot s, String device, String what, String state, String reason) {
    return new Decision(
        s.plan(device, what, state, PartitionPlan.Method.WHOLE, Optional.of(reason), s.size()),
        List.of(new Extent(s.offset(), s.size())));
  }

  /** The bytes of {@code [0, size)} outside every slot. */
  private static List<Extent> outside(long size, List<Slot> slots) {
    List<Slot> sorted = new ArrayList<>(slots);
    sorted.sort(Comparator.comparingLong(Slot::offset));
    List<Extent> out = new ArrayList<>();
    long at = 0;
    for (Slot s : sorted) {
      if (s.offset() > at) {
        out.add(new Extent(at, s.offset() - at));
      }
      at = Math.max(at, s.offset() + s.size());
    }
    if (at < size) {
      out.add(new Extent(at, size - at));
    }
    return out;
  }

  /**
   * /dev/sda + 2 = /dev/sda2; a name ending in a digit takes a "p": /dev/nvme0n1p2, /dev/loop0p2.
   */
  static String partitionNode(String disk, Slot s) {
    if (s.number() == 0) {
      return disk;
    }
    return disk + (Character.isDigit(disk.charAt(disk.length() - 1)) ? "p" : "") + s.number();
  }

  private static Duration since(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * A read-only view of one partition: its own block device node (checked against sysfs), or a
   * read-only loop device over the disk at the partition's offset, detached on close.
   */
  private record View(String device, Optional<String> loop, DiskAllocation owner)
      implements AutoCloseable {
    static View open(DiskAllocation owner, Path disk, boolean block, Slot s, String node)
        throws IOException {
      if (block && s.number() > 0 && matchesSysfs(node, s)) {
        return new View(node, Optional.empty(), owner);
      }
      if (block && s.number() == 0) {
        return new View(disk.toRealPath().toString(), Optional.empty(), owner);
      }
      Optional<Path> losetup = owner.find("losetup");
      if (losetup.isEmpty()) {
        throw new IOException("losetup not found");
      }
      Path tmp = Files.createTempDirectory("clonecast-losetup");
      try {
        Run r =
            owner.run(
                tmp,
                losetup.get().toString(),
                "--read-only",
                "--find",
                "--show",
                "--offset",
                Long.toString(s.offset()),
                "--sizelimit",
                Long.toString(s.size()),
                disk.toRealPath().toString());
        if (r.timedOut() || r.exit() != 0) {
          throw new IOException("losetup failed: " + lastLine(r.output()));
        }
        String dev = lastLine(r.output());
        if (!dev.startsWith("/dev/")) {
          throw new IOException("losetup printed " + dev);
        }
        return new View(dev, Optional.of(dev), owner);
      } finally {
        deleteTree(tmp);
      }
    }

    private static boolean matchesSysfs(String node, Slot s) {
      Path sys = Path.of("/sys/class/block", Path.of(node).getFileName().toString());
      try {
        return Long.parseLong(Files.readString(sys.resolve("start")).strip()) * 512 == s.offset()
            && Long.parseLong(Files.readString(sys.resolve("size")).strip()) * 512 == s.size();
      } catch (IOException | NumberFormatException e) {
        return false;
      }
    }

    @Override
    public void close() throws IOException {
      if (loop.isEmpty()) {
        return;
      }
      Path tmp = Files.createTempDirectory("clonecast-losetup");
      try {
        Run r = owner.run(tmp, owner.find("losetup").orElseThrow().toString(), "-d", loop.get());
        if (r.timedOut() || r.exit() != 0) {
          throw new IOException("losetup -d " + loop.get() + " failed: " + lastLine(r.output()));
        }
      } finally {
        deleteTree(tmp);
      }
    }
  }
}

package org.clonecast.it.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.clonecast.it.lab.CaptureDisks.Golden;
import org.clonecast.it.lab.CaptureDisks.Part;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The capture fixtures themselves: the golden disk script builds what its manifest says (every
 * filesystem checks clean, every file matches), and the checker finds what a bad clone would get
 * wrong: a changed file, a missing one, an extra one, a swap without its header, a journal that
 * needs recovery. Without this a checker that always passes would pass every capture test.
 */
@LightLane
class CaptureDisksIT {
  private static final Duration TOOL = Duration.ofSeconds(60);
  private static Path repo;

  @BeforeAll
  static void prerequisites() {
    Prereqs.requireRoot();
    Prereqs.require(CaptureDisks.TOOLS.toArray(String[]::new));
    repo = Checkout.repo();
  }

  @Test
  void theGoldenDiskChecksCleanAndTheCheckerFindsEveryKindOfDamage(@TempDir Path work)
      throws Exception {
    Golden golden = CaptureDisks.build(repo, CaptureDisks.QEMU_GOLDEN);
    CaptureDisks.Manifest m = golden.manifest();
    assertEquals(
        List.of("vfat", "ext4", "xfs", "swap"), m.parts().stream().map(Part::type).toList());
    for (Part p : m.parts()) {
      if (!p.type().equals("swap")) {
        assertTrue(m.files().getOrDefault(p.number(), Map.of()).size() > 10, "live files on " + p);
      }
    }
    assertTrue(
        m.files().get(m.part("ext4").number()).containsKey("etc/hostname"),
        "the root has a golden /etc");
    CaptureDisks.assertFaithful(golden.disk(), m, CaptureDisks.NOTHING, work);

    Path copy = golden.copyTo(work.resolve("damaged.img"));
    Part root = m.part("ext4");
    Part data = m.part("xfs");
    String xfsVictim = m.files().get(data.number()).keySet().iterator().next();
    withMounted(
        copy,
        root,
        "ext4",
        mnt -> Files.writeString(mnt.resolve("home/admin/dataset.bin"), "changed"));
    withMounted(
        copy,
        data,
        "xfs",
        mnt -> {
          Files.delete(mnt.resolve(xfsVictim));
          Files.writeString(mnt.resolve("new-file"), "not golden");
        });
    // The swap's signature lives at the end of its first 4 KiB page.
    Exec.check(
        List.of(
            "dd",
            "if=/dev/zero",
            "of=" + copy,
            "bs=4096",
            "count=1",
            "conv=notrunc",
            "seek=" + m.part("swap").start() / 4096),
        null);

    String problems = String.join("\n", CaptureDisks.check(copy, m, CaptureDisks.NOTHING, work));
    assertTrue(
        problems.contains("partition 2 (ext4): home/admin/dataset.bin has SHA-256"), problems);
    assertTrue(problems.contains("partition 3 (xfs): " + xfsVictim + " is missing"), problems);
    assertTrue(
        problems.contains("partition 3 (xfs): new-file is not on the golden disk"), problems);
    assertTrue(problems.contains("partition 4 (swap): blkid finds no swap signature"), problems);
    assertTrue(
        CaptureDisks.check(copy, m, (p, path) -> true, work).stream()
            .noneMatch(s -> s.contains(" SHA-256 ")),
        "what mayDiffer allows is not reported");
  }

  @Test
  void aDirtyJournalIsReported(@TempDir Path work) throws Exception {
    Golden dirty = CaptureDisks.build(repo, CaptureDisks.QEMU_GOLDEN.withDirty("ext4"));
    assertEquals(Set.of(dirty.manifest().part("ext4").number()), dirty.manifest().dirty());
    List<String> problems =
        CaptureDisks.check(dirty.disk(), dirty.manifest(), CaptureDisks.NOTHING, work);
    assertTrue(
        problems.contains("partition 2 (ext4): the journal needs recovery (not cleanly unmounted)"),
        String.join("\n", problems));
  }

  private interface MountedAction {
    void run(Path mnt) throws IOException;
  }

  /** Mounts a partition of {@code disk} read-write, runs {@code action}, unmounts and detaches. */
  private static void withMounted(Path disk, Part p, String type, MountedAction action)
      throws Exception {
    String loop =
        Exec.check(
                List.of(
                    "losetup",
                    "--find",
                    "--show",
                    "--offset",
                    Long.toString(p.start()),
                    "--sizelimit",
                    Long.toString(p.size()),
                    disk.toString()),
                null)
            .strip();
    Path mnt = Files.createTempDirectory("capture-disks-it");
    try {
      Exec.Result r = CaptureDisks.mount(type, "", loop, mnt);
      assertEquals(0, r.exit(), r.output());
      try {
        action.run(mnt);
      } finally {
        CaptureDisks.unmount(mnt);
      }
    } finally {
      Exec.check(List.of("losetup", "-d", loop), null);
      Files.deleteIfExists(mnt);
    }
  }
}

package org.clonecast.common.disk;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.clonecast.common.cli.ProgressBar;
import org.clonecast.protocol.image.AllocationMap;

/**
 * Which bytes of a disk an image carries, and why: the {@link AllocationMap} that image creation
 * takes, plus the decision for every partition and the warnings an operator should see (partclone
 * missing, a damaged table carried whole).
 *
 * <p>Immutable and thread-safe.
 *
 * @param disk the disk as named by the caller
 * @param table "gpt", "mbr", or "none"
 * @param partitions in table order
 * @param map the bytes to carry: everything outside partitions plus each partition's choice
 * @param warnings what made the map larger than it could be, with how to fix it
 * @param elapsed how long planning took (partclone's runs included)
 */
public record DiskPlan(
    String disk,
    String table,
    List<PartitionPlan> partitions,
    AllocationMap map,
    List<String> warnings,
    Duration elapsed) {
  public DiskPlan {
    partitions = List.copyOf(partitions);
    warnings = List.copyOf(warnings);
  }

  /**
   * Bytes outside every partition (tables, alignment gaps where boot loaders live, the GPT backup),
   * all carried.
   */
  public long outsidePartitions() {
    long inside = 0;
    for (PartitionPlan p : partitions) {
      inside += p.size();
    }
    return map.diskSize() - inside;
  }

  /** A few lines of text per disk and partition, for the operator. */
  public String describe() {
    List<String> lines = new ArrayList<>();
    long size = map.diskSize();
    lines.add(
        String.format(
            Locale.ROOT,
            "disk %s: %s, %s, %d partition%s; the image carries %s (%.1f %%), planned in %.1f s",
            disk,
            ProgressBar.bytes(size),
            table.equals("none") ? "no partition table" : table,
            partitions.size(),
            partitions.size() == 1 ? "" : "s",
            ProgressBar.bytes(map.usedBytes()),
            size == 0 ? 0.0 : 100.0 * map.usedBytes() / size,
            elapsed.toMillis() / 1000.0));
    for (PartitionPlan p : partitions) {
      lines.add("  " + p.describe());
    }
    if (outsidePartitions() > 0) {
      lines.add(
          "  outside partitions: "
              + ProgressBar.bytes(outsidePartitions())
              + ", carried (partition tables, boot loader gaps, GPT backup)");
    }
    for (String w : warnings) {
      lines.add("  warning: " + w);
    }
    return String.join("\n", lines);
  }
}

package org.clonecast.agent.disk;

import java.nio.file.Path;
import java.util.Optional;
import org.clonecast.protocol.disk.MalformedDiskException;
import org.clonecast.protocol.disk.PartitionTable;

/**
 * Whether an image fits a disk smaller than itself: every byte it holds must, which its partition
 * table decides. Each partition must end before the disk's end, less the backup GPT's 33 sectors
 * for a GPT (the backup itself is moved there, {@link GptBackup}); what lies past the last
 * partition is free space or the old backup. An image without a partition table is one filesystem
 * spanning all of it, and does not fit. Pure and thread-safe.
 */
public final class DiskFit {
  private DiskFit() {}

  /**
   * Why the image whose first bytes are {@code head} does not fit {@code target} of {@code
   * diskBytes}; empty when it fits.
   *
   * @param head the image's first bytes (its first chunk): the partition table
   */
  public static Optional<String> refusal(
      byte[] head, long imageBytes, long diskBytes, Path target) {
    if (diskBytes >= imageBytes) return Optional.empty();
    String prefix =
        "target " + target + " is too small: " + diskBytes + " bytes, the image is " + imageBytes;
    Optional<PartitionTable> t;
    try {
      t = PartitionTable.parse(head);
    } catch (MalformedDiskException e) {
      return Optional.of(
          prefix + " and its partition table cannot be read (" + e.getMessage() + ")");
    } catch (IndexOutOfBoundsException e) {
      return Optional.of(prefix + " and its partition table does not fit in its first chunk");
    }
    if (t.isEmpty() || t.get().partitions().isEmpty()) {
      return Optional.of(prefix + " and has no partition table: its filesystem spans all of it");
    }
    long tail = t.get().scheme() == PartitionTable.Scheme.GPT ? Target.GPT_BACKUP_BYTES : 0;
    for (PartitionTable.Partition p : t.get().partitions()) {
      if (p.end() > diskBytes - tail) {
        return Optional.of(
            prefix
                + ": its partition "
                + p.number()
                + " ends at byte "
                + p.end()
                + (tail > 0 ? ", and the backup GPT takes " + tail + " more" : "")
                + "; the disk needs at least "
                + (p.end() + tail)
                + " bytes");
      }
    }
    return Optional.empty();
  }
}

package org.clonecast.common.disk;

import java.util.Locale;
import java.util.Optional;
import org.clonecast.common.cli.ProgressBar;

/**
 * What capture decided for one partition: what it holds, in what state, and how the bytes the image
 * carries from it were chosen.
 *
 * <p>Immutable and thread-safe.
 *
 * @param number the partition's number (1-based); 0 for a filesystem on the whole disk
 * @param offset byte offset on the disk
 * @param size bytes
 * @param device where it was read: its block device node, or the disk file and offset
 * @param filesystem what {@code FilesystemProbe} found ("ext4", "swap", "unknown", ...) with its
 *     label
 * @param state "clean", "not clean: REASON", "mounted read-only", "unknown"
 * @param method how its bytes were chosen
 * @param reason why the whole partition is carried ({@link Method#WHOLE}), else empty
 * @param usedBytes bytes of the partition the image carries
 */
public record PartitionPlan(
    int number,
    long offset,
    long size,
    String device,
    String filesystem,
    String state,
    Method method,
    Optional<String> reason,
    long usedBytes) {
  /** How the carried bytes of a partition were chosen. */
  public enum Method {
    /** partclone's domain map of the filesystem's used blocks, validated. */
    PARTCLONE_MAP("partclone map"),
    /** Linux swap: its first page (signature, label, UUID) only. */
    SWAP_HEADER("swap header"),
    /** Every byte. */
    WHOLE("whole partition");

    private final String text;

    Method(String text) {
      this.text = text;
    }

    @Override
    public String toString() {
      return text;
    }
  }

  /** One line for an operator: number, place, filesystem, state, method and bytes carried. */
  public String describe() {
    return String.format(
        Locale.ROOT,
        "%s %s: %s, %s, %s; carries %s of %s",
        number == 0 ? "whole disk" : "partition " + number,
        device,
        filesystem,
        state,
        reason.map(r -> method + " (" + r + ")").orElse(method.toString()),
        ProgressBar.bytes(usedBytes),
        ProgressBar.bytes(size));
  }
}

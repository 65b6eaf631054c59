package org.clonecast.protocol.disk;

import java.util.List;

/**
 * What {@link FilesystemProbe} found at the start of a partition: a filesystem partclone can map
 * (ext2/3/4, xfs, FAT, btrfs), Linux swap, an LVM2 physical volume, or nothing it knows. Each
 * carries what capture needs to decide: whether it is clean, why not, whether its metadata can be
 * trusted for a used-block map, and which of its bytes any map must include.
 *
 * <p>Records; immutable and thread-safe.
 */
public sealed interface Filesystem {
  /** Whether a filesystem was cleanly unmounted, from its own on-disk state. */
  enum Cleanliness {
    CLEAN,
    NOT_CLEAN,
    /** The superblock cannot tell (xfs: the log itself must be read). */
    UNKNOWN
  }

  /**
   * A byte range relative to the partition's start.
   *
   * @param offset first byte
   * @param length bytes, positive
   */
  record Range(long offset, long length) {
    public Range {
      if (offset < 0 || length <= 0 || offset > Long.MAX_VALUE - length) {
        throw new IllegalArgumentException("range at " + offset + " of " + length + " bytes");
      }
    }

    public long end() {
      return offset + length;
    }
  }

  /**
   * Short name as mount(8) and partclone know it: "ext4", "xfs", "vfat", "btrfs", "swap",
   * "LVM2_member", "unknown".
   */
  String type();

  /** Volume label, "" when none. */
  default String label() {
    return "";
  }

  /** Bytes the filesystem spans by its own superblock; 0 when that is not known. */
  default long size() {
    return 0;
  }

  /** Clean, not clean (see {@link #problems}), or not known from its first bytes. */
  default Cleanliness cleanliness() {
    return Cleanliness.UNKNOWN;
  }

  /**
   * Why it is not clean, as an operator reads it ("the journal needs recovery"); empty when clean.
   */
  default List<String> problems() {
    return List.of();
  }

  /**
   * Why its metadata cannot be trusted to say which blocks are used (a checksum mismatch); empty
   * when it can.
   */
  default List<String> untrusted() {
    return List.of();
  }

  /** Ranges any map of its used blocks must include: boot sector, superblock, FATs. */
  default List<Range> essential() {
    return List.of();
  }

  /**
   * Ranges to carry besides the used-block map, where a clone would otherwise keep what its disk
   * held before: btrfs's superblock mirrors, which recovery tools read and pick by generation.
   * Ranges past the partition's end are to be cut by the caller.
   */
  default List<Range> alsoCarry() {
    return List.of();
  }

  /**
   * ext2, ext3 or ext4 (the superblock at byte 1024).
   *
   * @param version 2, 3 (a journal) or 4 (any ext4-only feature)
   * @param blockSize bytes per block
   * @param blocks blocks in the filesystem
   * @param freeBlocks free blocks as the superblock counts them
   * @param label volume name
   * @param uuid filesystem UUID
   * @param cleanlyUnmounted s_state has EXT2_VALID_FS
   * @param errors s_state has EXT2_ERROR_FS
   * @param needsRecovery incompat RECOVER: the journal holds transactions not yet written back
   * @param orphans s_last_orphan is set: inodes deleted while open, not yet freed
   * @param checksumOk the superblock's crc32c matches (true when the filesystem has no
   *     metadata_csum)
   */
  record Ext(
      int version,
      int blockSize,
      long blocks,
      long freeBlocks,
      String label,
      String uuid,
      boolean cleanlyUnmounted,
      boolean errors,
      boolean needsRecovery,
      boolean orphans,
      boolean checksumOk)
      implements Filesystem {
    @Override
    public String type() {
      return "ext" + version;
    }

    @Override
    public long size() {
      return blocks * blockSize;
    }

    @Override
    public Cleanliness cleanliness() {
      return problems().isEmpty() ? Cleanliness.CLEAN : Cleanliness.NOT_CLEAN;
    }

    @Override
    public List<String> problems() {
      return Reasons.when(needsRecovery, "the journal needs recovery")
          .and(errors, "the filesystem has errors")
          .and(!cleanlyUnmounted, "it was not cleanly unmounted")
          .and(orphans, "it has orphan inodes not yet freed")
          .list();
    }

    @Override
    public List<String> untrusted() {
      return checksumOk ? List.of() : List.of(Reasons.BAD_CHECKSUM);
    }

    @Override
    public List<Range> essential() {
      return List.of(new Range(0, 2048)); // boot block and superblock
    }
  }

  /**
   * XFS (the superblock at byte 0). Whether the log is clean is not in the superblock: capture
   * reads the log ({@code xfs_logprint -t}).
   *
   * @param blockSize bytes per block
   * @param blocks data blocks
   * @param sectorSize bytes per sector (the superblock's size)
   * @param label filesystem name
   * @param uuid filesystem UUID
   * @param internalLog the log is inside this filesystem (sb_logstart set), not on another device
   * @param inProgress sb_inprogress: mkfs did not finish
   * @param checksumOk a v5 superblock's crc32c matches (true for v4, which has none)
   */
  record Xfs(
      int blockSize,
      long blocks,
      int sectorSize,
      String label,
      String uuid,
      boolean internalLog,
      boolean inProgress,
      boolean checksumOk)
      implements Filesystem {
    @Override
    public String type() {
      return "xfs";
    }

    @Override
    public long size() {
      return blocks * blockSize;
    }

    @Override
    public Cleanliness cleanliness() {
      return inProgress ? Cleanliness.NOT_CLEAN : Cleanliness.UNKNOWN;
    }

    @Override
    public List<String> problems() {
      return inProgress ? List.of("mkfs.xfs did not finish (sb_inprogress is set)") : List.of();
    }

    @Override
    public List<String> untrusted() {
      return Reasons.when(!checksumOk, Reasons.BAD_CHECKSUM)
          .and(!internalLog, "its log is on another device")
          .list();
    }

    @Override
    public List<Range> essential() {
      return List.of(new Range(0, sectorSize));
    }
  }

  /**
   * FAT12, FAT16 or FAT32 (an EFI System Partition is FAT).
   *
   * @param bits 12, 16 or 32, from the cluster count as the specification decides it
   * @param bytesPerSector sector size
   * @param sectors sectors in the filesystem
   * @param metadataBytes the reserved sectors, the FATs and (FAT12/16) the root directory, from
   *     byte 0
   * @param label volume label from the boot sector
   * @param volumeId serial number, XXXX-XXXX
   * @param dirty the boot sector's "volume dirty" bit (set by Linux while mounted)
   * @param fatDirty FAT[1]'s clean-shutdown bit is clear (Windows' marker; empty FAT12 has none)
   * @param hardError FAT[1]'s no-hard-error bit is clear
   */
  record Fat(
      int bits,
      int bytesPerSector,
      long sectors,
      long metadataBytes,
      String label,
      String volumeId,
      boolean dirty,
      boolean fatDirty,
      boolean hardError)
      implements Filesystem {
    @Override
    public String type() {
      return "vfat";
    }

    @Override
    public long size() {
      return sectors * bytesPerSector;
    }

    @Override
    public Cleanliness cleanliness() {
      return problems().isEmpty() ? Cleanliness.CLEAN : Cleanliness.NOT_CLEAN;
    }

    @Override
    public List<String> problems() {
      return Reasons.when(
              dirty || fatDirty,
              "the FAT" + bits + " volume was not properly unmounted (dirty bit set)")
          .and(hardError, "the FAT" + bits + " volume recorded a disk I/O error")
          .list();
    }

    @Override
    public List<Range> essential() {
      return List.of(new Range(0, metadataBytes));
    }
  }

  /**
   * Btrfs (the primary superblock at byte 65536).
   *
   * @param totalBytes bytes of this filesystem (all its devices)
   * @param bytesUsed bytes in use
   * @param numDevices devices the filesystem spans
   * @param label filesystem label
   * @param uuid filesystem UUID (fsid)
   * @param logTree log_root is set: an fsync log not yet replayed
   * @param checksumOk the superblock's crc32c matches (true for other checksum types, not checked)
   */
  record Btrfs(
      long totalBytes,
      long bytesUsed,
      long numDevices,
      String label,
      String uuid,
      boolean logTree,
      boolean checksumOk)
      implements Filesystem {
    static final int SUPERBLOCK = 64 * 1024;

    @Override
    public String type() {
      return "btrfs";
    }

    @Override
    public long size() {
      return numDevices == 1 ? totalBytes : 0;
    }

    @Override
    public Cleanliness cleanliness() {
      return logTree ? Cleanliness.NOT_CLEAN : Cleanliness.CLEAN;
    }

    @Override
    public List<String> problems() {
      return logTree
          ? List.of("its log tree is not replayed (it was not cleanly unmounted)")
          : List.of();
    }

    @Override
    public List<String> untrusted() {
      return Reasons.when(!checksumOk, Reasons.BAD_CHECKSUM)
          .and(numDevices != 1, "it spans " + numDevices + " devices")
          .list();
    }

    @Override
    public List<Range> essential() {
      return List.of(new Range(SUPERBLOCK, 4096));
    }

    /** The mirrors at 64 MiB and 256 GiB (ctree.h, btrfs_sb_offset). */
    @Override
    public List<Range> alsoCarry() {
      return List.of(new Range(64L << 20, 4096), new Range(256L << 30, 4096));
    }
  }

  /**
   * Linux swap (SWAPSPACE2): only its first page (label, UUID) is worth carrying.
   *
   * @param pageSize where the signature was found plus 10: the header's size
   * @param label swap label
   * @param uuid swap UUID
   * @param hibernated the signature is a hibernation image's, not SWAPSPACE2
   */
  record Swap(int pageSize, String label, String uuid, boolean hibernated) implements Filesystem {
    @Override
    public String type() {
      return "swap";
    }

    @Override
    public Cleanliness cleanliness() {
      return hibernated ? Cleanliness.NOT_CLEAN : Cleanliness.CLEAN;
    }

    @Override
    public List<String> problems() {
      return hibernated
          ? List.of("it holds a hibernation image (the system is hibernated, not shut down)")
          : List.of();
    }

    @Override
    public List<Range> essential() {
      return List.of(new Range(0, pageSize));
    }
  }

  /**
   * An LVM2 physical volume (LABELONE in one of the first four sectors): carried whole.
   *
   * @param uuid PV UUID as LVM prints it (32 characters, dashes left out)
   * @param labelSector the sector holding the label
   */
  record LvmPv(String uuid, int labelSector) implements Filesystem {
    @Override
    public String type() {
      return "LVM2_member";
    }
  }

  /**
   * No signature this probe knows, or more than one (a leftover of an earlier format).
   *
   * @param note what was seen, e.g. "no known signature" or "both ext4 and swap signatures"
   */
  record Unknown(String note) implements Filesystem {
    @Override
    public String type() {
      return "unknown";
    }
  }
}

package org.clonecast.protocol.disk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * Identifies what a partition holds from its first bytes, as blkid does by signatures: ext2/3/4
 * (superblock at 1024, magic 0xEF53), xfs ("XFSB" at 0), FAT12/16/32 (a BIOS parameter block that
 * adds up), btrfs ("_BHRfS_M" in the superblock at 64 KiB), Linux swap ("SWAPSPACE2" at the end of
 * the first page), LVM2 ("LABELONE" in one of the first four sectors). Two signatures at once (a
 * leftover of an earlier mkfs) is {@link Filesystem.Unknown}: capture then carries the whole
 * partition rather than guess.
 *
 * <p>Layouts: ext4 {@code Documentation/filesystems/ext4/super.rst}, xfs {@code xfs_format.h},
 * Microsoft's FAT specification (2005) §3 and §4, btrfs {@code ctree.h}, swap {@code
 * include/linux/swap.h}, LVM2 {@code lib/format_text/layout.h}.
 *
 * <p>Pure: it parses bytes the caller read. Stateless and thread-safe.
 */
public final class FilesystemProbe {
  /**
   * Bytes from the partition's start every probe needs: btrfs's superblock ends at 68 KiB, swap's
   * largest page at 64 KiB.
   */
  public static final int HEAD_BYTES = 128 * 1024;

  private static final int EXT_SB = 1024;
  private static final int EXT_VALID_FS = 0x1;
  private static final int EXT_ERROR_FS = 0x2;
  private static final int EXT_COMPAT_HAS_JOURNAL = 0x4;
  private static final int EXT_INCOMPAT_RECOVER = 0x4;
  private static final int EXT_INCOMPAT_64BIT = 0x80;

  /**
   * Incompat features only ext4 has: extents, 64bit, mmp, flex_bg, ea_inode, dirdata, csum_seed,
   * large_dir, inline_data, encrypt, casefold.
   */
  private static final int EXT4_INCOMPAT =
      0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000;

  /**
   * Ro-compat features only ext4 has: huge_file, gdt_csum, dir_nlink, extra_isize, quota, bigalloc,
   * metadata_csum.
   */
  private static final int EXT4_RO_COMPAT = 0x8 | 0x10 | 0x20 | 0x40 | 0x100 | 0x200 | 0x400;

  private static final int EXT_RO_COMPAT_METADATA_CSUM = 0x400;
  private static final int XFS_SB_VERSION_5 = 5;
  private static final int XFS_SB_CRC = 224;
  private static final int BTRFS_MAGIC = 0x40;
  private static final int BTRFS_CSUM_CRC32C = 0;
  private static final int[] PAGE_SIZES = {4096, 8192, 16384, 65536};

  private FilesystemProbe() {}

  /**
   * What the bytes at a partition's start hold. {@code head} is normally {@link #HEAD_BYTES} long;
   * a shorter one (a small partition) is probed for what fits.
   */
  public static Filesystem probe(byte[] head) {
    List<Filesystem> found = new ArrayList<>();
    try {
      ByteBuffer le = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer be = ByteBuffer.wrap(head).order(ByteOrder.BIG_ENDIAN);
      if (head.length >= EXT_SB + 1024 && le.getShort(EXT_SB + 0x38) == (short) 0xef53) {
        found.add(ext(head, le));
      }
      if (head.length >= 512 && be.getInt(0) == 0x58465342) { // "XFSB"
        found.add(xfs(head, be));
      }
      if (head.length >= 512) {
        Filesystem fat = fat(head, le);
        if (fat != null) {
          found.add(fat);
        }
      }
      int bt = Filesystem.Btrfs.SUPERBLOCK;
      if (head.length >= bt + 4096 && "_BHRfS_M".equals(ascii(head, bt + BTRFS_MAGIC, 8))) {
        found.add(btrfs(head, le));
      }
      Filesystem swap = swap(head, le);
      if (swap != null) {
        found.add(swap);
      }
      Filesystem lvm = lvm(head, le);
      if (lvm != null) {
        found.add(lvm);
      }
    } catch (IndexOutOfBoundsException e) {
      // A field past what was read: the signature matched by chance or the partition is tiny.
      return new Filesystem.Unknown(
          "a signature whose structure is cut short at " + head.length + " bytes");
    }
    if (found.isEmpty()) {
      return new Filesystem.Unknown("no known signature");
    }
    if (found.size() > 1) {
      return new Filesystem.Unknown(
          "signatures of "
              + String.join(" and ", found.stream().map(Filesystem::type).toList())
              + " at once (a leftover of an earlier format)");
    }
    return found.get(0);
  }

  private static Filesystem ext(byte[] head, ByteBuffer b) {
    int s = EXT_SB;
    long blocksLo = Integer.toUnsignedLong(b.getInt(s + 0x4));
    long freeLo = Integer.toUnsignedLong(b.getInt(s + 0xc));
    int logBlock = b.getInt(s + 0x18);
    int state = b.getShort(s + 0x3a) & 0xffff;
    int compat = b.getInt(s + 0x5c);
    int incompat = b.getInt(s + 0x60);
    int roCompat = b.getInt(s + 0x64);
    long lastOrphan = Integer.toUnsignedLong(b.getInt(s + 0xe8));
    if (logBlock < 0 || logBlock > 6) { // 1 KiB .. 64 KiB
      return new Filesystem.Unknown("an ext superblock with block size 2^(10+" + logBlock + ")");
    }
    long blocks = blocksLo;
    long free = freeLo;
    if ((incompat & EXT_INCOMPAT_64BIT) != 0) {
      blocks |= Integer.toUnsignedLong(b.getInt(s + 0x150)) << 32;
      free |= Integer.toUnsignedLong(b.getInt(s + 0x158)) << 32;
    }
    int version =
        (incompat & EXT4_INCOMPAT) != 0 || (roCompat & EXT4_RO_COMPAT) != 0
            ? 4
            : (compat & EXT_COMPAT_HAS_JOURNAL) != 0 ? 3 : 2;
    boolean checksumOk = true;
    if ((roCompat & EXT_RO_COMPAT_METADATA_CSUM) != 0) {
      CRC32C crc = new CRC32C();
      crc.update(head, s, 0x3fc);
      // ext4 stores the raw crc32c (seed ~0, no final inversion); CRC32C inverts at the end.
      long raw = ~crc.getValue() & 0xffffffffL;
      checksumOk = raw == Integer.toUnsignedLong(b.getInt(s + 0x3fc));
    }
    return new Filesystem.Ext(
        version,
        1024 << logBlock,
        blocks,
        free,
        text(head, s + 0x78, 16),
        uuid(head, s + 0x68),
        (state & EXT_VALID_FS) != 0,
        (state & EXT_ERROR_FS) != 0,
        (incompat & EXT_INCOMPAT_RECOVER) != 0,
        lastOrphan != 0,
        checksumOk);
  }

  private static Filesystem xfs(byte[] head, ByteBuffer b) {
    long blockSize = Integer.toUnsignedLong(b.getInt(4));
    long dblocks = b.getLong(8);
    long logStart = b.getLong(48);
    int version = b.getShort(100) & 0xf;
    int sectSize = b.getShort(102) & 0xffff;
    int inProgress = head[126] & 0xff;
    if (blockSize < 512
        || blockSize > 65536
        || Long.bitCount(blockSize) != 1
        || sectSize < 512
        || sectSize > 32768
        || Integer.bitCount(sectSize) != 1
        || dblocks <= 0
        || dblocks > Long.MAX_VALUE / blockSize) {
      return new Filesystem.Unknown(
          "an xfs superblock with block size "
              + blockSize
              + ", sector size "
              + sectSize
              + ", "
              + dblocks
              + " blocks");
    }
    boolean checksumOk = true;
    if (version == XFS_SB_VERSION_5) {
      CRC32C crc = new CRC32C();
      crc.update(head, 0, XFS_SB_CRC);
      crc.update(new byte[4]);
      crc.update(head, XFS_SB_CRC + 4, sectSize - XFS_SB_CRC - 4);
      checksumOk =
          crc.getValue()
              == Integer.toUnsignedLong(
                  ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getInt(XFS_SB_CRC));
    }
    return new Filesystem.Xfs(
        (int) blockSize,
        dblocks,
        sectSize,
        text(head, 108, 12),
        uuid(head, 32),
        logStart != 0,
        inProgress != 0,
        checksumOk);
  }

  /**
   * A FAT boot sector when the BIOS parameter block adds up (Microsoft's FAT specification §3.5),
   * else null.
   */
  private static Filesystem fat(byte[] head, ByteBuffer b) {
    int jump = head[0] & 0xff;
    if (!(jump == 0xeb && (head[2] & 0xff) == 0x90) && jump != 0xe9) {
      return null;
    }
    int bps = b.getShort(11) & 0xffff;
    int spc = head[13] & 0xff;
    int reserved = b.getShort(14) & 0xffff;
    int fats = head[16] & 0xff;
    int rootEntries = b.getShort(17) & 0xffff;
    long totSec = b.getShort(19) & 0xffff;
    int media = head[21] & 0xff;
    long fatSize = b.getShort(22) & 0xffff;
    if (totSec == 0) {
      totSec = Integer.toUnsignedLong(b.getInt(32));
    }
    if (fatSize == 0) {
      fatSize = Integer.toUnsignedLong(b.getInt(36));
    }
    if (bps < 512
        || bps > 4096
        || Integer.bitCount(bps) != 1
        || spc == 0
        || Integer.bitCount(spc) != 1
        || reserved == 0
        || fats == 0
        || fats > 4
        || (media != 0xf0 && media < 0xf8)
        || fatSize == 0
        || totSec == 0) {
      return null; // NTFS, exFAT and boot code have no such BPB
    }
    long rootSectors = ((long) rootEntries * 32 + bps - 1) / bps;
    long metaSectors = reserved + fats * fatSize + rootSectors;
    if (metaSectors >= totSec) {
      return null;
    }
    long clusters = (totSec - metaSectors) / spc;
    int bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
    int ext =
        bits == 32
            ? 0x40
            : 0x24; // extended BPB: drive number, reserved ("state" to Linux), signature, id, label
    boolean dirty = (head[ext + 1] & 0x01) != 0;
    boolean hasExtBpb = (head[ext + 2] & 0xff) == 0x29;
    String volumeId =
        hasExtBpb
            ? String.format(
                Locale.ROOT,
                "%04X-%04X",
                b.getShort(ext + 5) & 0xffff,
                b.getShort(ext + 3) & 0xffff)
            : "";
    String label = hasExtBpb ? text(head, ext + 7, 11).strip() : "";
    boolean fatDirty = false;
    boolean hardError = false;
    long fat1 = (long) reserved * bps;
    if (bits == 16 && fat1 + 4 <= head.length) {
      int e = b.getShort((int) fat1 + 2) & 0xffff;
      fatDirty = (e & 0x8000) == 0;
      hardError = (e & 0x4000) == 0;
    } else if (bits == 32 && fat1 + 8 <= head.length) {
      int e = b.getInt((int) fat1 + 4);
      fatDirty = (e & 0x08000000) == 0;
      hardError = (e & 0x04000000) == 0;
    }
    return new Filesystem.Fat(
        bits, bps, totSec, metaSectors * bps, label, volumeId, dirty, fatDirty, hardError);
  }

  private static Filesystem btrfs(byte[] head, ByteBuffer b) {
    int s = Filesystem.Btrfs.SUPERBLOCK;
    long bytenr = b.getLong(s + 0x30);
    if (bytenr != s) {
      return new Filesystem.Unknown("a btrfs superblock copy for byte " + bytenr + " at byte " + s);
    }
    long logRoot = b.getLong(s + 0x60);
    long total = b.getLong(s + 0x70);
    long used = b.getLong(s + 0x78);
    long devices = b.getLong(s + 0x88);
    int csumType = b.getShort(s + 0xc4) & 0xffff;
    boolean checksumOk = true;
    if (csumType == BTRFS_CSUM_CRC32C) {
      CRC32C crc = new CRC32C();
      crc.update(head, s + 0x20, 4096 - 0x20);
      checksumOk = crc.getValue() == Integer.toUnsignedLong(b.getInt(s));
    }
    return new Filesystem.Btrfs(
        total,
        used,
        devices,
        text(head, s + 0x12b, 256),
        uuid(head, s + 0x20),
        logRoot != 0,
        checksumOk);
  }

  private static Filesystem swap(byte[] head, ByteBuffer b) {
    for (int page : PAGE_SIZES) {
      if (head.length < page) {
        break;
      }
      String sig = ascii(head, page - 10, 10);
      boolean swap = sig.equals("SWAPSPACE2");
      // Hibernation replaces the signature (kernel/power/swap.c; uswsusp writes ULSUSPEND).
      boolean hibernated =
          sig.startsWith("S1SUSPEND")
              || sig.startsWith("S2SUSPEND")
              || sig.startsWith("ULSUSPEND")
              || sig.equals("LINHIB0001");
      if (swap || hibernated) {
        return new Filesystem.Swap(page, text(head, 1052, 16), uuid(head, 1036), hibernated);
      }
    }
    return null;
  }

  private static Filesystem lvm(byte[] head, ByteBuffer b) {
    for (int sector = 0; sector < 4 && (sector + 1) * 512 <= head.length; sector++) {
      int s = sector * 512;
      if ("LABELONE".equals(ascii(head, s, 8))
          && b.getLong(s + 8) == sector
          && "LVM2 001".equals(ascii(head, s + 24, 8))) {
        long pvHeader = Integer.toUnsignedLong(b.getInt(s + 20));
        String uuid =
            pvHeader >= 32 && pvHeader + 32 <= 512 ? ascii(head, s + (int) pvHeader, 32) : "";
        return new Filesystem.LvmPv(uuid, sector);
      }
    }
    return null;
  }

  private static String ascii(byte[] d, int o, int n) {
    return new String(d, o, n, StandardCharsets.ISO_8859_1);
  }

  /**
   * A NUL-padded name; control characters shown as '?' so a hostile label cannot forge log lines.
   */
  private static String text(byte[] d, int o, int n) {
    int len = 0;
    while (len < n && d[o + len] != 0) {
      len++;
    }
    String s = new String(d, o, len, StandardCharsets.UTF_8);
    StringBuilder out = new StringBuilder(s.length());
    s.codePoints().forEach(c -> out.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    return out.toString();
  }

  private static String uuid(byte[] d, int o) {
    StringBuilder s = new StringBuilder(36);
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) {
        s.append('-');
      }
      s.append(String.format(Locale.ROOT, "%02x", d[o + i]));
    }
    return s.toString();
  }
}

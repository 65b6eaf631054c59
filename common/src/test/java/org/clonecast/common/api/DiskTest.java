package org.clonecast.common.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The disks a node reported, as an operator reads them in an error. */
class DiskTest {
  @Test
  void noDisksReadNone() {
    assertEquals("none", Disk.describe(List.of()));
  }

  @Test
  void eachDiskByPathAndSizeRemovableOnesSaySo() {
    assertEquals(
        "/dev/sda 1000 bytes, /dev/sdb 0 bytes removable",
        Disk.describe(
            List.of(
                new Disk("/dev/sda", 1000, false, "QEMU HARDDISK", "1"),
                new Disk("/dev/sdb", 0, true, null, null))));
  }
}

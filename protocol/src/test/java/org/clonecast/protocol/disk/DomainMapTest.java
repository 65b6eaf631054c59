package org.clonecast.protocol.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.clonecast.protocol.image.AllocationMap.Extent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * partclone's domain maps: one it wrote for a real ext4 (committed), one written now, and hostile
 * variants.
 */
class DomainMapTest {
  private static final long MIB = 1L << 20;

  private static String sample() throws IOException {
    try (InputStream in =
        DomainMapTest.class.getResourceAsStream("/golden/disk/ext4-1k.partclone-map")) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void committedPartcloneMapOfA1KibBlockExt4() throws IOException {
    DomainMap m = DomainMap.parse(sample(), MIB, 64 * MIB);
    assertEquals(64 * MIB, m.covered());
    assertEquals(
        List.of(
            new Extent(MIB, 0x448400),
            new Extent(MIB + 0x800400, 0x40800),
            new Extent(MIB + 0x1000400, 0x400000),
            new Extent(MIB + 0x1800400, 0x40800),
            new Extent(MIB + 0x2800400, 0x40800),
            new Extent(MIB + 0x3800400, 0x40800)),
        m.used());
    assertEquals(0x448400 + 4 * 0x40800 + 0x400000, m.usedBytes());
  }

  @Test
  void mapWrittenNowByPartcloneForXfs(@TempDir Path dir) throws IOException {
    DiskTools.require("mkfs.xfs", "partclone.xfs");
    Path fs = DiskTools.sparse(dir, "xfs.img", 320 * MIB);
    DiskTools.run("mkfs.xfs", "-q", "-f", fs.toString());
    Path map = dir.resolve("xfs.map");
    DiskTools.run(
        "partclone.xfs",
        "-D",
        "-q",
        "-s",
        fs.toString(),
        "-o",
        map.toString(),
        "-L",
        dir.resolve("log").toString());
    DomainMap m = DomainMap.parse(Files.readString(map), 0, 320 * MIB);
    assertEquals(320 * MIB, m.covered());
    assertEquals(0, m.used().get(0).offset(), "the superblock is used");
    assertTrue(
        m.usedBytes() > MIB && m.usedBytes() < 100 * MIB, "metadata and the log: " + m.usedBytes());
  }

  @Test
  void adjacentUsedRowsMerge() {
    DomainMap m =
        DomainMap.parse("0x3000 ?\n0x0 0x1000 +\n0x1000 0x1000 +\n0x2000 4096 ?\n", 10, 0x3000);
    assertEquals(List.of(new Extent(10, 0x2000)), m.used());
    assertEquals(0x3000, m.covered());
  }

  @Test
  void hostileMapsAreMalformedWithTheLine() {
    assertMalformed("", "domain map: no current-position line (empty or not a mapfile)");
    assertMalformed(
        "# only comments\n", "domain map: no current-position line (empty or not a mapfile)");
    assertMalformed(
        "0x0 ?\n0x1000 0x1000 +\n", "domain map line 2: row at 0x1000, want 0x0 (a gap)");
    assertMalformed(
        "0x0 ?\n0x0 0x2000 +\n0x1000 0x1000 ?\n",
        "domain map line 3: row at 0x1000, want 0x2000 (an overlap)");
    assertMalformed("0x0 ?\n0x0 0x0 +\n", "domain map line 2: row at 0x0 of size 0");
    assertMalformed(
        "0x0 ?\n0x0 0x20000 +\n",
        "domain map line 2: row 0x0+0x20000 ends past the partition's 65536 bytes");
    assertMalformed(
        "0x0 ?\n0x0 0x1000 -\n", "domain map line 2: status - (partclone writes only + and ?)");
    assertMalformed(
        "0x0 ?\n0x0 0x1000 x\n", "domain map line 2: status \"x\", want one of ? * / - +");
    assertMalformed("0x0 ?\n0x0 0xzz +\n", "domain map line 2: size \"0xzz\" is not a number");
    assertMalformed("0x0 ?\n0x0 -5 +\n", "domain map line 2: size \"-5\" is not a number");
    assertMalformed(
        "0x0 ?\n0x0 0x7fffffffffffffff +\n",
        "domain map line 2: row 0x0+0x7fffffffffffffff ends past the partition's 65536 bytes");
    assertMalformed(
        "0x0 ?\n0x0 0x1000\n", "domain map line 2: want \"pos size status\", got \"0x0 0x1000\"");
    assertMalformed(
        "garbage\n", "domain map line 1: want \"current_pos current_status\", got \"garbage\"");
  }

  @Test
  void everyCutOfTheSampleParsesOrIsMalformed() throws IOException {
    String s = sample();
    for (int n = 0; n <= s.length(); n++) {
      try {
        DomainMap m = DomainMap.parse(s.substring(0, n), 0, 64 * MIB);
        assertTrue(m.covered() <= 64 * MIB);
      } catch (MalformedDiskException expected) {
        assertFalse(expected.getMessage().isEmpty());
      }
    }
  }

  @Property
  void anyTextParsesOrIsMalformed(@ForAll String text) {
    try {
      DomainMap.parse("0x0 ?\n" + text, 0, 64 * MIB);
    } catch (MalformedDiskException expected) {
      assertFalse(expected.getMessage().isEmpty());
    }
  }

  private static void assertMalformed(String text, String message) {
    assertEquals(
        message,
        assertThrows(MalformedDiskException.class, () -> DomainMap.parse(text, 0, 65536))
            .getMessage());
  }
}

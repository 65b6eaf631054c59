package org.clonecast.server.tftp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loaders are copied (links resolved) only when changed; a missing one is not fatal. */
class IpxeLoadersTest {
  @TempDir Path dir;

  @Test
  void copiesResolvedFilesOnlyWhenChanged() throws Exception {
    Path ipxe = Files.createDirectories(dir.resolve("usr-lib-ipxe"));
    Path boot = Files.createDirectories(dir.resolve("boot"));
    Path root = Files.createDirectories(dir.resolve("root"));
    Files.write(ipxe.resolve("undionly.kpxe"), new byte[] {1, 2, 3});
    Files.write(boot.resolve("ipxe.efi"), new byte[] {4, 5});
    Files.createSymbolicLink(
        ipxe.resolve("ipxe.efi"), boot.resolve("ipxe.efi")); // as Debian ships it

    assertEquals(
        List.of("undionly.kpxe", "ipxe.efi"),
        IpxeLoaders.sync(ipxe, root),
        "snponly.efi is missing: skipped");
    assertFalse(
        Files.isSymbolicLink(root.resolve("ipxe.efi")), "the file, not the link out of the root");
    assertArrayEquals(new byte[] {4, 5}, Files.readAllBytes(root.resolve("ipxe.efi")));
    assertFalse(Files.exists(root.resolve("snponly.efi")));

    assertEquals(List.of(), IpxeLoaders.sync(ipxe, root), "nothing changed");
    Files.write(boot.resolve("ipxe.efi"), new byte[] {4, 6});
    assertEquals(List.of("ipxe.efi"), IpxeLoaders.sync(ipxe, root));
    assertArrayEquals(new byte[] {4, 6}, Files.readAllBytes(root.resolve("ipxe.efi")));
    try (var files = Files.list(root)) {
      assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")));
    }
  }
}

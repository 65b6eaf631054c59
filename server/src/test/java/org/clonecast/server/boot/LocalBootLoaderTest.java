package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The EFI local-boot loader: built by Debian's grub-mkimage, and what EFI nodes' scripts chain. */
class LocalBootLoaderTest {
  @Test
  void grubMkimageBuildsAnEfiProgramOnceAndTheConfigSearchesTheRemovablePathFirst(@TempDir Path dir)
      throws Exception {
    List<String> why = new ArrayList<>();
    Path efi =
        LocalBootLoader.ensure(dir, why).orElseThrow(() -> new AssertionError(why.toString()));
    byte[] head = Files.readAllBytes(efi);
    assertEquals('M', head[0], "a PE/COFF image");
    assertEquals('Z', head[1]);
    long built = Files.getLastModifiedTime(efi).toMillis();
    assertEquals(Optional.of(efi), LocalBootLoader.ensure(dir, why), "built once");
    assertEquals(built, Files.getLastModifiedTime(efi).toMillis());
    String cfg = LocalBootLoader.grubConfig();
    assertTrue(cfg.indexOf("/EFI/BOOT/BOOTX64.EFI") < cfg.indexOf("/EFI/debian/grubx64.efi"), cfg);
    assertTrue(
        cfg.contains(
            "search --no-floppy --file --set=root /EFI/BOOT/BOOTX64.EFI\nchainloader /EFI/BOOT/BOOTX64.EFI\nboot\n"),
        cfg);
    assertTrue(
        !cfg.contains("if "), "the rescue parser that runs an embedded config has no 'if': " + cfg);
  }

  @Test
  void efiNodesChainTheLoaderAndFallBackToExitBiosNodesSanbootTheirDisk() {
    String s =
        IpxeScript.bootLocal(
            "node01: booting the local disk",
            Optional.of("http://10.77.0.1:8080/boot/local/localboot-x64.efi"));
    assertEquals(
        "#!ipxe\n"
            + "echo clonecast: node01: booting the local disk\n"
            + "iseq ${platform} efi && chain --autofree http://10.77.0.1:8080/boot/local/localboot-x64.efi ||\n"
            + "iseq ${platform} efi && exit 0 ||\n"
            + "sanboot --no-describe --drive 0x80 || exit 0\n",
        s);
  }
}

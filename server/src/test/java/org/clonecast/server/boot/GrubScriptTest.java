package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The Secure Boot chain's GRUB scripts: what they run, and that no outside text adds a command. */
class GrubScriptTest {
  @Test
  void netbootLoadsTheSignedKernelAndOurInitramfsByTftpWithEveryArgumentQuoted() {
    String s =
        GrubScript.netboot(
            "10.77.0.1",
            "clonecast.server=http://10.77.0.1:8080 clonecast.mac=52:54:00:00:00:0a  console=ttyS0,115200",
            "re-image");
    assertEquals(
        "echo 'clonecast: booting the netboot environment to re-image this node'\n"
            + "linux (tftp,10.77.0.1)/clonecast/bootenv/vmlinuz 'clonecast.server=http://10.77.0.1:8080' 'clonecast.mac=52:54:00:00:00:0a'"
            + " 'console=ttyS0,115200'\n"
            + "initrd (tftp,10.77.0.1)/clonecast/bootenv/initramfs.zst\n"
            + "boot\n"
            + "echo 'clonecast: netboot failed; asking the server again in 10 s'\n",
        s);
  }

  @Test
  void outsideTextStaysOneInertWord() {
    // boot.kernel-args and node names are the admin's, but nothing from them may become GRUB
    // syntax.
    String s =
        GrubScript.netboot("10.77.0.1", "a=$(x) b=';reboot;' c=${prefix}\nchainloader", "re-image");
    assertTrue(s.contains(" 'a=$(x)' 'b='\\'';reboot;'\\''' 'c=${prefix}' 'chainloader'\n"), s);
    assertEquals(5, s.split("\n").length, "no line added: " + s);
    String local = GrubScript.bootLocal("node'01\nreboot\u0007 ${evil}");
    assertTrue(local.startsWith("echo 'clonecast: node'\\''01 reboot  ${evil}'\n"), local);
    assertFalse(local.contains("\nreboot"), local);
    String wait =
        GrubScript.awaitBootenv("x'\nboot", "clonecast node set 52:54:00:00:00:0a --action local");
    assertEquals(2, wait.split("\n").length, wait);
    assertEquals("'it'\\''s'", GrubScript.quote("it's"));
  }

  @Test
  void bootLocalTriesEachLoaderInOrderThenReturnsToTheFirmware() {
    String s =
        GrubScript.bootLocal(
            "node01: booting the local disk",
            List.of("/EFI/BOOT/BOOTX64.EFI", "/EFI/debian/shimx64.efi"));
    assertEquals(
        "echo 'clonecast: node01: booting the local disk'\n"
            + "if search --no-floppy --file --set=root /EFI/BOOT/BOOTX64.EFI; then\n"
            + "  chainloader /EFI/BOOT/BOOTX64.EFI\n"
            + "  boot\n"
            + "fi\n"
            + "if search --no-floppy --file --set=root /EFI/debian/shimx64.efi; then\n"
            + "  chainloader /EFI/debian/shimx64.efi\n"
            + "  boot\n"
            + "fi\n"
            + "echo 'clonecast: no local disk has /EFI/BOOT/BOOTX64.EFI or /EFI/debian/shimx64.efi; give the golden node shim at the"
            + " removable path (docs/bootenv.md) and capture again'\n"
            + "sleep 30\n"
            + "exit\n",
        s);
  }

  @Test
  void theEntryAsksForTheNodesScriptByTftpUntilOneBoots() {
    assertEquals(
        "# clonecast: Debian's signed network GRUB reads this under its built-in prefix /grub (docs/bootenv.md).\n"
            + "# Each node asks the server what to boot; an answer that returns (waiting, a failed netboot) is asked again.\n"
            + "set timeout=0\n"
            + "while [ 1 = 1 ]; do\n"
            + "  source (tftp,10.77.0.1)/clonecast/${net_default_mac}.grub\n"
            + "  sleep 10\n"
            + "done\n",
        GrubScript.entry("10.77.0.1"));
  }
}

package org.clonecast.server.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Optional;
import org.clonecast.protocol.dhcp.Pxe;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.config.BootConfig;
import org.clonecast.server.store.BootAction;
import org.junit.jupiter.api.Test;

class BootFileSelectorTest {
  static final MacAddress MAC = MacAddress.parse("52:54:00:88:00:10");
  static final Optional<String> PXE = Optional.of("PXEClient:Arch:00000:UNDI:002001");
  final BootFileSelector selector =
      new BootFileSelector(
          new BootConfig(
              Path.of("/usr/lib/ipxe"), "snponly.efi", "", true, "undionly.kpxe", "snp-arm64.efi"),
          Ipv4.parse("10.77.0.1"),
          () -> 8080);

  BootFile pick(Pxe.Arch arch, Optional<String> vc, boolean ipxe) {
    return selector.select(arch, vc, ipxe, MAC, BootAction.LOCAL, false).orElseThrow();
  }

  @Test
  void firmwareGetsTheIpxeBinaryOfItsArchitectureOverTftp() {
    assertEquals("undionly.kpxe", pick(Pxe.Arch.BIOS, PXE, false).file());
    assertEquals(
        "undionly.kpxe",
        pick(Pxe.Arch.UNKNOWN, Optional.of("PXEClient"), false).file(),
        "old ROM without 93");
    assertEquals("snponly.efi", pick(Pxe.Arch.EFI_X64, PXE, false).file(), "boot.efi-loader");
    assertEquals("snp-arm64.efi", pick(Pxe.Arch.EFI_ARM64, PXE, false).file(), "boot.arm64-loader");
    BootFile f = pick(Pxe.Arch.EFI_X64, PXE, false);
    assertFalse(f.isUrl());
    assertEquals(Ipv4.parse("10.77.0.1"), f.nextServer());
    assertEquals("PXEClient", f.vendorClass());
  }

  @Test
  void ipxeGetsItsScriptUrlNeverIpxeAgain() {
    for (Pxe.Arch arch : Pxe.Arch.values()) {
      BootFile f = pick(arch, PXE, true);
      assertEquals("http://10.77.0.1:8080/boot/52:54:00:88:00:10.ipxe", f.file(), arch.id());
      assertEquals("PXEClient", f.vendorClass(), "saves iPXE its proxyDHCP wait");
      assertTrue(f.isUrl());
    }
  }

  @Test
  void httpBootGetsAnAbsoluteUrlAndHttpClient() {
    BootFile x64 =
        pick(Pxe.Arch.EFI_X64_HTTP, Optional.of("HTTPClient:Arch:00016:UNDI:003000"), false);
    assertEquals("http://10.77.0.1:8080/boot/files/snponly.efi", x64.file());
    assertEquals("HTTPClient", x64.vendorClass());
    BootFile arm = pick(Pxe.Arch.EFI_ARM64_HTTP, Optional.empty(), false);
    assertEquals("http://10.77.0.1:8080/boot/files/snp-arm64.efi", arm.file());
    assertEquals("HTTPClient", arm.vendorClass());
  }

  @Test
  void architecturesWithoutAnIpxeBinaryGetNothing() {
    assertEquals(
        Optional.empty(),
        selector.select(Pxe.Arch.EFI_IA32, PXE, false, MAC, BootAction.LOCAL, false));
    assertEquals(
        Optional.empty(),
        selector.select(Pxe.Arch.EFI_ARM32, PXE, false, MAC, BootAction.LOCAL, false));
  }

  @Test
  void theReasonSaysWhatTheScriptWillDo() {
    assertTrue(
        selector
            .select(Pxe.Arch.BIOS, PXE, false, MAC, BootAction.REIMAGE, false)
            .orElseThrow()
            .reason()
            .contains("re-image"));
    assertTrue(pick(Pxe.Arch.BIOS, PXE, false).reason().contains("local disk"));
  }
}

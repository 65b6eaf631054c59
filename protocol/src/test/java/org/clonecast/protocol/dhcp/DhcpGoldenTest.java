package org.clonecast.protocol.dhcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.Hex;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.junit.jupiter.api.Test;

/**
 * Golden tests over every DHCP packet of the PXE reference captures: each decodes, its fields are
 * what the firmware and dnsmasq sent, and it encodes back to the same bytes.
 */
class DhcpGoldenTest {
  private static final MacAddress CLIENT = MacAddress.parse("52:54:00:88:00:10");

  static DhcpPacket decode(byte[] b) {
    ByteBuf in = Unpooled.wrappedBuffer(b);
    DhcpPacket p = DhcpPacket.decode(in);
    assertEquals(0, in.readableBytes(), "decode consumes the whole datagram");
    return p;
  }

  static byte[] encode(DhcpPacket p) {
    ByteBuf out = Unpooled.buffer();
    p.encode(out);
    return ByteBufs.toByteArray(out);
  }

  private static DhcpPacket first(String file) {
    return decode(DhcpGoldens.packets(file).get(0));
  }

  @Test
  void theCapturesHoldEveryExchange() {
    assertEquals(
        List.of(
            "full-bios-discover",
            "full-bios-offer",
            "full-bios-request",
            "full-bios-ack",
            "pxelinux-bios-discover",
            "pxelinux-bios-offer",
            "pxelinux-bios-request",
            "pxelinux-bios-ack",
            "full-uefi-discover",
            "full-uefi-offer",
            "full-uefi-request",
            "full-uefi-ack",
            "edk2-uefi-discover",
            "edk2-uefi-offer",
            "edk2-uefi-request",
            "edk2-uefi-ack",
            "proxy-bios-discover",
            "proxy-bios-offer",
            "proxy-bios-request",
            "proxy-bios-ack",
            "proxy-uefi-discover",
            "proxy-uefi-offer",
            "proxy-uefi-request",
            "proxy-uefi-ack",
            "proxy-uefi-request-4011",
            "proxy-uefi-ack-4011",
            "httpboot-uefi-discover",
            "httpboot-uefi-offer",
            "httpboot-uefi-request",
            "httpboot-uefi-ack"),
        List.copyOf(DhcpGoldens.groups().keySet()));
  }

  @Test
  void everyGoldenPacketDecodesAndEncodesToTheSameBytes() {
    List<DhcpGoldens.Named> all = DhcpGoldens.all();
    assertEquals(68, all.size());
    for (DhcpGoldens.Named n : all) {
      DhcpPacket p = decode(n.bytes());
      assertEquals(Hex.toHex(n.bytes()), Hex.toHex(encode(p)), n.id());
      assertEquals(Optional.of(CLIENT), p.mac(), n.id());
      String type = n.group().replace("-4011", "");
      type = type.substring(type.lastIndexOf('-') + 1);
      assertEquals(type, p.messageType().orElseThrow().name().toLowerCase(Locale.ROOT), n.id());
      boolean request = p.op() == Dhcp.BOOTREQUEST;
      assertEquals(request, type.equals("discover") || type.equals("request"), n.id() + " op");
      if (request) {
        assertTrue(Pxe.isBootClient(p), n.id());
        assertTrue(p.octets(Dhcp.OPT_CLIENT_GUID).isPresent(), n.id() + " sends 97");
      }
    }
  }

  @Test
  void seabiosIpxeDiscover() {
    DhcpPacket p = first("full-bios-discover");
    assertEquals(Dhcp.BOOTREQUEST, p.op());
    assertEquals(DhcpPacket.ZERO, p.ciaddr());
    assertEquals(Pxe.Arch.BIOS, Pxe.arch(p));
    assertEquals(Optional.of("PXEClient:Arch:00000:UNDI:002001"), Pxe.vendorClass(p));
    assertTrue(Pxe.isPxeClient(p));
    assertTrue(Pxe.isIpxe(p), "user class iPXE and option 175");
    assertEquals(
        "iPXE",
        new String(p.octets(Dhcp.OPT_USER_CLASS).orElseThrow(), StandardCharsets.ISO_8859_1));
    assertEquals(17, p.octets(Dhcp.OPT_CLIENT_GUID).orElseThrow().length);
    assertEquals(1472, p.option(DhcpOption.MaxMessageSize.class).orElseThrow().size());
    assertTrue(p.requests(Dhcp.OPT_BOOTFILE_NAME));
    assertTrue(p.option(Dhcp.OPT_IPXE_ENCAP).orElseThrow() instanceof DhcpOption.Unknown);
    byte[] clientId = p.octets(Dhcp.OPT_CLIENT_ID).orElseThrow();
    assertEquals(1, clientId[0], "client id type 1 = Ethernet");
  }

  @Test
  void dnsmasqFullOfferCarriesAddressAndBootFile() {
    DhcpPacket p = first("full-bios-offer");
    assertEquals(Dhcp.BOOTREPLY, p.op());
    assertEquals(Ipv4.parse("10.88.0.1"), p.address(Dhcp.OPT_SERVER_ID).orElseThrow());
    assertEquals("10.88.0", p.yiaddr().getHostAddress().substring(0, 7));
    assertEquals(Ipv4.parse("255.255.255.0"), p.address(Dhcp.OPT_SUBNET_MASK).orElseThrow());
    assertTrue(p.option(DhcpOption.Seconds.class).orElseThrow().seconds() > 0);
    assertTrue(p.text(Dhcp.OPT_BOOTFILE_NAME).isPresent());
  }

  @Test
  void edk2DiscoverIsArch7WithoutIpxeMarkers() {
    DhcpPacket p = first("edk2-uefi-discover");
    assertEquals(Pxe.Arch.EFI_X64, Pxe.arch(p));
    assertEquals(7, Pxe.archType(p).getAsInt());
    assertFalse(Pxe.isIpxe(p));
    assertEquals(Optional.of("PXEClient:Arch:00007:UNDI:003000"), Pxe.vendorClass(p));
  }

  @Test
  void proxyOfferHasNoAddressAndDiscoveryControl() {
    DhcpPacket p = first("proxy-bios-offer");
    assertEquals(DhcpPacket.ZERO, p.yiaddr());
    assertEquals(Optional.of("PXEClient"), p.text(Dhcp.OPT_VENDOR_CLASS_ID));
    assertTrue(p.octets(Dhcp.OPT_CLIENT_GUID).isPresent());
    assertTrue(Pxe.discoveryControl(p).isPresent());
    assertFalse(p.fileText().isEmpty(), "dnsmasq's proxy offer names the file in the BOOTP field");
  }

  @Test
  void edk2BootServerRequestAndAckOnPort4011() {
    DhcpPacket req = first("proxy-uefi-request-4011");
    assertFalse(
        DhcpPacket.ZERO.equals(req.ciaddr()), "EDK2 asks the boot server from its new address");
    assertEquals(Pxe.Arch.EFI_X64, Pxe.arch(req));
    DhcpPacket ack = first("proxy-uefi-ack-4011");
    assertEquals(DhcpPacket.ZERO, ack.yiaddr());
    assertFalse(ack.fileText().isEmpty());
    assertFalse(ack.snameText().isEmpty());
    assertArrayEquals(
        req.octets(Dhcp.OPT_CLIENT_GUID).orElseThrow(),
        ack.octets(Dhcp.OPT_CLIENT_GUID).orElseThrow(),
        "97 echoed");
  }

  @Test
  void httpBootOfferEchoesHttpClientWithAUrl() {
    List<byte[]> discovers = DhcpGoldens.packets("httpboot-uefi-discover");
    DhcpPacket http =
        discovers.stream()
            .map(DhcpGoldenTest::decode)
            .filter(Pxe::isHttpClient)
            .findFirst()
            .orElseThrow();
    assertEquals(Pxe.Arch.EFI_X64_HTTP, Pxe.arch(http));
    assertTrue(Pxe.arch(http).httpBoot());
    DhcpPacket offer =
        DhcpGoldens.packets("httpboot-uefi-offer").stream()
            .map(DhcpGoldenTest::decode)
            .filter(o -> o.text(Dhcp.OPT_VENDOR_CLASS_ID).isPresent())
            .findFirst()
            .orElseThrow();
    assertEquals(Optional.of("HTTPClient"), offer.text(Dhcp.OPT_VENDOR_CLASS_ID));
    assertTrue(offer.text(Dhcp.OPT_BOOTFILE_NAME).orElseThrow().startsWith("http://"));
  }
}

package org.clonecast.protocol.dhcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.junit.jupiter.api.Test;

/**
 * jqwik round trips: any packet this module can build decodes to itself; RFC 3396 and overload by
 * hand.
 */
class DhcpRoundTripTest {
  private static final Set<Integer> TYPED =
      Set.of(1, 3, 6, 12, 15, 28, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 66, 67, 93);

  @Provide
  Arbitrary<DhcpPacket> packets() {
    Arbitrary<Inet4Address> addr = Arbitraries.integers().map(Ipv4::fromInt);
    Arbitrary<byte[]> text = Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(300);
    Arbitrary<DhcpOption> option =
        Arbitraries.oneOf(
            Arbitraries.of(DhcpMessageType.class).map(DhcpOption.MessageType::new),
            Combinators.combine(Arbitraries.of(1, 28, 50, 54), addr).as(DhcpOption.Address::new),
            Combinators.combine(Arbitraries.of(3, 6), addr.list().ofMinSize(1).ofMaxSize(70))
                .as(DhcpOption.Addresses::new),
            Combinators.combine(Arbitraries.of(12, 15, 56, 60, 66, 67), text)
                .as((c, t) -> new DhcpOption.Text(c, new String(t, StandardCharsets.ISO_8859_1))),
            Combinators.combine(
                    Arbitraries.of(51, 58, 59), Arbitraries.longs().between(0, 0xFFFF_FFFFL))
                .as(DhcpOption.Seconds::new),
            Arbitraries.integers().between(0, 0xFFFF).map(DhcpOption.MaxMessageSize::new),
            Arbitraries.integers()
                .between(0, 255)
                .list()
                .ofMinSize(1)
                .ofMaxSize(60)
                .map(DhcpOption.ParameterRequestList::new),
            Arbitraries.integers()
                .between(0, 0xFFFF)
                .list()
                .ofMinSize(1)
                .ofMaxSize(4)
                .map(DhcpOption.ClientArch::new),
            Combinators.combine(
                    Arbitraries.integers().between(1, 254).filter(c -> !TYPED.contains(c)), text)
                .as(DhcpOption.Unknown::new));
    // One instance per code: a repeated code would be joined on decode (RFC 3396).
    Arbitrary<List<DhcpOption>> options =
        option.list().ofMaxSize(12).uniqueElements(DhcpOption::code);
    Arbitrary<byte[]> chaddr = Arbitraries.bytes().array(byte[].class).ofSize(16);
    Arbitrary<byte[]> sname = Arbitraries.bytes().array(byte[].class).ofSize(64);
    Arbitrary<byte[]> file = Arbitraries.bytes().array(byte[].class).ofSize(128);
    return Combinators.combine(
            Arbitraries.of(1, 2),
            Arbitraries.integers().between(0, 16),
            Arbitraries.integers(),
            Arbitraries.integers().between(0, 0xFFFF),
            addr.list().ofSize(4),
            chaddr,
            Combinators.combine(sname, file).as(List::of),
            options)
        .as(
            (op, hlen, xid, flags, addrs, ch, sf, opts) ->
                new DhcpPacket(
                    op,
                    1,
                    hlen,
                    0,
                    xid,
                    flags ^ 0x1234,
                    flags,
                    addrs.get(0),
                    addrs.get(1),
                    addrs.get(2),
                    addrs.get(3),
                    ch,
                    sf.get(0),
                    sf.get(1),
                    opts));
  }

  @Property(tries = 1000)
  void decodeOfEncodeIsIdentity(@ForAll("packets") DhcpPacket p) {
    byte[] wire = DhcpGoldenTest.encode(p);
    assertTrue(wire.length >= Dhcp.BOOTP_MIN_LENGTH);
    assertEquals(p, DhcpGoldenTest.decode(wire));
    assertArrayEquals(wire, DhcpGoldenTest.encode(DhcpGoldenTest.decode(wire)));
  }

  @Test
  void longOptionIsSplitAndJoined() {
    byte[] big = new byte[600];
    Arrays.fill(big, (byte) 7);
    DhcpPacket p =
        new DhcpPacketBuilder()
            .type(DhcpMessageType.DISCOVER)
            .option(new DhcpOption.Unknown(200, big))
            .build();
    byte[] wire = DhcpGoldenTest.encode(p);
    assertEquals(240 + 3 + 3 * 2 + 600 + 1, wire.length, "three instances 255 + 255 + 90");
    assertEquals(p, DhcpGoldenTest.decode(wire));
  }

  @Test
  void overloadedFileAndSnameAreReadAsOptions() {
    byte[] wire =
        DhcpGoldenTest.encode(
            new DhcpPacketBuilder()
                .xid(9)
                .mac(MacAddress.parse("02:00:00:00:00:01"))
                .type(DhcpMessageType.DISCOVER)
                .build());
    byte[] b = Arrays.copyOf(wire, 300);
    // main area: 53 DISCOVER, 52 = 3, END; file: 60 "PXEClient"; sname: 12 "node1"
    int o = 240 + 3;
    b[o] = 52;
    b[o + 1] = 1;
    b[o + 2] = 3;
    b[o + 3] = (byte) 255;
    byte[] file = {60, 9, 'P', 'X', 'E', 'C', 'l', 'i', 'e', 'n', 't', (byte) 255};
    System.arraycopy(file, 0, b, 108, file.length);
    byte[] sname = {12, 5, 'n', 'o', 'd', 'e', '1', (byte) 255};
    System.arraycopy(sname, 0, b, 44, sname.length);
    DhcpPacket p = DhcpPacket.decode(Unpooled.wrappedBuffer(b));
    assertEquals(Optional.of("PXEClient"), p.text(Dhcp.OPT_VENDOR_CLASS_ID));
    assertEquals(Optional.of("node1"), p.text(Dhcp.OPT_HOST_NAME));
    assertEquals("", p.fileText());
    assertEquals("", p.snameText());
    assertEquals(
        List.of(53, 60, 12),
        p.options().stream().map(DhcpOption::code).toList(),
        "file before sname (RFC 2131 §4.1)");
  }

  @Test
  void pxeVendorSubOptionsRoundTrip() {
    DhcpPacket p =
        new DhcpPacketBuilder()
            .op(Dhcp.BOOTREPLY)
            .type(DhcpMessageType.OFFER)
            .option(Pxe.useBootFile())
            .build();
    DhcpPacket d = DhcpGoldenTest.decode(DhcpGoldenTest.encode(p));
    assertEquals(8, Pxe.discoveryControl(d).getAsInt());
    Map<Integer, byte[]> subs = Pxe.subOptions(d.octets(Dhcp.OPT_VENDOR_SPECIFIC).orElseThrow());
    assertEquals(Set.of(6), subs.keySet());
  }

  @Test
  void archMapping() {
    assertEquals(Pxe.Arch.BIOS, Pxe.Arch.of(0));
    assertEquals(Pxe.Arch.EFI_IA32, Pxe.Arch.of(6));
    assertEquals(Pxe.Arch.EFI_X64, Pxe.Arch.of(7));
    assertEquals(Pxe.Arch.EFI_X64, Pxe.Arch.of(9));
    assertEquals(Pxe.Arch.EFI_ARM32, Pxe.Arch.of(10));
    assertEquals(Pxe.Arch.EFI_ARM64, Pxe.Arch.of(11));
    assertEquals(Pxe.Arch.EFI_X64_HTTP, Pxe.Arch.of(16));
    assertEquals(Pxe.Arch.EFI_ARM64_HTTP, Pxe.Arch.of(19));
    assertEquals(Pxe.Arch.UNKNOWN, Pxe.Arch.of(2));
    // no option 93: the vendor class's Arch field decides
    DhcpPacket p =
        new DhcpPacketBuilder()
            .type(DhcpMessageType.DISCOVER)
            .option(new DhcpOption.Text(60, "PXEClient:Arch:00011:UNDI:003000"))
            .build();
    assertEquals(Pxe.Arch.EFI_ARM64, Pxe.arch(p));
    List<DhcpOption> none = new ArrayList<>();
    assertEquals(Pxe.Arch.UNKNOWN, Pxe.arch(new DhcpPacketBuilder().build()));
    assertTrue(none.isEmpty());
  }
}

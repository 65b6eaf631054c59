package org.clonecast.server.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.dhcp.DhcpMessageType;
import org.clonecast.protocol.dhcp.DhcpOption;
import org.clonecast.protocol.dhcp.DhcpPacket;
import org.clonecast.protocol.dhcp.Pxe;
import org.clonecast.protocol.testutil.Golden;
import org.clonecast.protocol.testutil.Pcap.Udp;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.server.boot.BootFileSelector;
import org.clonecast.server.config.BootConfig;
import org.clonecast.server.config.DhcpConfig;
import org.clonecast.server.store.BootAction;
import org.clonecast.server.store.Node;
import org.clonecast.server.store.NodeState;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The DHCP decision over the captured PXE exchanges (docs/ref/captures.md: SeaBIOS and OVMF with
 * iPXE, EDK2's own PXE, pxelinux, proxyDHCP and UEFI HTTP boot, against dnsmasq at 10.88.0.1):
 * every request the firmware sent goes through {@link DhcpResponder#handle} in capture order, in
 * full mode for the full-DHCP captures and proxy mode for the proxyDHCP ones, with the client's MAC
 * reserved the address dnsmasq gave it. We answer exactly the requests dnsmasq answered, with the
 * same message type, transaction, client and address, and with the boot file and PXE options the
 * client's firmware needs (docs/dhcp.md, "Boot selection"). Pure: no socket, no database.
 */
class DhcpDecisionGoldenTest {
  static final Inet4Address SELF = Ipv4.parse("10.88.0.1");
  static final MacAddress MAC = MacAddress.parse("52:54:00:88:00:10");
  static final String SCRIPT = "http://10.88.0.1:8080/boot/52:54:00:88:00:10.ipxe";
  static final long NOW = 1_700_000_000_000L;

  /** One captured datagram, decoded. */
  record Datagram(Udp udp, DhcpPacket packet) {
    Inet4Address src() {
      return Ipv4.fromInt(udp.src());
    }

    boolean bootPort() {
      return udp.dstPort() == PXE_PORT || udp.srcPort() == PXE_PORT;
    }

    boolean request() {
      return packet.op() == BOOTREQUEST;
    }
  }

  static List<Datagram> dhcp(String capture) {
    List<Datagram> out = new ArrayList<>();
    for (Udp u : Golden.udp("pxe", capture)) {
      boolean dhcpPorts =
          List.of(SERVER_PORT, CLIENT_PORT, PXE_PORT).contains(u.srcPort())
              && List.of(SERVER_PORT, CLIENT_PORT, PXE_PORT).contains(u.dstPort());
      if (dhcpPorts) {
        out.add(new Datagram(u, DhcpPacket.decode(Unpooled.wrappedBuffer(u.payload()))));
      }
    }
    return out;
  }

  /**
   * What dnsmasq at 10.88.0.1 answered to request {@code i}, if anything: its first reply to that
   * transaction and port before the client moved on to another message. Firmware repeats a DISCOVER
   * before the first OFFER arrives, so a repeat does not end the search.
   */
  static Optional<DhcpPacket> capturedReply(List<Datagram> all, int i) {
    Datagram req = all.get(i);
    for (Datagram d : all.subList(i + 1, all.size())) {
      if (d.request()
          && !(d.packet().xid() == req.packet().xid()
              && d.bootPort() == req.bootPort()
              && d.packet().messageType().equals(req.packet().messageType()))) {
        return Optional.empty();
      }
      if (!d.request()
          && d.src().equals(SELF)
          && d.packet().xid() == req.packet().xid()
          && d.bootPort() == req.bootPort()) {
        return Optional.of(d.packet());
      }
    }
    return Optional.empty();
  }

  static DhcpResponder responder(DhcpConfig.Mode mode) {
    DhcpConfig config =
        new DhcpConfig(
            mode,
            mode == DhcpConfig.Mode.FULL
                ? Optional.of(
                    new DhcpConfig.Range(Ipv4.parse("10.88.0.100"), Ipv4.parse("10.88.0.200")))
                : Optional.empty(),
            3600,
            Optional.empty(),
            List.of(),
            Optional.empty(),
            67,
            4011,
            List.of());
    BootConfig boot =
        new BootConfig(
            Path.of("/usr/lib/ipxe"), "ipxe.efi", "", true, "undionly.kpxe", "snp-arm64.efi");
    return new DhcpResponder(
        config, SELF, 24, new BootFileSelector(boot, SELF, () -> 8080), List.of());
  }

  /** The client as a discovered node with the address dnsmasq gave it reserved. */
  static Inventory inventory(List<Datagram> all) {
    Optional<Inet4Address> given =
        all.stream()
            .filter(d -> !d.request() && d.src().equals(SELF))
            .map(d -> d.packet().yiaddr())
            .filter(a -> Ipv4.toInt(a) != 0)
            .findFirst();
    return Inventory.of(
        List.of(
            new Node(
                MAC,
                Optional.empty(),
                Optional.empty(),
                BootAction.LOCAL,
                NodeState.DISCOVERED,
                Optional.empty(),
                Optional.empty(),
                Optional.empty(),
                0,
                0,
                given.map(Inet4Address::getHostAddress),
                Optional.empty(),
                Optional.empty())));
  }

  /** The file the firmware that sent {@code req} is handed (docs/dhcp.md, "Boot selection"). */
  static String expectedFile(DhcpPacket req) {
    if (Pxe.isIpxe(req)) {
      return SCRIPT;
    }
    return switch (Pxe.arch(req)) {
      case BIOS -> "undionly.kpxe";
      case EFI_X64 -> "ipxe.efi";
      case EFI_X64_HTTP -> "http://10.88.0.1:8080/boot/files/ipxe.efi";
      default -> throw new AssertionError("no capture has " + Pxe.arch(req));
    };
  }

  /** One answered request: what the client sent, what dnsmasq and we answered. */
  record Answer(String what, Datagram request, DhcpPacket theirs, DhcpResponder.Result ours) {
    DhcpPacket reply() {
      return ours.reply().orElseThrow().packet();
    }

    InetSocketAddress from() {
      return new InetSocketAddress(request.src(), request.udp().srcPort());
    }
  }

  /**
   * Replays every request of {@code capture} through one responder in capture order, checks that we
   * answer exactly the requests dnsmasq answered and the fields every reply shares with dnsmasq's,
   * and returns the answered ones.
   */
  static List<Answer> replay(String capture, DhcpConfig.Mode mode, Inventory inventory) {
    List<Datagram> all = dhcp(capture);
    DhcpResponder r = responder(mode);
    List<Answer> out = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      Datagram req = all.get(i);
      if (!req.request()) {
        continue;
      }
      String what = capture + " frame " + (req.udp().frame() + 1);
      Optional<DhcpPacket> theirs = capturedReply(all, i);
      DhcpResponder.Result result =
          r.handle(
              req.packet(),
              new InetSocketAddress(req.src(), req.udp().srcPort()),
              req.bootPort(),
              inventory,
              NOW + i);
      assertEquals(theirs.isPresent(), result.reply().isPresent(), what + ": " + result.ignored());
      if (theirs.isPresent()) {
        Answer a = new Answer(what, req, theirs.get(), result);
        assertCommon(what, req.packet(), a.theirs(), a.reply());
        out.add(a);
      }
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"full-bios", "pxelinux-bios", "full-uefi", "edk2-uefi", "httpboot-uefi"})
  void fullModeAnswersWhatDnsmasqAnswered(String capture) {
    List<Answer> answers = replay(capture, DhcpConfig.Mode.FULL, inventory(dhcp(capture)));
    for (Answer a : answers) {
      String what = a.what();
      DhcpPacket ours = a.reply();
      assertEquals(a.theirs().yiaddr(), ours.yiaddr(), what + " yiaddr");
      assertEquals(a.theirs().address(OPT_SUBNET_MASK), ours.address(OPT_SUBNET_MASK), what + " 1");
      assertEquals(
          Optional.of(3600L),
          ours.option(DhcpOption.Seconds.class).map(DhcpOption.Seconds::seconds),
          what + " 51");
      assertEquals(
          new InetSocketAddress(Ipv4.fromInt(-1), CLIENT_PORT),
          a.ours().reply().get().to(),
          what + " broadcast");
      boolean bound = ours.messageType().equals(Optional.of(DhcpMessageType.ACK));
      assertEquals(
          List.of(
              new DhcpResponder.Seen(
                  MAC,
                  Optional.of(Pxe.arch(a.request().packet()).id()),
                  bound ? Optional.of(ours.yiaddr()) : Optional.empty())),
          a.ours().seen(),
          what + " seen");
      List<Lease> changes = a.ours().changes();
      assertEquals(
          bound,
          !changes.isEmpty() && changes.get(0).state() == Lease.State.BOUND,
          what + " lease");
    }
    assertTrue(answers.size() >= 2, capture + ": " + answers.size() + " answers");
  }

  @ParameterizedTest
  @ValueSource(strings = {"proxy-bios", "proxy-uefi"})
  void proxyModeAnswersWhatTheProxyAnswered(String capture) {
    List<Answer> answers = replay(capture, DhcpConfig.Mode.PROXY, Inventory.of(List.of()));
    for (Answer a : answers) {
      String what = a.what();
      DhcpPacket ours = a.reply();
      DhcpPacket p = a.request().packet();
      assertEquals(DhcpPacket.ZERO, ours.yiaddr(), what + ": a proxy gives no address");
      assertEquals(Optional.empty(), ours.option(OPT_LEASE_TIME), what + " 51");
      assertArrayEquals(
          p.octets(OPT_CLIENT_GUID).orElseThrow(),
          ours.octets(OPT_CLIENT_GUID).orElseThrow(),
          what + " 97 echoed");
      assertEquals(
          Pxe.arch(p) == Pxe.Arch.BIOS && !Pxe.isIpxe(p),
          Pxe.discoveryControl(ours).isPresent(),
          what + " 43 for BIOS PXE ROMs only");
      InetSocketAddress to = a.ours().reply().get().to();
      if (a.request().bootPort()) {
        assertEquals(p.ciaddr(), ours.ciaddr(), what + " ciaddr");
        assertEquals(a.from(), to, what + ": the boot server answers the sender");
        assertFalse(ours.snameText().isEmpty(), what + " sname");
      } else {
        assertEquals(new InetSocketAddress(Ipv4.fromInt(-1), CLIENT_PORT), to, what);
      }
      assertTrue(a.ours().changes().isEmpty(), what + ": no lease");
      assertEquals(MAC, a.ours().seen().get(0).mac(), what + " seen");
    }
    assertTrue(
        answers.stream().anyMatch(a -> a.request().bootPort()) == capture.equals("proxy-uefi"),
        capture + ": the 4011 step");
    assertTrue(answers.size() >= 2, capture + ": " + answers.size() + " answers");
  }

  /** Fields every reply shares with dnsmasq's, and the boot file for the client's firmware. */
  static void assertCommon(String what, DhcpPacket req, DhcpPacket theirs, DhcpPacket ours) {
    assertEquals(BOOTREPLY, ours.op(), what);
    assertEquals(theirs.messageType(), ours.messageType(), what + " type");
    assertEquals(req.xid(), ours.xid(), what + " xid");
    assertEquals(Optional.of(MAC), ours.mac(), what + " chaddr");
    assertEquals(req.flags(), ours.flags(), what + " flags");
    assertEquals(theirs.address(OPT_SERVER_ID), ours.address(OPT_SERVER_ID), what + " 54");
    assertEquals(theirs.siaddr(), ours.siaddr(), what + " siaddr");
    String vendor =
        Pxe.arch(req).httpBoot() || Pxe.isHttpClient(req) ? Pxe.HTTP_CLIENT : Pxe.PXE_CLIENT;
    assertEquals(Optional.of(vendor), ours.text(OPT_VENDOR_CLASS_ID), what + " 60");
    // dnsmasq sends 60 only where the client needs it (proxy, HTTP boot); we always do.
    theirs
        .text(OPT_VENDOR_CLASS_ID)
        .ifPresent(v -> assertEquals(v, vendor, what + " 60 as dnsmasq's"));
    assertEquals(
        expectedFile(req),
        ours.text(OPT_BOOTFILE_NAME).orElse(ours.fileText()),
        what + " boot file");
  }
}
